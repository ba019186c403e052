"""A hypothesis state machine over the servicing core: random loans on random products take random
commands day after day — repay, prepay, refund, restructure, write-off, recover, reverse — and end of
day closes each day, through non-accrual, restructure observation and back.

After every step:
- every journal entry balances (JournalEntry asserts it on construction) and so does the book;
- every loan equals its sub-ledger: principal, interest, fee, penalty, suspense, unearned and the
  memo accounts (`expected_balances`);
- no end of day ever posts income for a loan that was in non-accrual (cash received is income when
  received; accrual is not);
- the columnar end of day gives the same loans and entries as the reference, day by day;
- (at the end of each run) replaying a loan's log gives the loan as it stands, which is what a
  reversal relies on; a reversal itself checks it before acting.

And the reversal property: reversing a payment at the end gives the loan and the balances of a book
on which the payment never happened (the rest of its commands applied directly), except for the
dates of the correcting entries; or, when a later command needs the payment, the reversal is
refused naming it and changes nothing.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule

from lendstack.ledger import AccountCode, BalanceKey, EntryKind, JournalEntry, apply_entries, trial_balance
from lendstack.money import Money
from lendstack.products import LoanProduct
from lendstack.servicing import (
    Loan,
    LoanCommand,
    Outcome,
    ServicingError,
    book,
    disburse,
    eod_book,
    eod_one,
    expected_balances,
    prepay,
    recover,
    refund,
    repay,
    replay,
    restructure,
    reverse_payment,
    write_off,
)
from lendstack.servicing.loan import SUBLEDGER_CODES
from lendstack.servicing.replay import booking_params
from tests.servicing.servicing_strategies import START, products

A = AccountCode
INCOME = (A.INTEREST_INCOME, A.PENALTY_INCOME)
LOANS = 2


class Book:
    """Loans, their logs (as the service writes them) and every entry, on a business date."""

    def __init__(self) -> None:
        self.day = START
        self.loans: dict[str, Loan] = {}
        self.products: dict[str, LoanProduct] = {}
        self.logs: dict[str, list[LoanCommand]] = defaultdict(list)
        self.entries: list[JournalEntry] = []
        self.totals: dict[BalanceKey, int] = defaultdict(int)  # running balances of `entries`

    def post(self, entries: tuple[JournalEntry, ...] | list[JournalEntry]) -> None:
        self.entries += entries
        for e in entries:
            for p in e.postings:
                self.totals[p.key] += p.amount_minor

    def log(self, loan_id: str, kind: str, key: str, params: dict[str, object], entry_id: str = "") -> None:
        seq = len(self.logs[loan_id]) + 1
        self.logs[loan_id].append(LoanCommand(loan_id, seq, kind, self.day, key, params, entry_id))

    def take(self, loan_id: str, out: Outcome, kind: str, key: str, params: dict[str, object], entry: str) -> None:
        self.loans[loan_id] = out.loan
        self.post(out.entries)
        main = f"{loan_id}/{entry}/{key}"
        self.log(loan_id, kind, key, params, main if any(e.entry_id == main for e in out.entries) else "")

    def balances(self, loan_id: str) -> dict[BalanceKey, int]:
        return {k: v for k, v in self.totals.items() if v and k.loan_id == loan_id and k.code in SUBLEDGER_CODES}


class ServicingMachine(RuleBasedStateMachine):
    keys = Bundle("keys")

    def __init__(self) -> None:
        super().__init__()
        self.book = Book()
        self.n = 0

    def key(self) -> str:
        self.n += 1
        return f"k{self.n}"

    @initialize(chosen=st.lists(products(), min_size=LOANS, max_size=LOANS),
                amounts=st.lists(st.integers(100_000, 20_000_000), min_size=LOANS, max_size=LOANS),
                terms=st.lists(st.integers(1, 12), min_size=LOANS, max_size=LOANS))
    def open_loans(self, chosen: list[LoanProduct], amounts: list[int], terms: list[int]) -> None:
        for k, (product, amount, term) in enumerate(zip(chosen, amounts, terms, strict=True)):
            loan_id = f"L{k}"
            term = 1 if product.schedule_method == "bullet" else term
            booked = book(loan_id, product, Money(amount, "CNY"), term, on=self.book.day)
            self.book.products[loan_id] = product
            self.book.loans[loan_id] = booked.loan
            self.book.log(loan_id, "book", "b", booking_params(booked.loan))
            self.book.take(loan_id, disburse(booked.loan, self.book.day, "d"), "disburse", "d", {}, "disburse")

    # --- commands ------------------------------------------------------------------------------

    def attempt(self, loan_id: str, run: object, kind: str, key: str, params: dict[str, object], entry: str) -> None:
        try:
            out = run()  # type: ignore[operator]
        except ServicingError:
            return  # a refusal is a valid outcome: it changes nothing
        event(f"command {kind}")
        self.book.take(loan_id, out, kind, key, params, entry)

    @rule(which=st.integers(0, LOANS - 1), permille=st.integers(1, 3_000))
    def pay(self, which: int, permille: int) -> None:
        loan_id, loan = self.pick(which)
        amount = Money(max(1, loan.principal_minor // max(loan.term, 1) * permille // 1000), "CNY")
        key = self.key()
        self.attempt(loan_id, lambda: repay(loan, self.book.day, amount, key), "repay", key,
                     {"amount_minor": amount.amount_minor, "currency": "CNY"}, "repay")

    @rule(which=st.integers(0, LOANS - 1))
    def cure(self, which: int) -> None:
        """Pay exactly what is overdue: the loan is current at the next end of day (accrual resumes)."""
        loan_id, loan = self.pick(which)
        due = sum(i.unpaid(c) for i in loan.installments if i.due_date <= self.book.day
                  for c in ("principal", "interest", "fee"))
        owed = due + loan.penalty_receivable_minor + loan.interest_receivable_minor
        if owed <= 0:
            return
        amount = Money(owed, "CNY")
        key = self.key()
        self.attempt(loan_id, lambda: repay(loan, self.book.day, amount, key), "repay", key,
                     {"amount_minor": owed, "currency": "CNY"}, "repay")

    @rule(which=st.integers(0, LOANS - 1), permille=st.integers(1, 3_000), full=st.booleans())
    def pay_early(self, which: int, permille: int, full: bool) -> None:
        loan_id, loan = self.pick(which)
        amount = Money(max(1, loan.principal_minor * permille // 1000), "CNY")
        key = self.key()
        self.attempt(loan_id, lambda: prepay(loan, self.book.day, amount, key, full=full), "prepay", key,
                     {"amount_minor": amount.amount_minor, "currency": "CNY", "full": full}, "prepay")

    @rule(which=st.integers(0, LOANS - 1), share=st.integers(1, 100))
    def pay_back(self, which: int, share: int) -> None:
        loan_id, loan = self.pick(which)
        amount = max(1, loan.suspense_minor * share // 100)
        key = self.key()
        self.attempt(loan_id, lambda: refund(loan, amount, self.book.day, key, currency="CNY"), "refund", key,
                     {"amount_minor": amount, "currency": "CNY"}, "refund")

    @rule(which=st.integers(0, LOANS - 1), term=st.integers(1, 12), rate_ppm=st.integers(10_000, 200_000))
    def reschedule(self, which: int, term: int, rate_ppm: int) -> None:
        loan_id, loan = self.pick(which)
        rate = str(Decimal(rate_ppm) / 1_000_000)
        key = self.key()
        self.attempt(loan_id, lambda: restructure(loan, self.book.day, term, key, rate_annual=rate), "restructure",
                     key, {"term": term, "rate_annual": rate}, "restructure")

    @rule(which=st.integers(0, LOANS - 1), allowance=st.integers(0, 5_000_000))
    def write_down(self, which: int, allowance: int) -> None:
        loan_id, loan = self.pick(which)
        if loan.days_past_due < 30:
            return  # write-offs of current loans would end most runs early
        key = self.key()
        self.attempt(loan_id, lambda: write_off(loan, self.book.day, key, allowance_minor=allowance), "write_off",
                     key, {"allowance_minor": allowance}, "write-off")

    @rule(which=st.integers(0, LOANS - 1), share=st.integers(1, 120))
    def collect(self, which: int, share: int) -> None:
        loan_id, loan = self.pick(which)
        amount = Money(max(1, loan.written_off_minor * share // 100), "CNY")
        key = self.key()
        self.attempt(loan_id, lambda: recover(loan, self.book.day, amount, key), "recover", key,
                     {"amount_minor": amount.amount_minor, "currency": "CNY"}, "recovery")

    @rule(which=st.integers(0, LOANS - 1), choice=st.integers(0, 10**6))
    def undo(self, which: int, choice: int) -> None:
        loan_id, loan = self.pick(which)
        payments = [c for c in self.book.logs[loan_id] if c.kind in ("repay", "prepay") and c.entry_id
                    and not c.reversed_by]
        if not payments:
            return
        target = payments[choice % len(payments)]
        key = self.key()
        actual = [e for e in self.book.entries if any(p.loan_id == loan_id for p in e.postings)]
        before = (dict(self.book.loans), len(self.book.entries))
        try:
            out = reverse_payment(loan, self.book.logs[loan_id], actual, entry_id=target.entry_id,
                                  on=self.book.day, key=key, reason="bounced")
        except ServicingError as exc:
            assert exc.field == "entry_id", exc  # a later command needs the payment: nothing changes
            assert (dict(self.book.loans), len(self.book.entries)) == before
            event("reversal refused")
            return
        event("reversal")
        log = self.book.logs[loan_id]
        log[target.seq - 1] = dataclasses.replace(target, reversed_by=key)
        self.book.take(loan_id, out, "reverse", key, {"entry_id": target.entry_id, "reason": "bounced"}, "reverse")

    @rule(days=st.sampled_from([1, 3, 10, 31, 95]))  # long gaps too: non-accrual, observation ends
    def end_of_day(self, days: int) -> None:
        for _ in range(days):
            day = self.book.day
            live = [lid for lid, loan in self.book.loans.items() if loan.accrued_through == day - timedelta(days=1)]
            columnar = eod_book([self.book.loans[lid] for lid in live], day)
            for lid, col in zip(live, columnar, strict=True):
                ref = eod_one(self.book.loans[lid], day)
                assert col.loan == ref.loan and col.entries == ref.entries, lid
                if self.book.loans[lid].non_accrual:
                    eod = [e for e in ref.entries if e.kind is EntryKind.EOD]
                    assert not any(p.code in INCOME for e in eod for p in e.postings), "income from non-accrual"
                for e in ref.entries:
                    if e.kind in (EntryKind.NON_ACCRUAL, EntryKind.ACCRUAL_RESUMED):
                        event(f"end of day {e.kind.value}")
                if self.book.loans[lid].in_observation and not ref.loan.in_observation:
                    event("observation ended")
                self.book.loans[lid] = ref.loan
                self.book.post(ref.entries)
            self.book.day = day + timedelta(days=1)

    def pick(self, which: int) -> tuple[str, Loan]:
        loan_id = f"L{which}"
        return loan_id, self.book.loans[loan_id]

    # --- invariants ----------------------------------------------------------------------------

    @invariant()
    def books_balance_and_loans_equal_their_sub_ledgers(self) -> None:
        if not self.book.loans:
            return
        trial_balance({k: v for k, v in self.book.totals.items() if v})
        for loan_id, loan in self.book.loans.items():
            assert self.book.balances(loan_id) == expected_balances(loan), loan_id

    def teardown(self) -> None:
        """Replaying each loan's log gives the loan (checked once per run: a replay redoes every day)."""
        for loan_id, loan in self.book.loans.items():
            again, _ = replay(self.book.logs[loan_id], self.book.day)
            assert again == loan, loan_id


ServicingMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None,
                                              suppress_health_check=[HealthCheck.too_slow])
test_servicing_machine = ServicingMachine.TestCase


# --- the reversal property --------------------------------------------------------------------------


def drive(product: LoanProduct, amount: int, term: int, plan: list[tuple[int, int]], only: set[int] | None,
          days: int) -> tuple[Loan, list[JournalEntry], list[LoanCommand], list[int]]:
    """Book and disburse on START, then each day: the plan's payments of that day (those in `only`,
    when given), then end of day; up to START + days. Returns the loan, its entries, its log and the
    plan indexes that were applied (a payment the loan refuses is not)."""
    bk = Book()
    booked = book("L", product, Money(amount, "CNY"), term, on=START)
    bk.loans["L"] = booked.loan
    bk.log("L", "book", "b", booking_params(booked.loan))
    bk.take("L", disburse(booked.loan, START, "d"), "disburse", "d", {}, "disburse")
    applied = []
    for offset in range(days):
        for index, (when, cash) in enumerate(plan):
            if when != offset or (only is not None and index not in only):
                continue
            key = f"p{index}"
            try:
                out = repay(bk.loans["L"], bk.day, Money(cash, "CNY"), key)
            except ServicingError:
                continue
            bk.take("L", out, "repay", key, {"amount_minor": cash, "currency": "CNY"}, "repay")
            applied.append(index)
        out = eod_one(bk.loans["L"], bk.day)
        bk.loans["L"] = out.loan
        bk.post(out.entries)
        bk.day += timedelta(days=1)
    return bk.loans["L"], bk.entries, bk.logs["L"], applied


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(product=products(), amount=st.integers(100_000, 5_000_000), term=st.integers(1, 12),
       plan=st.lists(st.tuples(st.integers(0, 150), st.integers(1, 3_000_000)), min_size=1, max_size=8),
       pick=st.integers(0, 10**6), days=st.integers(60, 200))
