"""ECL staging boundaries and arithmetic; the provision posted to the ledger on both backends, per
loan: balanced, dated on the business date, idempotent, released when the allowance falls or the
loan leaves the book."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Engine, func, select
from tests.book_dates import advance_to
from tests.monitoring.books import loan, loans_frame
from tests.sample_book import run_demo

from lendstack.ledger import AccountCode, EntryKind, LedgerError
from lendstack.money import Money
from lendstack.monitoring.portfolio import PortfolioInputError
from lendstack.risk.ecl import EclConfig, ecl_by_currency, loan_ecl, provision_entries
from lendstack.services.loans import get_loan, prepay_loan
from lendstack.services.monitoring import loan_allowances, portfolio_report, post_provision
from lendstack.servicing import LoanStatus, ServicingError
from lendstack.servicing.balances import amount_due_minor as amount_due_of
from lendstack.store import UnitOfWork
from lendstack.store.tables import journal_entries, postings


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


KEY = "CNY", "self"


def test_provision_entries_move_each_loans_allowance_to_its_target() -> None:
    targets = {(*KEY, "L1"): 250, (*KEY, "L2"): 200, (*KEY, "L4"): 5, ("CNY", "funder-b", "L5"): 70}
    held = {(*KEY, "L1"): 100, (*KEY, "L2"): 250, (*KEY, "L3"): 40, (*KEY, "L4"): 5}
    entries = provision_entries(targets, held, date(2026, 1, 31), 0)
    by_loan = {e.loan_id: e for e in entries}
    assert sorted(by_loan) == ["L1", "L2", "L3", "L5"]  # L4 is at its target: no entry
    expected = {"L1": 150, "L2": -50, "L3": -40, "L5": 70}  # L3 is no longer live: all of it released
    for loan_id, change in expected.items():
        entry = by_loan[loan_id]
        assert {p.code: p.amount_minor for p in entry.postings} == {AccountCode.WRITE_OFF_EXPENSE: change,
                                                                    AccountCode.LOSS_ALLOWANCE: -change}
        assert all(p.loan_id == loan_id and p.currency == "CNY" for p in entry.postings)
        assert entry.kind == EntryKind.PROVISION and entry.effective_date == date(2026, 1, 31)
        assert entry.entry_id == f"{loan_id}/provision/2026-01-31/0"
    assert {p.funder_id for p in by_loan["L5"].postings} == {"funder-b"}
    assert {p.funder_id for p in by_loan["L1"].postings} == {"self"}
    assert by_loan["L1"].metadata == {"allowance_before_minor": "100", "allowance_after_minor": "250"}
    assert "charge" in by_loan["L1"].memo and "release" in by_loan["L2"].memo
    assert provision_entries(targets, targets, date(2026, 1, 31), 0) == []
    (again,) = provision_entries({(*KEY, "L1"): 300}, {(*KEY, "L1"): 250}, date(2026, 1, 31), 3)
    assert again.entry_id == "L1/provision/2026-01-31/3"  # a later run the same day: a new id


def _allowances(engine: Engine) -> dict[str, int]:
    """Each loan's loss allowance (1304 is a contra-asset: credit) as a positive amount."""
    with UnitOfWork(engine) as uow:
        held = loan_allowances(uow.connection)
    assert all(loan_id for _c, _f, loan_id in held), held  # no book-level allowance
    return {loan_id: amount for (_c, _f, loan_id), amount in held.items()}


def _allowance(engine: Engine, currency: str) -> int:
    with UnitOfWork(engine) as uow:
        held = loan_allowances(uow.connection)
    return sum(amount for (c, _f, _loan), amount in held.items() if c == currency)


def _entries(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(journal_entries)).scalar_one())


def _ecl_by_loan(result: dict[str, Any]) -> dict[str, int]:
    return {r["loan_id"]: r["ecl_minor"] for r in result["per_loan"] if r["ecl_minor"]}


def test_provision_on_a_demo_book(engine: Engine) -> None:
    run_demo(engine, loans_n=12, days=149)  # closed through 2026-03-29: the business date is 2026-03-30
    first = post_provision(engine)  # dated on the business date
    assert first["as_of"] == "2026-03-30"
    targets = {c: v["ecl_minor"] for c, v in first["currencies"].items()}
    per_loan = _ecl_by_loan(first)
    assert per_loan and first["entries_posted"] == len(per_loan)  # one entry per loan whose allowance moved
    assert _allowances(engine) == per_loan  # each live loan's allowance is its ECL
    assert all(_allowance(engine, c) == t for c, t in targets.items())
    again = post_provision(engine, date(2026, 3, 30))
    assert again["entries_posted"] == 0 and all(v["already_posted"] and v["change_minor"] == 0
                                                for v in again["currencies"].values())
    before = _entries(engine)
    for day in (date(2026, 3, 29), date(2026, 3, 31)):  # a closed day; a day end of day has not reached
        with pytest.raises(ServicingError, match="as_of"):
            post_provision(engine, day)
    assert _entries(engine) == before

    # A loan leaves the book (prepaid in full): its allowance is released at the next provision.
    live = [get_loan(engine, loan_id) for loan_id in sorted(per_loan)]
    gone = next(loan for loan in live if loan.days_past_due == 0 and not loan.terms.prepayment_min_periods)
    payoff = amount_due_of(gone, date(2026, 3, 30)) + gone.principal_outstanding_minor * 11 // 10
    prepay_loan(engine, gone.loan_id, date(2026, 3, 30), Money(payoff, gone.currency), "gone", full=True)
    assert get_loan(engine, gone.loan_id).status == LoanStatus.CLOSED
    assert _allowances(engine)[gone.loan_id] == per_loan[gone.loan_id]  # still held until the provision

    advance_to(engine, date(2026, 3, 31))
    released = post_provision(engine, date(2026, 3, 31), EclConfig(lgd=0.2))
    for currency, value in released["currencies"].items():
        assert value["change_minor"] <= 0 and _allowance(engine, currency) == value["ecl_minor"]
    after = _ecl_by_loan(released)
    assert gone.loan_id not in after and _allowances(engine) == after
    with UnitOfWork(engine) as uow:
        assert uow.ledger.verify() == []
        totals = uow.ledger.trial_balance()
        release = uow.connection.execute(
            select(postings.c.amount_minor).select_from(postings.join(journal_entries)).where(
                journal_entries.c.entry_id == f"{gone.loan_id}/provision/2026-03-31/0",
                postings.c.account_code == AccountCode.LOSS_ALLOWANCE.value)).scalar_one()
    assert release == per_loan[gone.loan_id]  # Dr 1304: the whole allowance back
    for currency in targets:
        assert totals[(currency, AccountCode.WRITE_OFF_EXPENSE)] >= 0
    with pytest.raises(LedgerError, match="as_of"):  # end of day's own date, behind the latest provision
        post_provision(engine, date(2026, 3, 30), dated=False)
    report = portfolio_report(engine)
    assert report["ecl"]["allowance_minor"] == {c: v["ecl_minor"] for c, v in released["currencies"].items()}
