"""Errors for bad training or scoring input: each names the column (or file) at fault."""

from __future__ import annotations


class DataError(ValueError):
    """Input data the models cannot use; `column` names the column (or "data" for the file)."""

    def __init__(self, column: str, message: str) -> None:
        super().__init__(f"{column}: {message}")
        self.column = column
        self.message = message


class LeakError(DataError):
    """A single feature separates the target almost perfectly: it most likely leaks the outcome."""


class ArtifactError(ValueError):
    """A model artifact that is missing, incomplete or whose content hash does not verify."""
