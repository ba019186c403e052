"""ApplicationRepository and SqlFraudContext on SQLite and PostgreSQL: round trips, status, nothing half-stored."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from lendstack.fraud import BlacklistEntry, MemoryFraudContext, run_fraud_checks
from lendstack.origination import ApplicationError, EmbeddedConnector, FailingConnector, gather, parse_application
from lendstack.origination.status import StatusError
from lendstack.sim import generate_applications, to_application_json
from lendstack.store import UnitOfWork
from lendstack.store.origination_repo import ApplicationRepository, SqlFraudContext
from lendstack.store.tables_origination import applicants, application_status_history, applications

TODAY = date(2026, 1, 15)
NOW = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def documents() -> list[dict[str, Any]]:
    return [to_application_json(row) for row in generate_applications(400, 5).iter_rows(named=True)]


def _count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_application_round_trip_with_status_and_snapshots(engine: Engine, documents: list[dict[str, Any]]) -> None:
    document = documents[0] | {"product_id": "sme-1", "edits": [{"at": "2025-03-01T03:00:00+08:00", "field": "x"}]}
    with UnitOfWork(engine) as uow:
        repo = ApplicationRepository(uow.connection)
        application = repo.submit(document, today=TODAY, now=NOW)
        bundle = gather(application, [EmbeddedConnector("bureau"), FailingConnector("tax", "down")])
        repo.save_snapshots(application.application_id, bundle)
        repo.set_status(application.application_id, "gathering", now=NOW + timedelta(seconds=1))
    with UnitOfWork(engine) as uow:
        repo = ApplicationRepository(uow.connection)
        stored = repo.get(application.application_id)
        assert stored is not None and stored.application == application and stored.status == "gathering"
        assert stored.created_at == NOW and stored.updated_at == NOW + timedelta(seconds=1)
        again = repo.snapshots(application.application_id)
        assert again.fingerprints() == bundle.fingerprints()
        assert again.snapshots["bureau"].payload == bundle.snapshots["bureau"].payload
        assert (
            again.snapshots["tax"].status == "error" and again.snapshots["tax"].error == bundle.snapshots["tax"].error
        )
        assert [change.status for change in repo.history(application.application_id)] == ["received", "gathering"]
        assert repo.get("nope") is None


def test_status_follows_the_lifecycle(engine: Engine, documents: list[dict[str, Any]]) -> None:
    with UnitOfWork(engine) as uow:
        repo = ApplicationRepository(uow.connection)
        app_id = repo.submit(documents[1], today=TODAY).application_id
        for status in ("gathering", "referred", "approved", "offered", "booked"):
            repo.set_status(app_id, status, reason=f"to {status}")
        with pytest.raises(StatusError, match="booked"):
            repo.set_status(app_id, "declined")
        with pytest.raises(StatusError):
            repo.set_status(app_id, "flying")
        with pytest.raises(ApplicationError, match="no application"):
            repo.set_status("missing-id", "gathering")
        assert repo.status_of(app_id) == "booked" and len(repo.history(app_id)) == 6


def test_a_bad_application_stores_nothing(engine: Engine, documents: list[dict[str, Any]]) -> None:
    bad = copy.deepcopy(documents[2])
    bad["applicant"]["age"] = 300
    with pytest.raises(ApplicationError) as raised, UnitOfWork(engine) as uow:
        ApplicationRepository(uow.connection).submit(bad, today=TODAY)
    assert raised.value.field == "applicant.age"
    assert _count(engine, applications) == _count(engine, applicants) == 0


def test_a_failure_after_the_first_write_rolls_the_whole_submission_back(
    engine: Engine, documents: list[dict[str, Any]]
) -> None:
    with UnitOfWork(engine) as uow:
        ApplicationRepository(uow.connection).submit(documents[3], today=TODAY)
    # A batch of two where the second is a duplicate: the first new one must not survive either.
    with pytest.raises(ApplicationError, match="already exists"), UnitOfWork(engine) as uow:
        repo = ApplicationRepository(uow.connection)
        repo.submit(documents[4], today=TODAY)
        repo.submit(documents[3], today=TODAY)
    assert _count(engine, applications) == _count(engine, applicants) == 1
    assert _count(engine, application_status_history) == 1


def test_sql_fraud_context_agrees_with_the_memory_one(engine: Engine, documents: list[dict[str, Any]]) -> None:
    parsed = [parse_application(doc, today=TODAY) for doc in documents]
    # Plant a burst: three more applications with the first applicant's phone within a week.
    phone = parsed[0].applicant.identifiers.phone_hash
    planted = []
    for k in range(3):
        doc = copy.deepcopy(documents[0])
        doc["application_id"] = f"P-{k}"
        doc["applicant"]["applicant_id"] = f"C-{k}"
        doc["applied_on"] = (parsed[0].applied_on - timedelta(days=k)).isoformat()
        planted.append(parse_application(doc, today=TODAY))
    everything = [*parsed, *planted]
    blacklist = [BlacklistEntry("device_id", parsed[5].applicant.identifiers.device_id, "失信", date(2024, 1, 1))]
    with UnitOfWork(engine) as uow:
        repo = ApplicationRepository(uow.connection)
        for application in everything:
            repo.add(application, now=NOW)
        assert repo.add_blacklist(blacklist) == 1
        assert repo.add_blacklist(blacklist) == 1, "re-importing replaces, it does not duplicate"
    memory = MemoryFraudContext(everything, blacklist)
    since = datetime.combine(parsed[0].applied_on - timedelta(days=29), datetime.min.time(), UTC)
    with engine.connect() as conn:
        sql = SqlFraudContext(conn)
        assert sql.count_recent("phone_hash", phone, since) == memory.count_recent("phone_hash", phone, since) >= 4
        assert sql.count_recent("phone_hash", phone, since, excluding="P-0") == memory.count_recent(
            "phone_hash", phone, since, excluding="P-0"
        )
        assert sql.identity_neighbors("phone_hash", phone) == memory.identity_neighbors("phone_hash", phone)
        assert sql.identifiers_of("C-1") == memory.identifiers_of("C-1")
        assert sql.is_blacklisted("device_id", blacklist[0].value) and not sql.is_blacklisted("device_id", "x")
        for application in everything[:60] + planted:
            bundle = gather(application, [EmbeddedConnector("device"), EmbeddedConnector("bureau")])
            assert run_fraud_checks(application, bundle, sql) == run_fraud_checks(application, bundle, memory)
        codes = {flag.code for flag in run_fraud_checks(planted[0], gather(planted[0], []), sql)}
        assert {"fraud.velocity.phone", "fraud.ring"} <= codes


def test_the_applicants_language_is_stored_and_a_later_statement_wins(engine: Engine,
                                                                     documents: list[dict[str, Any]]) -> None:
    first = copy.deepcopy(documents[0])
    first["applicant"] |= {"applicant_id": "C-lang"}
    second = copy.deepcopy(documents[1])
    second["applicant"] |= {"applicant_id": "C-lang", "language": "en"}
    third = copy.deepcopy(documents[2])
    third["applicant"] |= {"applicant_id": "C-lang"}  # states nothing: keeps what was said before

    def language() -> str:
        with engine.connect() as conn:
            return str(conn.execute(select(applicants.c.language)
                                    .where(applicants.c.applicant_id == "C-lang")).scalar_one())

    for document, expected in ((first, ""), (second, "en"), (third, "en")):
        with UnitOfWork(engine) as uow:
            ApplicationRepository(uow.connection).add(parse_application(document, today=TODAY), now=NOW)
        assert language() == expected
