"""`ApplicationError`: bad application input, naming the field as a dotted path."""

from __future__ import annotations

from lendstack.errors import LendstackError


class ApplicationError(LendstackError):
    """A user error in an application document. `field` is a dotted path such as "applicant.age"."""
