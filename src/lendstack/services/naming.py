"""How records name each other across the flow, in one place.

The loan an accepted offer books is named after its application: "L-" + the application id
(`services.decisions.accept_offer`). Monitoring, stress, credit repair, collections, reports and the
console join loans back to their applications (segment, region, PD, applicant) through this name.
"""

from __future__ import annotations

LOAN_PREFIX = "L-"


def loan_id_of(application_id: str) -> str:
    """The loan an accepted offer of `application_id` books."""
    assert application_id, "an application id is never empty"
    return LOAN_PREFIX + application_id


def application_id_of(loan_id: str) -> str | None:
    """The application a loan was booked from, or None for a loan booked otherwise (e.g. the CLI)."""
    if not loan_id.startswith(LOAN_PREFIX) or len(loan_id) == len(LOAN_PREFIX):
        return None
    return loan_id[len(LOAN_PREFIX):]
