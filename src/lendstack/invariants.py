"""Invariants that cannot be switched off.

`assert` is stripped by `python -O`, so a balance, an amount or a date order checked with it stops
being checked the day someone runs optimised. `check(condition, message)` is always on. It is a
trivial function because it runs on hot paths (end of day over every loan); where the message
would be costly to build (an f-string, a repr), the caller writes `if not cond: raise
InvariantError(...)` so the message is built only on failure, as the assert it replaces did.

An invariant that fails is a bug in lendstack, not bad input: callers must not catch it as a user
error. This module is a leaf: it imports nothing from lendstack, so every package may use it.
"""

from __future__ import annotations


class InvariantError(AssertionError):
    """A broken invariant: a bug, never bad input.

    A subclass of AssertionError because these checks were `assert` statements: tests and callers
    that expect AssertionError from a broken invariant keep working, and tools that treat an
    AssertionError as "a bug" (not as a ValueError-style user error) keep doing so."""


def check(condition: bool, message: str) -> None:
    """Raise InvariantError(message) unless `condition`; always on, even under `python -O`."""
    if not condition:
        raise InvariantError(message)
