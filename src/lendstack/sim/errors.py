"""User-facing errors of the simulator. Each names the argument it is about."""

from __future__ import annotations

from lendstack.errors import LendstackError


class SimArgumentError(LendstackError):
    """A bad argument to the simulator: names the argument so the caller (CLI, API) can show it."""
