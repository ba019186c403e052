"""EOD's after-loan hooks (SQLite and PostgreSQL): early warning after every closed day, the ECL
provision at each month end, both idempotent, switchable, through catch-up and resume."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Engine, func, select

from lendstack.ledger import DEFAULT_FUNDER, AccountCode, BalanceKey, EntryKind
from lendstack.money import Money
from lendstack.services.eod import is_month_end, run_eod
from lendstack.services.loans import book_loan, disburse_loan, get_loan, repay_loan
from lendstack.services.monitoring import post_provision
from lendstack.servicing import Loan
from lendstack.store import UnitOfWork
from lendstack.store.tables import journal_entries
from lendstack.store.tables_monitoring import ew_alerts

ON = date(2026, 1, 20)
PPM = {"M0": 9_000, "M1": 36_000}  # PD 12m × LGD 0.45 in parts per million (stage 1, by bucket)


def small_book(engine: Engine) -> list[str]:
    ids = []
    for k, amount in enumerate((6_000_00, 9_000_00, 12_000_00)):
        loan_id = f"H{k}"
        book_loan(engine, loan_id=loan_id, product="consumer_cny_12m", amount=Money(amount, "CNY"), term=12, on=ON,
                  key=f"book-{loan_id}")
        disburse_loan(engine, loan_id, ON, f"disb-{loan_id}")
        ids.append(loan_id)
    return ids


def provisions(engine: Engine) -> list[tuple[date, str]]:
    e = journal_entries.c
    with engine.connect() as conn:
        rows = conn.execute(select(e.effective_date, e.entry_id).where(e.kind == EntryKind.PROVISION.value)
                            .order_by(e.effective_date)).all()
    return [(r[0], r[1]) for r in rows]


def counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        entries = conn.execute(select(func.count()).select_from(journal_entries)).scalar_one()
        alerts = conn.execute(select(func.count()).select_from(ew_alerts)).scalar_one()
    return int(entries), int(alerts)


def expected_ecl(loan: Loan) -> int:
    """Stage-1 ECL written out by hand: EAD × PD × LGD, half up to the fen."""
    ead = (loan.principal_outstanding_minor + loan.interest_receivable_minor + loan.fee_receivable_minor
           + loan.penalty_receivable_minor)
    return (ead * PPM[loan.bucket] + 500_000) // 1_000_000


def allowance(engine: Engine) -> int:
    with UnitOfWork(engine) as uow:
        return -uow.ledger.balance(BalanceKey(AccountCode.LOSS_ALLOWANCE, "CNY", DEFAULT_FUNDER, ""))


def test_catch_up_runs_early_warning_daily_and_provisions_each_month_end(engine: Engine) -> None:
    ids = small_book(engine)
    first_due = get_loan(engine, ids[0]).installments[0].due_date
    run_eod(engine, first_due - timedelta(days=1), hooks=False)
    for k in (0, 1):  # two pay their first installment, H2 never pays
        due = get_loan(engine, ids[k]).installments[0]
        repay_loan(engine, ids[k], due.due_date, Money(due.principal_minor + due.interest_minor + due.fee_minor,
                                                        "CNY"), f"pay-{k}")
    assert provisions(engine) == []  # the first stretch ran with the hooks off
    closed = get_loan(engine, ids[0]).accrued_through
    assert closed is not None
    report = run_eod(engine, date(2026, 2, 28))  # several missed days in one call
    assert report.days == (date(2026, 2, 28) - closed).days
    assert report.early_warning_runs == report.days + 1  # + the last closed day again, in case a kill skipped it
    assert [d for d, _ in provisions(engine)] == [d for d in _days(closed) if is_month_end(d)]
    loans = [get_loan(engine, i) for i in ids]
    assert loans[2].days_past_due == (date(2026, 2, 28) - first_due).days > 0
    assert allowance(engine) == sum(expected_ecl(loan) for loan in loans)  # the Feb 28 provision, to the fen
    with engine.connect() as conn:
        raised = conn.execute(select(ew_alerts.c.loan_id, ew_alerts.c.indicator)).all()
    assert {loan_id for loan_id, _ in raised} == {ids[2]}  # only the borrower who missed a payment
    before = counts(engine)
    again = run_eod(engine, date(2026, 2, 28))
    assert (again.days, again.alerts_new, again.provisions_posted) == (0, 0, 0) and counts(engine) == before


def _days(closed: date) -> list[date]:
    return [closed + timedelta(days=n) for n in range(1, (date(2026, 2, 28) - closed).days + 1)]


def test_hooks_off_measure_the_close_alone(engine: Engine) -> None:
    small_book(engine)
    report = run_eod(engine, date(2026, 3, 31), hooks=False)
    assert report.days > 60 and (report.early_warning_runs, report.provisions_posted) == (0, 0)
    assert provisions(engine) == [] and counts(engine)[1] == 0


def test_a_provision_posted_ahead_is_not_rewritten(engine: Engine) -> None:
    small_book(engine)
    run_eod(engine, date(2026, 1, 25), hooks=False)
    post_provision(engine, date(2026, 2, 10))  # by hand, ahead of the book
    run_eod(engine, date(2026, 3, 1))
    assert [d for d, _ in provisions(engine)] == [date(2026, 2, 10), date(2026, 2, 28)]  # Jan 31 skipped, no error


def test_a_killed_run_resumes_with_its_hooks(engine: Engine) -> None:
    small_book(engine)
    run_eod(engine, date(2026, 1, 30), hooks=False)
    partial = run_eod(engine, date(2026, 2, 2), chunk_loans=1, max_chunks=2)  # "killed" inside Jan 31
    assert partial.days == 0 and provisions(engine) == []
    run_eod(engine, date(2026, 2, 2), chunk_loans=1)
    assert [d for d, _ in provisions(engine)] == [date(2026, 1, 31)]
    with UnitOfWork(engine) as uow:
        assert uow.loans.closed_through() == date(2026, 2, 2) and uow.ledger.verify() == []
