"""Concentration by the applicant's segment and region (issue 7 §3), both backends: loans booked
through decisions carry their applicant's segment and region, a loan booked directly is "unknown",
and each breakdown sums to the book's live outstanding principal per currency."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Engine, select

from lendstack.money import Money
from lendstack.monitoring.portfolio import LIVE
from lendstack.scoring import TrainOptions
from lendstack.services.decisions import accept_offer, decide_application
from lendstack.services.loans import book_loan, disburse_loan
from lendstack.services.models import ensure_default_model, scoring_model
from lendstack.services.monitoring import UNKNOWN, portfolio_report, read_loans, with_origins
from lendstack.sim import generate_applications, to_application_json
from lendstack.store.tables import loans

D0 = date(2026, 1, 15)
FAST_GBM = {"n_estimators": 40, "learning_rate": 0.2, "early_stopping_rounds": 10, "n_jobs": 1}
APPROVALS = 4  # enough to spread over several segments; small to stay fast
DOCUMENTS_MAX = 60


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("concentration-models")
    ensure_default_model(root, options=TrainOptions(kind="gbm", seed=5, gbm_params=FAST_GBM), rows=1500)
    return root


def _book_through_decisions(engine: Engine, registry: Path) -> dict[str, dict[str, Any]]:
    """Decide simulated applications until APPROVALS approve; accept and disburse each: {loan_id: applicant}."""
    model = scoring_model(registry)
    sample = generate_applications(DOCUMENTS_MAX, seed=21, as_of=D0)
    booked: dict[str, dict[str, Any]] = {}
    for i in range(sample.height):
        doc = to_application_json(sample.row(i, named=True))
        decision = decide_application(engine, doc, model=model, today=D0)
        if decision.outcome != "approve":
            continue
        loan_id = str(accept_offer(engine, decision.application_id, D0, f"accept-{decision.application_id}")["loan_id"])
        disburse_loan(engine, loan_id, D0, f"disburse-{loan_id}")
        booked[loan_id] = doc["applicant"]
        if len(booked) == APPROVALS:
            return booked
    raise AssertionError(f"only {len(booked)} of {DOCUMENTS_MAX} documents approved")


def _outstanding(engine: Engine) -> dict[str, dict[str, int]]:
    """Per currency and live loan: principal outstanding, read straight from the loans table."""
    c = loans.c
    principal = (c.principal_disbursed_minor + c.principal_capitalized_minor - c.principal_repaid_minor
                 - c.principal_written_off_minor)
    with engine.connect() as conn:
        rows = conn.execute(select(c.loan_id, c.currency, principal).where(c.status.in_(LIVE))).all()
    out: dict[str, dict[str, int]] = {}
    for loan_id, currency, amount in rows:
        out.setdefault(str(currency), {})[str(loan_id)] = int(amount)
    return out


def test_segment_and_region_concentration_from_applicants(engine: Engine, registry: Path) -> None:
    booked = _book_through_decisions(engine, registry)
    book_loan(engine, loan_id="DIRECT-1", product="consumer_cny_12m", amount=Money(5_000_00, "CNY"), term=6,
              on=D0, key="b-direct")
    disburse_loan(engine, "DIRECT-1", D0, "d-direct")
    report = portfolio_report(engine)
    concentration = report["concentration"]
    assert set(concentration) == {"product_id", "funder_id", "segment", "region"}
    outstanding = _outstanding(engine)
    assert sum(len(v) for v in outstanding.values()) == APPROVALS + 1  # every loan is live
    assert outstanding["CNY"]["DIRECT-1"] == 5_000_00
    for field in ("segment", "region"):
        expected: dict[tuple[str, str], int] = {}
        counts: Counter[tuple[str, str]] = Counter()
        for currency, per_loan in outstanding.items():
            for loan_id, principal in per_loan.items():
                name = str(booked[loan_id][field]) if loan_id in booked else UNKNOWN
                expected[(currency, name)] = expected.get((currency, name), 0) + principal
                counts[(currency, name)] += 1
        rows = concentration[field]
        assert {(r["currency"], r["name"]): r["principal_minor"] for r in rows} == expected
        assert {(r["currency"], r["name"]): r["loans"] for r in rows} == dict(counts)
        for currency, per_loan in outstanding.items():
            mine = [r for r in rows if r["currency"] == currency]
            assert sum(r["principal_minor"] for r in mine) == sum(per_loan.values())
            assert sum(r["share"] for r in mine) == pytest.approx(1.0)
            assert mine[0]["hhi"] == pytest.approx(sum(r["share"] ** 2 for r in mine))
    # The product breakdown is unchanged in shape and total.
    cny = [r for r in concentration["product_id"] if r["currency"] == "CNY"]
    assert sum(r["principal_minor"] for r in cny) == sum(outstanding["CNY"].values())


def test_empty_book_has_empty_segment_and_region(engine: Engine) -> None:
    concentration = portfolio_report(engine)["concentration"]
    assert concentration["segment"] == [] and concentration["region"] == []


def test_with_origins_fills_unknown_and_keeps_every_loan(engine: Engine) -> None:
    book_loan(engine, loan_id="L-NOAPP", product="consumer_cny_12m", amount=Money(1_000_00, "CNY"), term=6,
              on=D0, key="b-noapp")  # named like a decision's loan, but no application exists
    with engine.connect() as conn:
        frame = read_loans(conn)
    origins = pl.DataFrame({"loan_id": ["L-OTHER"], "segment": ["retail"], "region": ["east"]})
    joined = with_origins(frame, origins)
    assert joined.height == frame.height == 1
    assert joined.row(0, named=True)["segment"] == UNKNOWN and joined.row(0, named=True)["region"] == UNKNOWN
    with pytest.raises(AssertionError):
        with_origins(joined, origins)  # already located: refuse to join twice
