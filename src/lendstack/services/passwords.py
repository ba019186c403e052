"""The staff password rule: long enough, and not one of the passwords an attacker tries first.

Length alone lets `aaaaaaaaaaaa`, `123456789012` or `passwordpassword` through; an online guesser
(or anyone holding a copy of the hashes) tries exactly those first. So a password is refused when:
  - it is shorter than PASSWORD_LENGTH_MIN or longer than PASSWORD_LENGTH_MAX characters;
  - it has fewer than DISTINCT_CHARACTERS_MIN different characters (`abcabcabcabc`);
  - it is one short unit repeated (`passwordpassword`, `ab12ab12ab12`);
  - it is made of at most SEQUENCE_RUNS_MAX runs of consecutive or repeated characters, alphabetic,
    numeric or along a keyboard row (`123456789012`, `abcdefgh1234`, `qwertyuiop12`);
  - it is a common password or stem (package data `data/common_passwords.txt`, written by hand from
    the well-known patterns; no download), ignoring case, separators, digits and symbols around it
    and the usual look-alike substitutions (`P@ssw0rd-2024!` is `password`);
  - it contains the username and what remains would fail the rules above (`alice-alice-12`).

Pure functions; the messages name no secret and are the same in every check order."""

from __future__ import annotations

import itertools
import re
from functools import cache
from importlib import resources

from lendstack.errors import LendstackError

PASSWORD_LENGTH_MIN = 12
PASSWORD_LENGTH_MAX = 256  # argon2 takes any length; a cap keeps one login from costing a lot of hashing
DISTINCT_CHARACTERS_MIN = 5
SEQUENCE_RUNS_MAX = 3
REMAINDER_LENGTH_MIN = 8  # what is left once the username is taken out
COMMON_PASSWORDS_MAX = 100_000  # a bound on the package file

# Character orders people walk along: alphabet, digits (9 → 0 wraps, as on the keyboard), keyboard rows.
_WALKS = ("abcdefghijklmnopqrstuvwxyz", "01234567890", "1234567890-=", "qwertyuiop[]", "asdfghjkl;'", "zxcvbnm,./")
_NEIGHBOURS: dict[str, frozenset[str]] = {}
for _walk in _WALKS:
    for _i, _char in enumerate(_walk):
        _near = {_walk[j] for j in (_i - 1, _i + 1) if 0 <= j < len(_walk)}
        _NEIGHBOURS[_char] = _NEIGHBOURS.get(_char, frozenset()) | _near
_LOOKALIKES = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s",
                             "!": "i", "|": "l", "+": "t"})
_SEPARATORS = re.compile(r"[\s._\-]+")
_AROUND = re.compile(r"^[^a-z]+|[^a-z]+$")  # digits and symbols before and after the stem


class PasswordRefused(LendstackError):
    """The password breaks the rule; `message` says which part (never echoes the password)."""

    def __init__(self, message: str) -> None:
        super().__init__("password", message)


@cache
def common_passwords() -> frozenset[str]:
    text = resources.files("lendstack.services").joinpath("data/common_passwords.txt").read_text("utf-8")
    words = frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))
    assert 0 < len(words) <= COMMON_PASSWORDS_MAX
    return words


def check_password(password: str, *, username: str = "") -> None:
    """Raise PasswordRefused unless `password` passes every rule in the module docstring."""
    if len(password) < PASSWORD_LENGTH_MIN:
        raise PasswordRefused(f"must be at least {PASSWORD_LENGTH_MIN} characters")
    if len(password) > PASSWORD_LENGTH_MAX:
        raise PasswordRefused(f"must be at most {PASSWORD_LENGTH_MAX} characters")
    weakness = _weakness(password.casefold())
    if weakness:
        raise PasswordRefused(weakness)
    name = username.strip().casefold()
    if len(name) >= 3 and name in password.casefold():
        remainder = password.casefold().replace(name, "")
        if len(remainder) < REMAINDER_LENGTH_MIN or _weakness(remainder):
            raise PasswordRefused("must not be built on the username")


def _weakness(text: str) -> str:
    """Why `text` (case-folded) is weak, or '' if it is not."""
    if len(set(text)) < DISTINCT_CHARACTERS_MIN:
        return f"must have at least {DISTINCT_CHARACTERS_MIN} different characters"
    if _repeated_unit(text):
        return "must not be a short part repeated"
    if _runs(text) <= SEQUENCE_RUNS_MAX:
        return "must not be a run of consecutive characters (alphabet, digits or a keyboard row)"
    if _common(text):
        return "is too common (a password attackers try first)"
    return ""


def _repeated_unit(text: str) -> bool:
    """`text` is some unit of at most half its length repeated (the last copy may be cut short)."""
    for size in range(1, len(text) // 2 + 1):
        unit = text[:size]
        if (unit * (len(text) // size + 1))[: len(text)] == text:
            return True
    return False


def _runs(text: str) -> int:
    """How many runs of repeated or neighbouring characters `text` is made of."""
    breaks = sum(1 for a, b in itertools.pairwise(text) if a != b and b not in _NEIGHBOURS.get(a, ()))
    return breaks + 1


def _common(text: str) -> bool:
    words = common_passwords()
    candidates = set()
    for form in (text, _SEPARATORS.sub("", text)):
        stem = _AROUND.sub("", form)  # digits and symbols around first: `password2024!` is `password`
        candidates |= {form, stem, stem.translate(_LOOKALIKES), _AROUND.sub("", form.translate(_LOOKALIKES))}
    return any(c in words for c in candidates if c)
