"""One error model for everything a user can get wrong.

Every error a user (a borrower, a partner's client, a staff member, an operator at the CLI) can
cause is a `LendstackError`: it names the field it is about, says what is wrong in a sentence, and
has a `kind`. The shells translate the kind in one table each — the API to an HTTP status
(`api/problems.py`), the CLI to an exit code (`cli/output.py`) — and nothing else: no status is
derived from the wording of a message.

Anything that is not a `LendstackError` is a bug: the API answers 500 and the CLI exits 1, each
with an error id that is also in the log, never dressed as bad input.

`LendstackError` is a `ValueError` so that code written against the older per-package errors keeps
working; catch `LendstackError`, not `ValueError`, to tell a user's mistake from a bug.

This module is a leaf: it imports nothing from lendstack, so money and every other package may
use it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class ErrorKind(StrEnum):
    INVALID = "invalid"  # the input breaks a rule: fix the named field and retry
    NOT_FOUND = "not_found"  # the named id does not exist (or is not yours to see)
    CONFLICT = "conflict"  # the input is fine but the state forbids it now (a race, a reused key)
    FORBIDDEN = "forbidden"  # the caller may not do this
    UNAVAILABLE = "unavailable"  # a dependency is down or busy: retry later
    RATE_LIMITED = "rate_limited"  # too many attempts: wait


class LendstackError(ValueError):
    """A user's mistake, naming the field. Subclasses set `kind`; a raise site may override it."""

    kind: ClassVar[ErrorKind] = ErrorKind.INVALID
    # A stable, more specific name for the problem than its kind (the API's problem type), if any.
    code: ClassVar[str | None] = None

    def __init__(self, field: str, message: str, *, kind: ErrorKind | None = None) -> None:
        self.field = field
        self.message = message
        if kind is not None:
            # An instance attribute shadows the class default for this one error.
            self.kind = kind  # type: ignore[misc]
        super().__init__(f"{field}: {message}")


class NotFound(LendstackError):
    kind = ErrorKind.NOT_FOUND


class Conflict(LendstackError):
    kind = ErrorKind.CONFLICT


class Forbidden(LendstackError):
    kind = ErrorKind.FORBIDDEN


class Unavailable(LendstackError):
    kind = ErrorKind.UNAVAILABLE
