"""Servicing errors a user can cause. Each names the field, and nothing is written."""

from __future__ import annotations


class ServicingError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")
