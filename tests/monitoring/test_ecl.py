"""ECL staging boundaries and arithmetic; the provision posted to the ledger on both backends:
balanced, idempotent per date, released when the allowance falls."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from sqlalchemy import Engine
from tests.monitoring.books import loan, loans_frame

from lendstack.ledger import DEFAULT_FUNDER, AccountCode, BalanceKey, EntryKind, LedgerError
from lendstack.monitoring.ecl import EclConfig, ecl_by_currency, loan_ecl, provision_entry
from lendstack.monitoring.portfolio import PortfolioInputError
from lendstack.services.demo import run_demo
from lendstack.services.monitoring import portfolio_report, post_provision
from lendstack.store import UnitOfWork


def _stage(**values: object) -> int:
    return int(loan_ecl(loans_frame(loan("X", **values)))["stage"][0])


@pytest.mark.parametrize(("dpd", "bucket", "stage"), [(0, "M0", 1), (30, "M1", 1), (31, "M2", 2), (90, "M3", 2),
                                                      (91, "M4", 3), (400, "M7+", 3)])
def test_stage_boundaries_by_dpd(dpd: int, bucket: str, stage: int) -> None:
    assert _stage(days_past_due=dpd, bucket=bucket) == stage


def test_sicr_moves_to_stage_2() -> None:
    assert _stage(restructure_count=1) == 2
    frame = loans_frame(loan("X"), loan("Y")).with_columns(
        pl.Series("pd_origination", [0.02, 0.02]), pl.Series("pd_current", [0.039, 0.04]))
    assert loan_ecl(frame)["stage"].to_list() == [1, 2]


def test_ecl_is_pd_times_lgd_times_ead_in_minor_units() -> None:
    frame = loans_frame(loan("S1", interest_accrued_minor=1_000), loan("S2", days_past_due=45, bucket="M2"),
                        loan("S3", days_past_due=120, bucket="M4"), loan("W", status="written_off"))
    result = {r["loan_id"]: r for r in loan_ecl(frame).to_dicts()}
    assert set(result) == {"S1", "S2", "S3"}
    assert result["S1"]["ecl_minor"] == round(101_000 * 0.02 * 0.45)  # 909
    assert result["S2"]["ecl_minor"] == round(100_000 * 0.40 * 0.45)  # lifetime PD of M2
    assert result["S3"]["ecl_minor"] == 45_000  # PD 1
    assert ecl_by_currency(loan_ecl(frame)) == {"CNY": 909 + 18_000 + 45_000}


def test_config_is_validated_naming_the_field() -> None:
    with pytest.raises(PortfolioInputError, match=r"ecl\.lgd"):
        EclConfig(lgd=1.5)
    with pytest.raises(PortfolioInputError, match=r"ecl\.pd_12m_by_bucket"):
        EclConfig(pd_12m_by_bucket={"M0": 0.1})
    with pytest.raises(PortfolioInputError, match=r"ecl\.colour"):
        EclConfig.from_mapping({"colour": 1})
    assert EclConfig.from_mapping({"lgd": 0.6}).lgd == 0.6


def test_provision_entry_directions() -> None:
    up = provision_entry("CNY", date(2026, 1, 31), 100, 250)
    down = provision_entry("CNY", date(2026, 2, 28), 250, 200)
    assert up is not None and down is not None and provision_entry("CNY", date(2026, 3, 1), 5, 5) is None
    assert {p.code: p.amount_minor for p in up.postings} == {AccountCode.WRITE_OFF_EXPENSE: 150,
                                                             AccountCode.LOSS_ALLOWANCE: -150}
    assert {p.code: p.amount_minor for p in down.postings} == {AccountCode.WRITE_OFF_EXPENSE: -50,
                                                               AccountCode.LOSS_ALLOWANCE: 50}
    assert up.kind == EntryKind.PROVISION and up.entry_id == "provision-CNY-2026-01-31"


def _allowance(engine: Engine, currency: str) -> int:
    with UnitOfWork(engine) as uow:
        return -uow.ledger.balance(BalanceKey(AccountCode.LOSS_ALLOWANCE, currency, DEFAULT_FUNDER, ""))


def test_provision_on_a_demo_book(engine: Engine) -> None:
    run_demo(engine, loans_n=12, days=150)
    first = post_provision(engine, date(2026, 3, 30))
    targets = {c: v["ecl_minor"] for c, v in first["currencies"].items()}
    assert first["entries_posted"] == len([t for t in targets.values() if t])
    assert all(_allowance(engine, c) == t for c, t in targets.items())
    again = post_provision(engine, date(2026, 3, 30))
    assert again["entries_posted"] == 0 and all(v["already_posted"] for v in again["currencies"].values() if
                                                 v["ecl_minor"])
    released = post_provision(engine, date(2026, 3, 31), EclConfig(lgd=0.2))
    for currency, value in released["currencies"].items():
        assert value["change_minor"] <= 0 and _allowance(engine, currency) == value["ecl_minor"]
    with UnitOfWork(engine) as uow:
        assert uow.ledger.verify() == []
        totals = uow.ledger.trial_balance()
    for currency in targets:
        assert totals[(currency, AccountCode.WRITE_OFF_EXPENSE)] >= 0
    with pytest.raises(LedgerError, match="as_of"):
        post_provision(engine, date(2026, 3, 1))
    report = portfolio_report(engine)
    assert report["ecl"]["allowance_minor"] == {c: v["ecl_minor"] for c, v in released["currencies"].items()}
