"""Every report from a small real book (SQLite and PostgreSQL), its numbers checked against
values computed here, independently: from the loans as servicing keeps them and from the
decisions as they were made (tests/reporting/book.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score  # type: ignore[import-untyped]
from sqlalchemy import insert

from lendstack.api.keys import create_key, revoke_key
from lendstack.reporting import render_html
from lendstack.scoring import Registry
from lendstack.scoring.evaluation import bin_shares, pd_to_score, psi
from lendstack.services import report_data
from lendstack.services.audit_bundle import audit_bundle, quarter_of, security_checks
from lendstack.services.loans import get_loan
from lendstack.store.tables_api import api_audit
from tests.reporting.book import AS_OF, BookFacts


def yuan(amount_minor: int) -> str:
    """Written out here on purpose, not with the code under test."""
    sign = "-" if amount_minor < 0 else ""
    whole, cents = divmod(abs(amount_minor), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def percent(numerator: int, denominator: int) -> str:
    return f"{100 * numerator / denominator:.2f}%"


def loans_with(book: BookFacts, *behaviours: str) -> list[Any]:
    return [get_loan(book.engine, k) for k, v in sorted(book.behaviour.items()) if v in behaviours]


def test_portfolio_report_shows_the_books_numbers(book: BookFacts) -> None:
    data = report_data.portfolio_data(book.engine, AS_OF).to_json()
    page = render_html("portfolio", data)
    live = loans_with(book, "current", "late")
    outstanding = sum(loan.principal_outstanding_minor for loan in live)
    written_off = sum(loan.principal_written_off_minor for loan in loans_with(book, "written_off"))
    disbursed = sum(loan.principal_disbursed_minor for loan in loans_with(book, *set(book.behaviour.values())))
    overdue = sum(1 for loan in live if loan.days_past_due > 0)
    assert overdue == len(loans_with(book, "late")) > 0  # the late payers, and only they, are past due
    (kpis,) = data["kpis"]
    assert (kpis["principal_outstanding_minor"], kpis["written_off_minor"], kpis["disbursed_minor"]) == (
        outstanding, written_off, disbursed)
    assert kpis["loans_live"] == len(live) and kpis["overdue_loans"] == overdue
    for amount in (outstanding, written_off, disbursed):
        assert f">{yuan(amount)}<" in page
    buckets = {r["name"]: r["loans"] for r in data["by_bucket"]}
    expected: dict[str, int] = {}
    for loan in live:
        expected[loan.bucket] = expected.get(loan.bucket, 0) + 1
    assert buckets == expected and len(expected) > 1
    assert "资产组合报告" in page and "五级分类" in page and page.count("<svg") >= 4
    assert "<script" not in page and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


def matured(book: BookFacts) -> tuple[list[float], list[int]]:
    pds, bad = [], []
    by_app = {d["application_id"]: d for d in book.decided}
    for loan_id, behaviour in sorted(book.behaviour.items()):
        if behaviour in ("prepaid", "written_off"):
            pds.append(by_app[book.application_of[loan_id]]["pd"])
            bad.append(int(behaviour == "written_off"))
    return pds, bad


def test_models_report_realized_performance_drift_and_arms(book: BookFacts) -> None:
    data = report_data.models_data(book.engine, AS_OF, book.registry)
    page = render_html("models", data)
    pds, bad = matured(book)
    realized = data["realized"]
    assert (realized["matured_loans"], realized["bad_loans"]) == (len(pds), sum(bad))
    auc = roc_auc_score(bad, pds)
    assert realized["current"]["auc"] == pytest.approx(auc)
    assert f">{auc:.4f}<" in page and data["model"]["version"] == book.model_version
    assert realized["status"] == "insufficient_data"  # 14 matured loans: shown, but not judged
    assert realized["alerts"] == [] and realized["performance_window_days"] == 365  # default_12m: 12 months
    assert "365 days" in realized["definition"] and "95% upper bound" in realized["definition"]
    low, high = realized["current"]["auc_ci95"]
    assert low <= auc <= high and f"[{low:.4f}, {high:.4f}]" in page
    credit = Registry(book.registry).load()
    champion_pds = [d["pd"] for d in book.decided]
    expected_psi = psi(credit.dev_score_shares, bin_shares(pd_to_score(np.array(champion_pds)), credit.dev_score_edges))
    assert data["drift"]["score"]["index"] == pytest.approx(expected_psi)
    assert data["drift"]["window"]["applications"] == len(book.decided)
    assert f"{expected_psi:.4f}" in page
    for arm in ("champion", "challenger"):
        mine = [d for d in book.decided if d["arm"] == arm]
        approved = sum(d["outcome"] == "approve" for d in mine)
        (row,) = [a for a in data["arms"] if a["arm"] == arm]
        assert (row["applications"], row["approved"]) == (len(mine), approved)
        assert f">{percent(approved, len(mine))}<" in page
    assert data["shadow"]["applications"] == len(book.decided) // 2
    assert "模型监控报告" in page and "冠军" in page


def test_fairness_report_by_gender(book: BookFacts) -> None:
    data = report_data.fairness_data(book.engine, AS_OF).to_json()
    page = render_html("fairness", data)
    groups = {g["group"]: g for g in data["audit"]["groups"]}
    assert set(groups) == {d["gender"] for d in book.decided}
    rates = {}
    for gender, row in groups.items():
        mine = [d for d in book.decided if d["gender"] == gender]
        approved = sum(d["outcome"] == "approve" for d in mine)
        rates[gender] = approved / len(mine)
        assert (row["rows"], row["approved"]) == (len(mine), approved)
        assert f">{percent(approved, len(mine))}<" in page
        outcomes = [b for loan_id, b in zip(*_matured_by_app(book), strict=True)
                    if _gender(book, loan_id) == gender]
        if outcomes:
            assert row["bad_rate_approved"] == pytest.approx(sum(outcomes) / len(outcomes))
    reference = data["audit"]["reference_group"]
    for gender, row in groups.items():
        assert row["disparate_impact"] == pytest.approx(rates[gender] / rates[reference])
        assert f">{rates[gender] / rates[reference]:.3f}<" in page
    assert "公平性审计" in page


def _matured_by_app(book: BookFacts) -> tuple[list[str], list[int]]:
    loans = [k for k, v in sorted(book.behaviour.items()) if v in ("prepaid", "written_off")]
    return [book.application_of[k] for k in loans], [int(book.behaviour[k] == "written_off") for k in loans]


def _gender(book: BookFacts, application_id: str) -> str:
    return next(str(d["gender"]) for d in book.decided if d["application_id"] == application_id)


def test_stress_report_renders_every_scenario(book: BookFacts) -> None:
    data = report_data.stress_data(book.engine, AS_OF).to_json()
    page = render_html("stress", data)
    assert data["loans"] == len(loans_with(book, "current", "late"))
    for scenario in data["scenarios"]:
        assert scenario["name"] in page and scenario["name_zh"] in page
        for currency, totals in scenario["totals"].items():
            assert f">{yuan(totals['losses_minor'])}<" in page, (scenario["name"], currency)
    assert "压力测试报告" in page and AS_OF.isoformat() in page


def test_quarterly_audit_bundle(book: BookFacts) -> None:
    key = create_key(book.engine, "credit_officer", label="audit-test")
    kept = create_key(book.engine, "risk_manager", label="audit-test-kept")
    revoke_key(book.engine, key.key_id)
    at = [datetime(2026, 2, 1, 9, tzinfo=UTC), datetime(2026, 3, 31, 23, 59, 59, tzinfo=UTC),
          datetime(2026, 4, 1, 0, 0, tzinfo=UTC)]  # the last is the next quarter's
    rows = [
        {"at": at[0], "key_id": key.key_id, "role": "credit_officer", "partner_id": "", "method": "POST",
         "path": "/v1/loans/L-1/repay", "status": 200, "client": "10.0.0.1", "idempotency_key": "k1"},
        {"at": at[1], "key_id": "", "role": "", "partner_id": "", "method": "POST", "path": "/v1/applications",
         "status": 401, "client": "10.0.0.9", "idempotency_key": ""},
        {"at": at[2], "key_id": kept.key_id, "role": "risk_manager", "partner_id": "", "method": "POST",
         "path": "/v1/webhooks", "status": 201, "client": "10.0.0.1", "idempotency_key": ""},
    ]
    with book.engine.begin() as conn:
        conn.execute(insert(api_audit), rows)
    data = audit_bundle(book.engine, quarter="2026Q1", registry_dir=book.registry).to_json()
    page = render_html("audit", data)
    in_q1 = [d for d in book.decided if _applied_on(book, d) >= date(2026, 1, 1)]
    assert data["fairness"]["decisions"] == len(in_q1) > 0
    calls = data["security"]["calls"]
    assert (calls["total"], calls["personal_data"], calls["refused"], calls["unauthenticated"]) == (2, 2, 1, 1)
    assert {"method": "POST", "route": "/v1/loans/{id}/repay", "calls": 1} in calls["routes"]
    assert f"{len(in_q1)} decisions in the quarter" in page and "数据安全" in page
    name, first, last = quarter_of(date.today())
    now = security_checks(book.engine, first, last).to_json()["keys"]
    assert {k["key_id"] for k in now["created"]} >= {key.key_id, kept.key_id}
    assert [k["key_id"] for k in now["revoked"]] == [key.key_id]
    assert data["quarter"] == "2026Q1" and name.startswith(str(date.today().year))


def _applied_on(book: BookFacts, decision: dict[str, Any]) -> date:
    from tests.reporting.book import documents

    by_id = {d["application_id"]: date.fromisoformat(d["applied_on"]) for d in documents()}
    return by_id[decision["application_id"]]
