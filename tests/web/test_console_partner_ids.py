"""Staff see the book's ids (issue 12 §4): when a partner's id was another partner's too, the console's
application page shows the partner's own id for it, in English and Chinese; accepting the offer in the
console books a loan whose id is random, stored on the application."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from lendstack.decisioning import Decision
from lendstack.services.decisions import decide_prepared, prepare_decision
from lendstack.services.models import scoring_model
from lendstack.store import UnitOfWork
from lendstack.store.tables_origination import applications
from lendstack.web.lang import LANG_COOKIE
from tests.web.conftest import TODAY, Login, csrf_of


def decide_as(engine: Engine, registry_dir: Path, document: dict[str, Any], partner: str) -> Decision:
    prepared = prepare_decision({**document, "partner_id": partner}, model=scoring_model(registry_dir),
                                today=TODAY, partner_scoped=True)
    with UnitOfWork(engine) as uow:
        return decide_prepared(uow, prepared)


def test_the_console_shows_a_partners_own_id_where_the_books_differs(
        engine: Engine, registry_dir: Path, documents: list[dict[str, Any]], login_as: Login) -> None:
    first = decide_as(engine, registry_dir, {**documents[0], "application_id": "SHARED"}, "p1")
    approved = next(d for d in documents[1:] if decide_as(engine, registry_dir, d, "p9").outcome == "approve")
    second = decide_as(engine, registry_dir, {**approved, "application_id": "SHARED"}, "p2")
    assert first.application_id == "SHARED" and second.application_id != "SHARED"
    officer = login_as("credit_officer")
    mine = officer.get(f"/console/applications/{first.application_id}").text
    theirs = officer.get(f"/console/applications/{second.application_id}").text
    assert "The partner&#39;s own id for it" not in mine
    assert "The partner&#39;s own id for it" in theirs and "<dd>SHARED</dd>" in theirs
    officer.cookies.set(LANG_COOKIE, "zh-CN")
    assert "合作方自己的编号" in officer.get(f"/console/applications/{second.application_id}").text
    officer.cookies.set(LANG_COOKIE, "en")

    booked = officer.post(f"/console/applications/{second.application_id}/accept",
                          data={"csrf_token": csrf_of(officer)})
    assert booked.status_code in (200, 303), booked.text
    with engine.connect() as conn:
        loan_id = conn.execute(select(applications.c.loan_id)
                               .where(applications.c.application_id == second.application_id)).scalar_one()
    assert loan_id.startswith("LN-") and "SHARED" not in loan_id
    assert loan_id in officer.get(f"/console/applications/{second.application_id}").text
