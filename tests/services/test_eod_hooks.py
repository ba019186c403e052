"""EOD's after-loan hooks (SQLite and PostgreSQL): early warning after every closed day, the ECL
provision at each month end (one entry per loan whose allowance moves), both idempotent,
switchable, through catch-up and resume."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import Engine, func, select
from tests.book_dates import advance_to

from lendstack.ledger import EntryKind
from lendstack.money import Money
from lendstack.services.eod import is_month_end, run_eod
from lendstack.services.loans import book_loan, disburse_loan, get_loan, repay_loan
from lendstack.services.monitoring import loan_allowances, post_provision
from lendstack.servicing import Loan, ServicingError
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
                            .order_by(e.effective_date, e.entry_id)).all()
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


def allowances(engine: Engine) -> dict[str, int]:
    """Each loan's loss allowance (1304 is per loan) as a positive amount."""
    with UnitOfWork(engine) as uow:
        held = loan_allowances(uow.connection)
    assert {c for c, _f, _loan in held} <= {"CNY"}
    return {loan_id: amount for (_c, _f, loan_id), amount in held.items()}


def provision_dates(engine: Engine) -> list[date]:
    return sorted({d for d, _ in provisions(engine)})


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
    report = run_eod(engine, date(2026, 2, 28))  # several days in one call
    assert report.days == (date(2026, 2, 28) - closed).days
    # One run per day: a day's hooks run before the business date moves past it, so nothing is repeated
    assert report.early_warning_runs == report.days
    assert provision_dates(engine) == [d for d in _days(closed) if is_month_end(d)]
    month_ends = provision_dates(engine)
    assert {entry_id for d, entry_id in provisions(engine) if d == month_ends[-1]} == {
        f"{i}/provision/{month_ends[-1].isoformat()}/0" for i in ids}  # one entry per loan, each moved
    assert report.provisions_posted == len(provisions(engine))
    loans = [get_loan(engine, i) for i in ids]
    assert loans[2].days_past_due == (date(2026, 2, 28) - first_due).days > 0
    # the Feb 28 provision, per loan, to the fen
    assert allowances(engine) == {loan.loan_id: expected_ecl(loan) for loan in loans}
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


def test_a_provision_by_hand_is_dated_on_the_business_date_and_not_rewritten(engine: Engine) -> None:
    """A hand provision ahead of the book used to be allowed (end of day then skipped the month end
    before it). Now it is a money command: dated on the business date, or refused writing nothing.
    One on the business date stays as posted; a month end's provision the same day posts only what
    moved since, under new entry ids."""
    small_book(engine)
    run_eod(engine, date(2026, 1, 25), hooks=False)
    before = counts(engine)
    with pytest.raises(ServicingError, match="as_of"):
        post_provision(engine, date(2026, 2, 10))  # by hand, ahead of the book
    assert counts(engine) == before and provisions(engine) == []
    assert post_provision(engine)["as_of"] == "2026-01-26"  # left out: the business date
    advance_to(engine, date(2026, 1, 31))
    by_hand = post_provision(engine, date(2026, 1, 31))  # on a month end, before end of day closes it
    assert by_hand["entries_posted"] == 3
    posted = set(provisions(engine))
    run_eod(engine, date(2026, 3, 1))
    assert posted <= set(provisions(engine))  # the hand entries stay as they were
    assert provision_dates(engine) == [date(2026, 1, 26), date(2026, 1, 31), date(2026, 2, 28)]  # no error
    eod_jan31 = {entry_id for d, entry_id in provisions(engine) if d == date(2026, 1, 31)} - {e for _, e in posted}
    assert eod_jan31 and all(not e.endswith("/0") for e in eod_jan31)  # a second run that day: new ids


def test_a_killed_run_resumes_with_its_hooks(engine: Engine) -> None:
    small_book(engine)
    run_eod(engine, date(2026, 1, 30), hooks=False)
    partial = run_eod(engine, date(2026, 2, 2), chunk_loans=1, max_chunks=2)  # "killed" inside Jan 31
    assert partial.days == 0 and provisions(engine) == []
    run_eod(engine, date(2026, 2, 2), chunk_loans=1)
    assert provisions(engine) == [(date(2026, 1, 31), f"H{k}/provision/2026-01-31/0") for k in range(3)]
    with UnitOfWork(engine) as uow:
        assert uow.loans.closed_through() == date(2026, 2, 2) and uow.ledger.verify() == []
