"""Errors for bad training or scoring input: each names the column (or file) at fault."""

from __future__ import annotations

from lendstack.errors import LendstackError


class DataError(LendstackError):
    """Input data the models cannot use; `column` names the column (or "data" for the file)."""

    def __init__(self, column: str, message: str) -> None:
        super().__init__(column, message)
        self.column = column


class LeakError(DataError):
    """A single feature separates the target almost perfectly: it most likely leaks the outcome."""


class ArtifactError(LendstackError):
    """A model artifact that is missing, incomplete or whose content hash does not verify."""

    def __init__(self, message: str) -> None:
        super().__init__("artifact", message)
        self.args = (message,)  # the message already names the folder or file
