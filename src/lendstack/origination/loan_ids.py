"""How an application names the loan it books: the rule, as pure functions.

The loan an accepted offer books gets a random id, stored on its application (`applications.loan_id`,
`services.decisions.accept_offer`): an outsider who knows an application id cannot guess its loan's.
Before migration 0014 the loan was named "L-" + the application id; such loans (and loans booked by
hand under that name) still join back to their application when its stored loan id is empty. The
same rule in SQL is `store.naming_repo.loan_id_column`.
"""

from __future__ import annotations

import secrets

LOAN_PREFIX = "L-"  # the naming rule before 0014
NEW_LOAN_PREFIX = "LN-"
_LOAN_TOKEN_BYTES = 16  # 128 random bits


def new_loan_id() -> str:
    """A fresh, unguessable id for the loan an accepted offer books."""
    return NEW_LOAN_PREFIX + secrets.token_hex(_LOAN_TOKEN_BYTES)


def loan_id_for(application_id: str, stored_loan_id: str) -> str:
    """The loan booked (or to be booked under the old rule) from an application, given its stored loan id."""
    assert application_id, "an application id is never empty"
    return stored_loan_id or LOAN_PREFIX + application_id
