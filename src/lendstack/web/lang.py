"""i18n: every string a person sees comes from web/i18n/<lang>.yaml via t(key).

The catalogs are flat maps of dotted keys to text ("nav.loans": "Loans"); a key may take
str.format parameters ("{count} loans"). A language's catalog is `i18n/<lang>.yaml` plus every
`i18n/<lang>/*.yaml` (one file per area of the console, so areas grow apart); a key defined in two
files is refused. The language is the `ls_lang` cookie (set by the switch
link) when valid, else the best match in Accept-Language, else English. A test checks that both
catalogs have exactly the same keys and that every key a template uses exists."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

from starlette.requests import Request

from lendstack.documents import load_mapping

LANGUAGES = ("en", "zh-CN")
DEFAULT_LANGUAGE = "en"
LANG_COOKIE = "ls_lang"
CATALOG_DIR = Path(__file__).parent / "i18n"
ACCEPT_LANGUAGE_ITEMS_MAX = 20  # a header is parsed only this far

Translate = Callable[..., str]


@cache
def catalog(language: str) -> dict[str, str]:
    assert language in LANGUAGES, f"unknown language {language!r}"
    # Read as every config document is: safe YAML, bounded, and a key written twice is refused
    # rather than silently overriding the first (load_mapping also refuses anything but a mapping).
    merged: dict[str, str] = {}
    for path in catalog_files(language):
        for key, value in load_mapping(path).items():
            if str(key) in merged:
                raise ValueError(f"{path}: key {key!r} is already defined in another {language} catalog file")
            merged[str(key)] = str(value)
    return merged


def catalog_files(language: str) -> list[Path]:
    """The files of one language's catalog: the main one first, then the areas' by name."""
    assert language in LANGUAGES, f"unknown language {language!r}"
    return [CATALOG_DIR / f"{language}.yaml", *sorted((CATALOG_DIR / language).glob("*.yaml"))]


def translate(language: str, key: str, **params: object) -> str:
    """The text for `key`; English when the language lacks it, the key itself when both do (the
    catalog test makes that a test failure rather than a blank on the page)."""
    text = catalog(language).get(key) or catalog(DEFAULT_LANGUAGE).get(key) or key
    return text.format(**params) if params else text


def translator(language: str) -> Translate:
    def t(key: str, **params: object) -> str:
        return translate(language, key, **params)

    return t


def _from_accept_language(header: str) -> str | None:
    weighted: list[tuple[float, int, str]] = []
    for index, item in enumerate(header.split(",")[:ACCEPT_LANGUAGE_ITEMS_MAX]):
        tag, _, q = item.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            continue
        primary = tag.strip().lower().split("-")[0]
        found = {"zh": "zh-CN", "en": "en"}.get(primary)
        if found is not None and weight > 0:
            weighted.append((-weight, index, found))
    return min(weighted)[2] if weighted else None


def language_of(request: Request) -> str:
    chosen = request.cookies.get(LANG_COOKIE, "")
    if chosen in LANGUAGES:
        return chosen
    return _from_accept_language(request.headers.get("accept-language", "")) or DEFAULT_LANGUAGE
