"""The loan ↔ application naming every join across the flow relies on."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lendstack.services.naming import LOAN_PREFIX, application_id_of, loan_id_of


@given(st.text(min_size=1, max_size=40))
def test_a_loan_name_leads_back_to_its_application(application_id: str) -> None:
    loan_id = loan_id_of(application_id)
    assert loan_id.startswith(LOAN_PREFIX)
    assert application_id_of(loan_id) == application_id


def test_loans_not_booked_from_an_offer_have_no_application() -> None:
    assert application_id_of("CLI-0001") is None
    assert application_id_of(LOAN_PREFIX) is None  # the prefix alone names nothing
    assert application_id_of("l-A1") is None  # case matters: ids are exact
