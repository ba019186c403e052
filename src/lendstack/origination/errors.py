"""`ApplicationError`: bad application input, naming the field as a dotted path."""

from __future__ import annotations


class ApplicationError(ValueError):
    """A user error in an application document. `field` is a dotted path such as "applicant.age"."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
