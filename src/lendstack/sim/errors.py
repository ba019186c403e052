"""User-facing errors of the simulator. Each names the argument it is about."""

from __future__ import annotations


class SimArgumentError(ValueError):
    """A bad argument to the simulator: names the argument so the caller (CLI, API) can show it."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")
