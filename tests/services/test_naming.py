"""The loan ↔ application naming every join across the flow relies on: a loan booked from an offer
has a random id stored on its application; loans named by the rule before migration 0014 ("L-" +
the application id) still lead back to their application."""

from __future__ import annotations

from datetime import UTC, date, datetime

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, update

from lendstack.origination import parse_application
from lendstack.services.naming import (
    LOAN_PREFIX,
    applications_of,
    loan_id_for,
    loan_ids_of,
    new_loan_id,
)
from lendstack.sim import generate_applications, to_application_json
from lendstack.store import UnitOfWork
from lendstack.store.naming_repo import loan_id_column
from lendstack.store.origination_repo import ApplicationRepository
from lendstack.store.tables_origination import applications


def test_new_loan_ids_are_random_and_say_nothing_of_the_application() -> None:
    ids = {new_loan_id() for _ in range(1_000)}
    assert len(ids) == 1_000
    assert all(not i.startswith(LOAN_PREFIX) and len(i) >= 32 for i in ids)


@given(st.text(min_size=1, max_size=40))
def test_without_a_stored_loan_id_the_old_rule_names_the_loan(application_id: str) -> None:
    assert loan_id_for(application_id, "") == LOAN_PREFIX + application_id
    assert loan_id_for(application_id, "LN-x") == "LN-x"


def test_loans_lead_back_to_their_applications_both_ways(engine: Engine) -> None:
    documents = [to_application_json(r) for r in generate_applications(3, seed=3).iter_rows(named=True)]
    with UnitOfWork(engine) as uow:
        repo = ApplicationRepository(uow.connection)
        for document in documents:
            repo.add(parse_application(document, today=date(2030, 1, 1)), now=datetime(2026, 1, 1, tzinfo=UTC))
        stored, legacy, none = (d["application_id"] for d in documents)
        claimed = repo.claim_loan_id(stored, new_loan_id())
        assert repo.claim_loan_id(stored, new_loan_id()) == claimed  # the first one stays
        uow.connection.execute(update(applications).where(applications.c.application_id == legacy)
                               .values(loan_id=""))
    with engine.connect() as conn:
        assert loan_ids_of(conn, [stored, legacy, "nope"]) == {stored: claimed, legacy: LOAN_PREFIX + legacy}
        found = applications_of(conn, [claimed, LOAN_PREFIX + legacy, LOAN_PREFIX + "nope", "CLI-1", LOAN_PREFIX])
        assert found == {claimed: stored, LOAN_PREFIX + legacy: legacy}
        assert applications_of(conn, [LOAN_PREFIX + stored]) == {}  # it has its own loan id: the old rule is off
        column = dict(conn.execute(
            applications.select().with_only_columns(applications.c.application_id, loan_id_column(applications))
        ).all())
    assert column == {stored: claimed, legacy: LOAN_PREFIX + legacy, none: LOAN_PREFIX + none}
