"""The read-side repositories (portfolio, dashboard, report, browse) on a two-loan book built through
the services, on SQLite and PostgreSQL: what they read agrees with the loans the loan repository
loads and with the ledger."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine

from lendstack.ledger import AccountCode
from lendstack.money import Money
from lendstack.monitoring.portfolio import with_exposure
from lendstack.services.eod import run_eod
from lendstack.services.loans import book_loan, disburse_loan, get_loan, repay_loan
from lendstack.store.browse_repo import BrowseRepository
from lendstack.store.dashboard_repo import DashboardRepository, DayDisbursed, read_snapshot
from lendstack.store.portfolio_repo import PortfolioRepository
from lendstack.store.report_repo import ReportRepository

ON = date(2026, 1, 10)
LOANS = {"R1": 1_200_000, "R2": 600_000}


def _book(engine: Engine) -> date:
    """R1 pays its first installment on its due date, R2 pays nothing; days closed to 5 days after."""
    for loan_id, amount_minor in LOANS.items():
        book_loan(engine, loan_id=loan_id, product="consumer_cny_12m", amount=Money(amount_minor, "CNY"), term=12,
                  on=ON, key=f"book-{loan_id}")
        disburse_loan(engine, loan_id, ON, f"disb-{loan_id}")
    first = get_loan(engine, "R1").installments[0]
    run_eod(engine, first.due_date - timedelta(days=1), hooks=False)
    owed = first.principal_minor + first.interest_minor + first.fee_minor
    repay_loan(engine, "R1", first.due_date, Money(owed, "CNY"), "pay-R1")
    run_eod(engine, first.due_date + timedelta(days=5), hooks=False)
    return first.due_date


def test_read_repositories_agree_with_the_loans_and_the_ledger(engine: Engine) -> None:
    due = _book(engine)
    loans = {loan_id: get_loan(engine, loan_id) for loan_id in LOANS}
    outstanding = {loan_id: loan.principal_outstanding_minor for loan_id, loan in loans.items()}
    with read_snapshot(engine) as conn:
        portfolio = PortfolioRepository(conn)
        frame = with_exposure(portfolio.loans_frame())
        assert dict(zip(frame["loan_id"].to_list(), frame["principal_outstanding_minor"].to_list(),
                        strict=True)) == outstanding
        assert portfolio.installments_frame().height == sum(len(loan.installments) for loan in loans.values())
        paid = portfolio.payments_frame()
        assert paid.rows() == [("R1", due, loans["R1"].principal_repaid_minor + loans["R1"].interest_paid_minor
                                + loans["R1"].fee_paid_minor)]
        assert portfolio.ledger_by_currency(AccountCode.LOAN_PRINCIPAL) == {"CNY": sum(outstanding.values())}
        assert portfolio.allowances(["CNY"]) == {"CNY": 0} == portfolio.allowances(["CNY"], due)
        assert portfolio.loan_allowances() == {}
        assert portfolio.provisions_on(due) == 0 and portfolio.last_provision_on() is None
        assert portfolio.loan_origins_frame().height == 0  # booked by hand: no application

        flows = DashboardRepository(conn)
        assert flows.currencies() == ["CNY"]
        assert flows.latest_disbursement_day() == ON and flows.latest_application_day() is None
        assert flows.disbursed_by_day(ON, due, None) == {(ON, "CNY"): DayDisbursed(2, sum(LOANS.values()))}
        assert flows.disbursed_by_day(ON, due, "USD") == {}
        assert flows.applications_by_day(ON, due, None, approved=("approved",), declined=("declined",),
                                         referred=("referred",)) == {}

        reports = ReportRepository(conn)
        groups = reports.aging_groups()
        assert sum(g.loans for g in groups) == 2 and sum(g.principal_minor for g in groups) == sum(
            outstanding.values())
        assert reports.loans_by_status() == {"active": 1, "overdue": 1}
        assert reports.non_accrual_loans() == 0
        npl = reports.npl_sums()
        assert [(n.currency, n.bad_minor, n.total_minor) for n in npl] == [("CNY", 0, sum(outstanding.values()))]
        outcomes = {o.loan_id: o for o in reports.loan_outcomes(["R1", "R2", "nope"])}
        assert set(outcomes) == {"R1", "R2"} and outcomes["R2"].days_past_due == loans["R2"].days_past_due == 5
        assert reports.newest_decisions(10) == []
        now = datetime.now(UTC)
        assert reports.audited_calls(now - timedelta(days=1), now + timedelta(days=1), 10) == []
        assert reports.api_keys() == []

        browse = BrowseRepository(conn)
        page = browse.loan_page(None, 10, 0)
        assert [(r.loan_id, r.principal_outstanding_minor) for r in page] == sorted(outstanding.items())
        assert [r.loan_id for r in browse.loan_page("overdue", 10, 0)] == ["R2"]
        assert browse.loan_page(None, 10, 2) == []
        assert browse.loan_exists("R1") and not browse.loan_exists("R3")
        events = browse.loan_events("R1", 100)
        assert "loan.disbursed" in [e.event_type for e in events]
        assert len(browse.loan_events("R1", 1)) == 1
        assert browse.application_page(None, 10, 0) == [] and browse.application_record("A1") is None
