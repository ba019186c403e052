"""Names and short texts people type (display names, key labels, policy names, an applicant's
categories and hashes): one rule for the API's pydantic types, the services and the console.

A name is normalised to NFC (the same word typed on two keyboards is the same text: `é` precomposed
or `e` + combining accent) and refused, naming the field, when it contains:
  - a control character (C0, DEL, C1: a CR/LF in a name ends up in logs, CSV exports and headers),
    or a line/paragraph separator (U+2028, U+2029);
  - a zero-width character (U+200B-U+200D, U+2060, U+FEFF): two names that look the same would differ;
  - a bidirectional mark, embedding, override or isolate (U+200E, U+200F, U+061C, U+202A-U+202E,
    U+2066-U+2069): they reorder what a reader sees ("Trojan Source"), e.g. a name that reads as
    another person's in the console or in the audit report.
Pure functions, no lendstack imports (every layer may use it)."""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, StrictStr

from lendstack.errors import LendstackError

ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff")
BIDI_CONTROLS = frozenset("\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
SEPARATORS = frozenset("\u2028\u2029")
TEXT_LENGTH_MAX = 10_000  # a bound on what is scanned; each field has its own, smaller maximum


class TextError(LendstackError):
    """A text field breaks the rule; names the field."""


def forbidden_character(value: str) -> str | None:
    """The first character the rule refuses, described (e.g. "U+202E RIGHT-TO-LEFT OVERRIDE"), or None."""
    assert len(value) <= TEXT_LENGTH_MAX, "the caller bounds the length first"
    for char in value:
        if char in ZERO_WIDTH or char in BIDI_CONTROLS or char in SEPARATORS or unicodedata.category(char) == "Cc":
            return f"U+{ord(char):04X} {unicodedata.name(char, 'control character')}"
    return None


def problem_with(value: str) -> tuple[str, str] | None:
    """(the NFC text, '') if `value` is acceptable, else (value, why) - for callers with their own errors."""
    if len(value) > TEXT_LENGTH_MAX:
        return value, f"must be at most {TEXT_LENGTH_MAX} characters"
    normalized = unicodedata.normalize("NFC", value)
    found = forbidden_character(normalized)
    if found is not None:
        return value, f"must not contain control, zero-width or bidirectional-override characters ({found})"
    return None


def clean_name(value: str, *, field: str, length_max: int, required: bool = False) -> str:
    """`value` in NFC, or TextError naming `field` (bad characters, too long, or empty when required)."""
    assert 0 < length_max <= TEXT_LENGTH_MAX
    if len(value) > length_max:
        raise TextError(field, f"must be at most {length_max} characters")
    problem = problem_with(value)
    if problem is not None:
        raise TextError(field, problem[1])
    normalized = unicodedata.normalize("NFC", value)
    if required and not normalized.strip():
        raise TextError(field, "must not be empty")
    return normalized


def _checked(value: str) -> str:
    # pydantic adds the field's location to the ValueError: the API answers 422 naming it.
    problem = problem_with(value)
    if problem is not None:
        raise ValueError(problem[1])
    return unicodedata.normalize("NFC", value)


# For pydantic models: Annotated[CleanText, Field(min_length=..., max_length=...)]. CleanText is strict
# (the API: JSON text only); CleanName takes what a lax model takes (YAML files: products, policies).
CleanText = Annotated[StrictStr, AfterValidator(_checked)]
CleanName = Annotated[str, AfterValidator(_checked)]
