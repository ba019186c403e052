"""Servicing errors a user can cause. Each names the field, and nothing is written."""

from __future__ import annotations

from lendstack.errors import LendstackError


class ServicingError(LendstackError):
    """A user error naming the field (see lendstack.errors)."""
