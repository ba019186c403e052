"""Migration 0014 on SQLite and PostgreSQL: a book at 0013 keeps every row, and gets each
application's reference (its id) and stored loan id ("L-" + its id where that loan exists), and each
applicant's partner (that of its earliest application) and reference; the partners' lookups by
(partner, reference) then find exactly their own records. Down to 0013 and up again keeps the data."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, MetaData, Table, func, insert, inspect, select, text
from tests.store.test_migration_0013 import loan_row

from lendstack.services.naming import applications_of, loan_ids_of
from lendstack.store.db import downgrade, upgrade
from lendstack.store.origination_repo import ApplicationRepository
from lendstack.store.tables_origination import applicants, applications

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
NEW = {"applicants": {"partner_id", "reference"}, "applications": {"reference", "loan_id"}}


def at_0013(engine: Engine) -> None:
    downgrade(engine, "0013")
    found = inspect(engine)
    for table, columns in NEW.items():
        assert not columns & {c["name"] for c in found.get_columns(table)}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0013"


def applicant_row(applicant_id: str) -> dict[str, Any]:
    return {"applicant_id": applicant_id, "applicant_type": "individual", "segment": "retail", "region": "east",
            "created_at": T0, "language": "zh-CN"}


def application_row(application_id: str, applicant_id: str, partner_id: str, minutes: int) -> dict[str, Any]:
    at = T0 + timedelta(minutes=minutes)
    return {"application_id": application_id, "applicant_id": applicant_id, "status": "approved",
            "applied_on": date(2026, 3, 1), "currency": "CNY", "requested_amount_minor": 1_000_000,
            "declared_monthly_revenue_minor": None, "requested_term_months": 12, "product_id": "consumer_cny_12m",
            "partner_id": partner_id, "phone_hash": "ph", "device_id": "dv", "bank_account_hash": "ba",
            "address_hash": "ad", "document": {"application_id": application_id}, "created_at": at,
            "updated_at": at}


def fill_0013(engine: Engine) -> None:
    tables = {name: Table(name, MetaData(), autoload_with=engine) for name in ("applicants", "applications", "loans")}
    with engine.begin() as conn:
        conn.execute(insert(tables["applicants"]), [applicant_row(i) for i in ("C1", "C2", "C3")])
        conn.execute(insert(tables["applications"]), [
            application_row("B1", "C1", "p2", 5),  # p2 named p1's applicant (the bug), after p1
            application_row("A1", "C1", "p1", 1),
            application_row("A2", "C1", "p1", 9),
            application_row("S1", "C2", "", 2),  # staff, no partner
            application_row("B2", "C3", "p2", 3),
        ])
        conn.execute(insert(tables["loans"]), [loan_row("L-A1", "active", None, None),
                                               loan_row("L-nothing", "active", None, None)])


def snapshot(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return {
            "applications": {r.application_id: (r.reference, r.loan_id, r.partner_id, r.applicant_id)
                             for r in conn.execute(select(applications))},
            "applicants": {r.applicant_id: (r.partner_id, r.reference, r.language)
                           for r in conn.execute(select(applicants))},
        }


def test_an_0013_book_upgrades_keeping_its_rows_and_backfilling_the_scopes(engine: Engine) -> None:
    at_0013(engine)
    fill_0013(engine)
    upgrade(engine)
    found = snapshot(engine)
    assert found["applications"] == {
        "A1": ("A1", "L-A1", "p1", "C1"), "A2": ("A2", "", "p1", "C1"), "B1": ("B1", "", "p2", "C1"),
        "B2": ("B2", "", "p2", "C3"), "S1": ("S1", "", "", "C2"),
    }
    assert found["applicants"] == {"C1": ("p1", "C1", "zh-CN"), "C2": ("", "C2", "zh-CN"),
                                   "C3": ("p2", "C3", "zh-CN")}
    with engine.connect() as conn:
        repo = ApplicationRepository(conn)
        assert repo.find("p1", "A1") == "A1" and repo.find("p2", "B1") == "B1" and repo.find("", "S1") == "S1"
        assert repo.find("p2", "A1") is None  # p1's, not p2's
        assert repo.find_applicant("p1", "C1") == "C1" and repo.find_applicant("p2", "C3") == "C3"
        assert repo.find_applicant("p2", "C1") is None  # p1 brought C1 first: p2 no longer reaches it
        # p2 naming C1 again now gets an applicant of its own; p1 keeps its ids
        assert repo.scoped_ids("p1", "A3", "C1") == ("A3", "C1")
        new_application, new_applicant = repo.scoped_ids("p2", "A1", "C1")
        assert new_application not in ("A1", "B1") and new_applicant != "C1"
        assert loan_ids_of(conn, ["A1", "A2"]) == {"A1": "L-A1", "A2": "L-A2"}
        assert applications_of(conn, ["L-A1", "L-nothing"]) == {"L-A1": "A1"}


def test_down_to_0013_and_up_again_keeps_the_data(engine: Engine) -> None:
    at_0013(engine)
    fill_0013(engine)
    upgrade(engine)
    before = snapshot(engine)
    at_0013(engine)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Table("applications", MetaData(),
                                                                   autoload_with=conn))).scalar_one() == 5
    upgrade(engine)
    assert snapshot(engine) == before