def test_reverse_then_replay_equals_a_book_without_the_payment(
    product: LoanProduct, amount: int, term: int, plan: list[tuple[int, int]], pick: int, days: int,
) -> None:
    term = 1 if product.schedule_method == "bullet" else term
    loan, entries, log, applied = drive(product, amount, term, plan, None, days)
    if not applied:
        return
    target = applied[pick % len(applied)]
    end = START + timedelta(days=days)
    entry_id = f"L/repay/p{target}"
    # The book without the payment: the same payments as applied, but that one.
    others = set(applied) - {target}
    without, without_entries, _, without_applied = drive(product, amount, term, plan, others, days)
    try:
        out = reverse_payment(loan, log, entries, entry_id=entry_id, on=end, key="rv", reason="bounced")
    except ServicingError as exc:
        # Refused only when a later payment no longer applies without this one.
        assert exc.field == "entry_id" and "no longer apply" in exc.message
        assert set(without_applied) != others
        return
    assert set(without_applied) == others
    assert out.loan == without
    assert {e.effective_date for e in out.entries} == {end}, "corrections are dated today"
    assert out.entries[0].kind is EntryKind.REVERSAL and out.entries[0].reverses_entry_id == entry_id
    assert apply_entries({}, [*entries, *out.entries]) == apply_entries({}, without_entries)
