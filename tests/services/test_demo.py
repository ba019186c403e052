"""The demo business: a small run goes through every path (decide, review, accept, disburse, repay,
fall overdue, post-loan data, early warning, provision) on SQLite and PostgreSQL with a balanced,
verified ledger; the same seed builds the same book; the plan and the post-loan data are pure."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from lendstack.decisioning import ScoringModel
from lendstack.monitoring.early_warning import parse_record
from lendstack.scoring import TrainOptions
from lendstack.services.decisions import list_reviews, replay_decision
from lendstack.services.demo import (
    DEMO_PARTNER,
    DemoConfig,
    DemoError,
    arrivals_per_day,
    book_exists,
    decision_mix,
    officer_choice,
    plan_business,
    post_loan_records,
    run_business,
    stress,
)
from lendstack.services.models import train_default_model
from lendstack.services.reports import trial_balance
from lendstack.store import UnitOfWork
from lendstack.store.tables import journal_entries, loans, outbox
from lendstack.store.tables_monitoring import ew_alerts, post_loan_snapshots
from lendstack.store.tables_origination import applications

FAST_GBM = {"n_estimators": 80, "learning_rate": 0.1, "early_stopping_rounds": 15, "n_jobs": 1}
SMALL = DemoConfig(days=62, seed=3, start=date(2025, 1, 1), per_day_start=1.5, per_day_end=2.5, backlog_days=6)


@pytest.fixture(scope="module")
def small_model() -> ScoringModel:
    credit = train_default_model(rows=2500, seed=5, options=TrainOptions(kind="gbm", seed=5, gbm_params=FAST_GBM))
    return ScoringModel(credit, "demo-test-v1", "0" * 64)


def _count(engine: Engine, table: Any, *where: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def test_a_small_business_runs_through_every_path(engine: Engine, small_model: ScoringModel) -> None:
    report = run_business(engine, SMALL, model=small_model)
    assert report.days == SMALL.days and report.end == date(2025, 3, 3)
    mix = decision_mix(engine)
    assert report.applications == sum(mix.values()) == report.approved + report.referred + report.declined
    assert mix["approve"] > 0 and mix["decline"] > 0 and mix["refer"] > 0
    reviews = list_reviews(engine)
    done = [r for r in reviews if r.status == "done"]
    assert len(done) == report.reviewed > 0 and all(r.history[-1]["by"] == "officer" for r in done)
    assert report.review_queue == len(reviews) - len(done) > 0, "the recent referrals wait in the queue"
    with engine.connect() as conn:
        rows = conn.execute(select(loans.c.loan_id, loans.c.status, loans.c.days_past_due)).all()
    assert len(rows) == report.loans_disbursed == report.offers_accepted > 0
    assert _count(engine, outbox, outbox.c.event_type == "loan.overdue") > 0, "some borrower fell behind"
    assert report.repayments > 0 and report.late_repayments > 0
    assert _count(engine, journal_entries, journal_entries.c.kind == "repay") == report.repayments
    assert _count(engine, post_loan_snapshots) == report.post_loan_records > 0
    partnered = _count(engine, applications, applications.c.partner_id == DEMO_PARTNER)
    assert 0 < partnered < report.applications, "some applications come through the partner channel"
    assert report.early_warning_runs == 2 and report.provisions_posted >= 1  # the two month ends
    assert _count(engine, ew_alerts) == report.alerts_new
    with UnitOfWork(engine) as uow:
        assert uow.ledger.verify() == []
    for currency, lines in trial_balance(engine)["currencies"].items():
        assert sum(line["debit_minor"] - line["credit_minor"] for line in lines) == 0, currency
    decided = next(r.application_id for r in done)
    assert replay_decision(engine, decided, model=small_model).application_id == decided
    with pytest.raises(DemoError) as again:
        run_business(engine, SMALL, model=small_model)
    assert again.value.field == "database" and book_exists(engine)


def _book(engine: Engine) -> tuple[Any, list[Any]]:
    skip = {"updated_at"}
    with engine.connect() as conn:
        rows = [tuple(v for k, v in r._mapping.items() if k not in skip)
                for r in conn.execute(select(loans).order_by(loans.c.loan_id))]
    return trial_balance(engine), rows


def test_same_seed_same_book(tmp_path: Any, small_model: ScoringModel) -> None:
    from lendstack.store import make_engine, upgrade

    tiny = replace(SMALL, days=35)
    books = []
    for name in ("one", "two"):
        engine = make_engine(f"sqlite:///{tmp_path / name}.db")
        upgrade(engine)
        run_business(engine, tiny, model=small_model)
        books.append(_book(engine))
        engine.dispose()
    assert books[0] == books[1] and books[0][1]


def test_the_plan_is_seeded_and_grows() -> None:
    config = DemoConfig(days=400, seed=11, per_day_start=1.0, per_day_end=6.0)
    counts = arrivals_per_day(config)
    assert counts == arrivals_per_day(config) and len(counts) == 400
    assert sum(counts[-100:]) > 3 * sum(counts[:100]), "a growing business"
    assert arrivals_per_day(replace(config, seed=12)) != counts
    plan = plan_business(replace(config, days=60))
    again = plan_business(replace(config, days=60))
    assert [a.application_id for a in plan] == [a.application_id for a in again]
    assert [a.arrives_on for a in plan] == sorted(a.arrives_on for a in plan)
    assert all(a.document()["applied_on"] == a.arrives_on.isoformat() for a in plan)
    assert all(len(a.pay_status) == len(a.days_late) == 12 for a in plan)
    assert not any(a.prepay_installment for a in plan if a.row["default_12m"])
    assert plan_business(DemoConfig(days=5, per_day_start=0.0, per_day_end=0.0, backlog_days=0)) == []


@pytest.mark.parametrize(("changes", "field"), [
    ({"days": 0}, "days"), ({"days": 4000}, "days"), ({"per_day_start": -1.0}, "per_day_start"),
    ({"per_day_end": 1e6}, "per_day_end"), ({"seed": -1}, "seed"), ({"backlog_days": 99, "days": 10}, "backlog_days"),
    ({"write_off_dpd": 0}, "write_off_dpd"),
])
def test_bad_settings_name_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(DemoError) as caught:
        plan_business(replace(DemoConfig(), **changes))
    assert caught.value.field == field


def test_bad_settings_write_nothing(engine: Engine, small_model: ScoringModel) -> None:
    with pytest.raises(DemoError):
        run_business(engine, replace(SMALL, days=0), model=small_model)
    assert not book_exists(engine)


_PLAN = plan_business(DemoConfig(days=30, seed=4, per_day_start=4.0, per_day_end=4.0))


@settings(max_examples=60, deadline=None)
@given(k=st.integers(0, len(_PLAN) - 1), months=st.integers(1, 40))
def test_post_loan_records_are_valid_and_seeded(k: int, months: int) -> None:
    applicant = _PLAN[k]
    as_of = date(2026, 1, 31)
    records = post_loan_records(applicant, f"L-{applicant.application_id}", as_of, months, seed=4)
    assert records == post_loan_records(applicant, f"L-{applicant.application_id}", as_of, months, seed=4)
    assert len({r["source"] for r in records}) == len(records)
    for i, record in enumerate(records):
        parsed = parse_record(record, f"records[{i}]")  # what ingest accepts
        assert parsed.as_of == as_of and parsed.loan_id == record["loan_id"]
    assert 0.0 <= stress(applicant, months) <= 1.0


def test_stress_builds_before_a_default_only() -> None:
    defaulter = next(a for a in _PLAN if a.row["default_12m"] and a.row["months_to_default"] >= 4)
    onset = int(defaulter.row["months_to_default"])
    assert stress(defaulter, onset - 4) == 0.0 < stress(defaulter, onset - 1) < stress(defaulter, onset) == 1.0
    payer = next(a for a in _PLAN if not a.row["default_12m"])
    assert all(stress(payer, m) == 0.0 for m in range(1, 40))


def test_the_officer_approves_counters_and_declines() -> None:
    applicant = next(a for a in _PLAN if a.row["applicant_type"] == "individual")
    base = {"product_id": "consumer_cny_12m", "limit_minor": 5_000_000, "rate_annual": "0.15"}
    assert officer_choice(base | {"pd": 0.03}, applicant)[0] == "approve"
    action, note, counter = officer_choice(base | {"pd": 0.1}, applicant)
    requested = int(applicant.row["requested_amount_minor"])
    assert action == "counter_offer" and note and counter is not None
    assert counter["amount_minor"] <= min(5_000_000, requested) * 7 // 10 and counter["amount_minor"] % 10_000 == 0
    assert officer_choice(base | {"pd": 0.3}, applicant)[0] == "decline"
    assert officer_choice(base | {"pd": 0.03, "limit_minor": 50_000}, applicant)[0] == "decline"  # below the minimum
    assert DemoConfig().end - DemoConfig().start == timedelta(days=729)
