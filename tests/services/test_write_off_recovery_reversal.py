"""Losses and corrections through the stored book, on SQLite and PostgreSQL: write-off through the
loan's loss allowance, the month-end provision releasing what is no longer needed, recoveries after
write-off, reversals of a bounced payment replayed over closed days, and the loan-level
reconciliation of `lendstack ledger verify`."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select, update
from tests.book_dates import advance_to

from lendstack.ledger import AccountCode, EntryKind
from lendstack.money import Money
from lendstack.risk.ecl import loan_ecl
from lendstack.services.eod import run_eod
from lendstack.services.loans import (
    book_loan,
    disburse_loan,
    get_loan,
    recover_loan,
    repay_loan,
    reverse_loan_payment,
    summary,
    write_off_loan,
)
from lendstack.services.monitoring import loan_allowances, portfolio_report, post_provision, read_loans
from lendstack.servicing import LoanStatus, ServicingError
from lendstack.store import UnitOfWork
from lendstack.store.reconcile_repo import reconcile_loans
from lendstack.store.tables import journal_entries, loans, postings

A = AccountCode
ON = date(2026, 1, 15)
CNY = "CNY"


def two_loans(engine: Engine) -> None:
    for loan_id in ("GOOD", "BAD"):
        book_loan(engine, loan_id=loan_id, product="consumer_cny_12m", amount=Money(1_200_000, CNY), term=12,
                  key=f"book-{loan_id}", on=ON)
        disburse_loan(engine, loan_id, ON, f"disb-{loan_id}")


def pay_what_is_due(engine: Engine, loan_id: str, key: str) -> None:
    loan = get_loan(engine, loan_id)
    with UnitOfWork(engine) as uow:
        day = uow.book.business_date()
    assert day is not None
    due = sum(i.unpaid(c) for i in loan.installments if i.due_date <= day for c in ("principal", "interest", "fee"))
    owed = due + loan.penalty_receivable_minor
    if owed:
        repay_loan(engine, loan_id, None, Money(owed, CNY), key)


def totals(engine: Engine) -> dict[AccountCode, int]:
    with UnitOfWork(engine) as uow:
        return {code: amount for (currency, code), amount in uow.ledger.trial_balance().items() if currency == CNY}


def test_write_off_uses_the_allowance_and_the_month_end_leaves_1304_at_the_live_ecl(engine: Engine) -> None:
    two_loans(engine)
    for month_end in (date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30), date(2026, 5, 31)):
        advance_to(engine, month_end - timedelta(days=5))
        pay_what_is_due(engine, "GOOD", f"good-{month_end}")
        run_eod(engine, month_end)  # the month end posts the provision, per loan
    with UnitOfWork(engine) as uow:
        allowance = loan_allowances(uow.connection)
    held = allowance[(CNY, "self", "BAD")]
    assert held > 0 and allowance[(CNY, "self", "GOOD")] > 0
    bad = get_loan(engine, "BAD")
    assert bad.non_accrual, "more than 90 days past due by May"
    out = write_off_loan(engine, "BAD", None, "wo")
    loss = bad.principal_outstanding_minor + bad.fee_receivable_minor  # interest and penalty were memo
    assert out["loss_minor"] == loss
    assert out["allowance_used_minor"] == min(held, loss)
    assert out["expense_minor"] == loss - min(held, loss)
    run_eod(engine, date(2026, 6, 30))  # the next month end releases what the written-off loan still held
    with UnitOfWork(engine) as uow:
        ecl = loan_ecl(read_loans(uow.connection))
        allowance = loan_allowances(uow.connection)
    live_ecl = int(ecl["ecl_minor"].sum())
    tb = totals(engine)
    assert -tb[A.LOSS_ALLOWANCE] == live_ecl == allowance[(CNY, "self", "GOOD")]
    assert (CNY, "self", "BAD") not in allowance
    # 6701 = the live book's allowance + what was lost net of recoveries (none yet): counted once.
    assert tb[A.WRITE_OFF_EXPENSE] == live_ecl + loss


def test_a_recovery_goes_back_through_the_allowance_and_6701_shows_the_net_credit_loss(engine: Engine) -> None:
    two_loans(engine)
    advance_to(engine, ON + timedelta(days=200))
    bad = get_loan(engine, "BAD")
    write_off_loan(engine, "BAD", None, "wo")
    written = get_loan(engine, "BAD")
    assert written.status is LoanStatus.WRITTEN_OFF
    with pytest.raises(ServicingError) as err:
        repay_loan(engine, "BAD", None, Money(1_000, CNY), "repay-after-write-off")
    assert err.value.field == "status"
    first = recover_loan(engine, "BAD", None, Money(300_000, CNY), "rec-1")
    again = recover_loan(engine, "BAD", None, Money(300_000, CNY), "rec-1")  # a retry: once only
    assert first == again and get_loan(engine, "BAD").recovered_minor == 300_000
    with pytest.raises(ServicingError) as err:
        recover_loan(engine, "BAD", None, Money(written.written_off_minor, CNY), "too-much")
    assert err.value.field == "amount"
    with pytest.raises(ServicingError) as err:
        recover_loan(engine, "GOOD", None, Money(1, CNY), "not-written-off")
    assert err.value.field == "status"
    assert get_loan(engine, "BAD").status is LoanStatus.WRITTEN_OFF
    post_provision(engine)  # dated on the business date
    tb = totals(engine)
    loss = bad.principal_outstanding_minor + bad.fee_receivable_minor
    with UnitOfWork(engine) as uow:
        live_ecl = int(loan_ecl(read_loans(uow.connection))["ecl_minor"].sum())
    assert tb[A.WRITE_OFF_EXPENSE] == live_ecl + loss - 300_000
    assert tb[A.MEMO_WRITTEN_OFF] == written.written_off_minor - 300_000
    assert summary(get_loan(engine, "BAD"))["recovered_minor"] == 300_000
    report = portfolio_report(engine)
    assert report["charge_offs"][CNY] == {
        "charged_off_minor": bad.principal_outstanding_minor, "claim_written_off_minor": written.written_off_minor,
        "recovered_minor": 300_000, "net_charge_off_minor": bad.principal_outstanding_minor - 300_000}


def test_a_bounced_payment_is_reversed_today_and_the_days_since_are_replayed(engine: Engine) -> None:
    two_loans(engine)
    first_due = get_loan(engine, "BAD").installments[0].due_date
    advance_to(engine, first_due)
    inst = get_loan(engine, "BAD").installments[0]
    repay_loan(engine, "BAD", None, Money(inst.principal_minor + inst.interest_minor, CNY), "cheque")
    advance_to(engine, first_due + timedelta(days=40))  # the cheque bounced; 40 days are closed since
    paid = get_loan(engine, "BAD")
    closed = first_due + timedelta(days=39)  # the last day end of day closed
    assert paid.days_past_due == (closed - paid.installments[1].due_date).days  # the 2nd is late, the 1st "paid"
    with UnitOfWork(engine) as uow:
        before_rows = {e.entry_id: e for e in uow.ledger.entries_for_loan("BAD")}
        as_of_closed_day = uow.ledger.trial_balance(first_due + timedelta(days=10))
    out = reverse_loan_payment(engine, "BAD", "BAD/repay/cheque", None, "rv-1", "cheque bounced")
    assert out == reverse_loan_payment(engine, "BAD", "BAD/repay/cheque", None, "rv-1", "cheque bounced")
    loan = get_loan(engine, "BAD")
    assert loan.days_past_due == (closed - first_due).days and loan.installments[0].is_open, "re-opened, DPD recomputed"
    assert loan.penalty_receivable_minor > paid.penalty_receivable_minor
    with UnitOfWork(engine) as uow:
        after = uow.ledger.entries_for_loan("BAD")
        assert uow.ledger.trial_balance(first_due + timedelta(days=10)) == as_of_closed_day  # history kept
        assert uow.ledger.verify() == [] and reconcile_loans(uow.connection).ok
    new = [e for e in after if e.entry_id not in before_rows]
    today = first_due + timedelta(days=40)
    assert {e.effective_date for e in new} == {today}
    assert {e.kind for e in new} == {EntryKind.REVERSAL, EntryKind.CORRECTION}
    with pytest.raises(ServicingError) as err:
        reverse_loan_payment(engine, "BAD", "BAD/repay/cheque", None, "rv-2", "again")
    assert err.value.field == "entry_id"
    with pytest.raises(ServicingError) as err:
        reverse_loan_payment(engine, "BAD", "BAD/disburse/disb-BAD", None, "rv-3", "not a payment")
    assert err.value.field == "entry_id"
    with pytest.raises(ServicingError) as err:
        reverse_loan_payment(engine, "BAD", "BAD/repay/cheque", None, "rv-4", "  ")
    assert err.value.field == "reason"


def test_a_loan_without_a_servicing_log_is_not_reversed(engine: Engine) -> None:
    two_loans(engine)
    advance_to(engine, ON + timedelta(days=3))
    repay_loan(engine, "GOOD", None, Money(10_000, CNY), "pay")
    with engine.begin() as conn:  # a loan booked before the log was kept (migration 0013)
        conn.exec_driver_sql("DELETE FROM loan_commands WHERE loan_id = 'GOOD'")
    with pytest.raises(ServicingError) as err:
        reverse_loan_payment(engine, "GOOD", "GOOD/repay/pay", None, "rv", "bounced")
    assert err.value.field == "loan_id"


def test_reconciliation_lists_a_loan_whose_counters_differ_from_its_sub_ledger(engine: Engine) -> None:
    two_loans(engine)
    advance_to(engine, ON + timedelta(days=130))
    with UnitOfWork(engine) as uow:
        clean = reconcile_loans(uow.connection)
    assert clean.ok and clean.loans_checked == 2
    with engine.begin() as conn:  # someone edits a stored balance by hand
        conn.execute(update(loans).where(loans.c.loan_id == "BAD").values(suspense_minor=loans.c.suspense_minor + 7))
    with UnitOfWork(engine) as uow:
        found = reconcile_loans(uow.connection)
    assert not found.ok and found.loans_differing == 1
    assert found.differences[0]["loan_id"] == "BAD"
    assert found.differences[0]["accounts"] == {"2241": {"loan_minor": -7, "ledger_minor": 0}}


def test_the_reconciliation_sql_equals_the_domains_expected_balances(engine: Engine) -> None:
    """The SQL twin of `expected_balances` against the domain, on a book with non-accrual, a write-off
    and a recovery: every loan and every sub-ledger account agree."""
    two_loans(engine)
    advance_to(engine, ON + timedelta(days=150))
    write_off_loan(engine, "BAD", None, "wo")
    recover_loan(engine, "BAD", None, Money(1_000, CNY), "rec")
    with UnitOfWork(engine) as uow:
        assert reconcile_loans(uow.connection).ok
        for loan_id in ("GOOD", "BAD"):
            from lendstack.servicing import expected_balances

            stored = {k: v for k, v in uow.ledger.balances_for_loan(loan_id).items()
                      if k in expected_balances(uow.loans.get(loan_id)) or k.code in (
                          A.MEMO_WRITTEN_OFF, A.MEMO_CONTRA, A.MEMO_INTEREST, A.LOAN_PRINCIPAL)}
            assert stored == expected_balances(uow.loans.get(loan_id))
        n = uow.connection.execute(select(func.count()).select_from(postings)
                                   .where(postings.c.account_code == A.MEMO_WRITTEN_OFF.value)).scalar_one()
        assert n == 2  # the write-off's claim and the recovery
        assert uow.connection.execute(select(func.count()).select_from(journal_entries).where(
            journal_entries.c.kind == EntryKind.RECOVERY.value)).scalar_one() == 1



@settings(max_examples=50, deadline=None)
@given(targets=st.dictionaries(st.sampled_from(["L1", "L2", "L3", "L4"]), st.integers(0, 10**9), max_size=4),
       held=st.dictionaries(st.sampled_from(["", "L1", "L2", "L5"]), st.integers(-10**9, 10**9), max_size=4))
def test_the_columnar_provision_equals_the_pure_provision_entries(targets: dict[str, int],
                                                                 held: dict[str, int]) -> None:
    """The month-end provision is built as columns (a million loans); it posts exactly the entries
    of the pure `provision_entries`."""
    import polars as pl

    from lendstack.risk.ecl import provision_entries
    from lendstack.services.monitoring import allowance_moves, provision_columns
    from lendstack.store import columns_from_entries

    per_loan = pl.DataFrame({"loan_id": list(targets), "currency": [CNY] * len(targets),
                             "ecl_minor": list(targets.values())}, schema={"loan_id": pl.String, "currency": pl.String,
                                                                            "ecl_minor": pl.Int64})
    frame = pl.DataFrame({"loan_id": list(targets), "funder_id": ["self"] * len(targets)},
                         schema={"loan_id": pl.String, "funder_id": pl.String})
    held_keys = {(CNY, "self", loan): v for loan, v in held.items()}
    day = date(2026, 3, 31)
    entry_cols, posting_cols = provision_columns(allowance_moves(per_loan, frame, held_keys), day, 2)
    pure = provision_entries({(CNY, "self", loan): v for loan, v in targets.items()}, held_keys, day, 2)
    want_entries, want_postings = columns_from_entries(pure)
    assert list(entry_cols.entry_ids) == list(want_entries.entry_ids)
    assert list(entry_cols.memos or []) == list(want_entries.memos or [])
    assert list(entry_cols.metadata or []) == list(want_entries.metadata or [])
    assert list(posting_cols.codes) == list(want_postings.codes)
    assert [int(a) for a in posting_cols.amounts_minor] == list(want_postings.amounts_minor)
    assert list(posting_cols.loan_ids) == list(want_postings.loan_ids)
    assert [int(i) for i in posting_cols.entry_index] == list(want_postings.entry_index)
