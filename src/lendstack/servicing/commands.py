"""Servicing commands: pure functions (loan, arguments) -> Outcome(new loan, entries, events).

Every money movement posts exactly one balanced journal entry; every state change emits an
event. Entry and event ids derive from the command's idempotency key, so a replay of the same
command produces the same ids (and the store refuses to post them twice).

Dates. A command is dated on the book's business date (the service layer checks that). Here a
live loan must be closed through the day before the command (`check_value_date`): a command never
closes days itself and never lands in a day end of day has closed. Corrections of the past go
through a reversal dated today (replay.py).

Validation happens before any value is built: a bad argument raises ServicingError naming the
field, and since nothing here has side effects, nothing is written.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from lendstack.invariants import InvariantError
from lendstack.ledger import DEFAULT_FUNDER, AccountCode, EntryKind
from lendstack.money import Money, MoneyError, round_to_minor
from lendstack.money.daycount import day_count_days
from lendstack.money.rates import RATE_PPM, parse_rate
from lendstack.schedule import Schedule, build_schedule
from lendstack.servicing.accrual import period_interest_to_date
from lendstack.servicing.aging import FiveTier
from lendstack.servicing.errors import ServicingError
from lendstack.servicing.income import fee_pairs, merge_pairs, unearned_capped
from lendstack.servicing.loan import Installment, Loan, LoanStatus, LoanTerms
from lendstack.servicing.outcome import Outcome, entry, event
from lendstack.servicing.payments import accrue_to, allocate, close_if_settled, money_in_pairs

if TYPE_CHECKING:  # products (pydantic, the YAML loader) load only where a product is read
    from lendstack.products import LoanProduct

A = AccountCode
CATCH_UP_DAYS_MAX = 3_660  # ten years: end of day refuses a longer gap as a mistake, not a backlog


# --- booking and disbursement ------------------------------------------------------------------


def terms_of(product: LoanProduct, rate_annual: Decimal | None = None) -> LoanTerms:
    """The contract terms at `rate_annual` (default: the product's rate)."""
    rate = product.rate_annual if rate_annual is None else rate_annual
    # Rates are exact in ppm; a multiplied rate is truncated to ppm in the borrower's favour.
    penalty_ppm = int(rate * product.penalty.multiplier * RATE_PPM)
    return LoanTerms(
        product_id=product.product_id,
        currency=product.currency,
        rate_annual=rate,
        penalty_rate_ppm=penalty_ppm,
        penalty_on_interest=product.penalty.accrue_on_interest,
        grace_days=product.grace_days,
        day_count=product.day_count,
        rounding=product.rounding,
        allocation_order=tuple(str(c) for c in product.allocation_order),
        prepayment_allowed=product.prepayment.allowed,
        prepayment_mode=str(product.prepayment.mode),
        prepayment_fee_rate=product.fees.prepayment_rate,
        schedule_method=str(product.schedule_method),
        frequency=str(product.frequency),
        periodic_fee_rate=product.fees.periodic_rate,
        prepayment_min_periods=product.prepayment.min_periods_before,
    )


def book(
    loan_id: str,
    product: LoanProduct,
    amount: Money,
    term: int,
    *,
    rate_annual: Decimal | str | None = None,
    on: date,
    funder_id: str = DEFAULT_FUNDER,
    line_id: str = "",
) -> Outcome:
    """An approved loan, not yet disbursed: the contract terms are fixed here. The APR with fees
    is checked against the product's legal cap on the schedule the loan would have from `on`."""
    if not loan_id or len(loan_id) > 64:
        raise ServicingError("loan_id", "must be 1..64 characters")
    if amount.currency != product.currency:
        raise ServicingError("currency", f"{amount.currency} does not match product currency {product.currency}")
    rate = product.rate_annual if rate_annual is None else parse_rate(rate_annual, "rate_annual")
    try:
        product.validate_request(amount.amount_minor, term, rate)
        product.build_schedule(amount.amount_minor, term, on, rate)  # raises RateCapExceeded
    except MoneyError as exc:
        raise ServicingError(exc.field, exc.message) from exc
    terms = terms_of(product, rate)
    loan = Loan(
        loan_id=loan_id,
        terms=terms,
        principal_minor=amount.amount_minor,
        status=LoanStatus.APPROVED,
        term=term,
        upfront_fee_minor=product.upfront_fee_minor(amount.amount_minor),
        periodic_fee_minor=product.periodic_fee_minor(amount.amount_minor),
        funder_id=funder_id,
        line_id=line_id,
        booked_on=on,
    )
    return Outcome(loan, events=(event(loan, f"{loan_id}/booked", "loan.booked", on),))


def schedule_for(
    loan: Loan, amount_minor: int, term: int, start: date, rate: Decimal, first_due: date | None,
    *, field: str = "on",
) -> Schedule:
    """The loan's schedule for `amount_minor` over `term` periods from `start`, due on the contract's
    day of month. A schedule the inputs cannot make is the user's error on `field` (the internal
    argument names of the builder mean nothing to the person who typed the command)."""
    t = loan.terms
    try:
        return build_schedule(
            amount_minor=amount_minor,
            rate_annual=rate,
            term=term,
            method=t.schedule_method,
            start=start,
            currency=t.currency,
            frequency=t.frequency,
            day_count=t.day_count,
            rounding=t.rounding,
            first_due_date=first_due,
            fee_per_period_minor=loan.periodic_fee_minor,
            due_day=loan.due_day or None,
        )
    except MoneyError as exc:
        user_field = exc.field if exc.field in ("term", "rate_annual") else field
        raise ServicingError(user_field, exc.message) from exc


def installments_from(schedule: Schedule, first_seq: int, extra_fee_first_minor: int = 0) -> tuple[Installment, ...]:
    return tuple(
        Installment(
            seq=first_seq + k,
            period_start=line.period_start,
            due_date=line.due_date,
            principal_minor=line.principal_minor,
            interest_minor=line.interest_minor,
            fee_minor=line.fee_minor + (extra_fee_first_minor if k == 0 else 0),
        )
        for k, line in enumerate(schedule.lines)
    )


def disburse(loan: Loan, on: date, key: str, first_due_date: date | None = None) -> Outcome:
    """Pay out the whole approved amount (T+0) and fix the repayment schedule from `on`."""
    if loan.status is not LoanStatus.APPROVED:
        raise ServicingError("status", f"only an approved loan can be disbursed; this one is {loan.status}")
    if loan.booked_on is not None and on < loan.booked_on:
        raise ServicingError("on", f"{on} is before the loan was booked ({loan.booked_on})")
    contract = loan.evolve(due_day=(first_due_date or on).day)
    schedule = schedule_for(contract, loan.principal_minor, loan.term, on, loan.terms.rate_annual, first_due_date,
                            field="first_due_date" if first_due_date else "on")
    new = contract.evolve(
        status=LoanStatus.ACTIVE,
        disbursed_on=on,
        installments=installments_from(schedule, 1, loan.upfront_fee_minor),
        principal_disbursed_minor=loan.principal_minor,
        accrued_through=on - timedelta(days=1),
    )
    amount = loan.principal_minor
    entries = entry(new, f"{loan.loan_id}/disburse/{key}", EntryKind.DISBURSE, on,
                    [(A.LOAN_PRINCIPAL, amount), (A.SETTLEMENT_CASH, -amount)])
    ev = event(new, f"{loan.loan_id}/disburse/{key}", "loan.disbursed", on, amount_minor=amount,
               maturity_date=schedule.maturity_date.isoformat())
    return Outcome(new, entries, (ev,), {"amount_minor": amount, "installments": len(schedule.lines)})


# --- dates ---------------------------------------------------------------------------------------


def check_value_date(loan: Loan, on: date, field: str = "on") -> None:
    """`on` is the loan's next open day: after its disbursement, after every day end of day has
    closed for it, and (for a live loan) right after the last one, so nothing is skipped."""
    if loan.disbursed_on is None:
        raise ServicingError("status", "the loan has not been disbursed")
    if on < loan.disbursed_on:
        raise ServicingError(field, f"{on} is before the disbursement date {loan.disbursed_on}")
    closed = loan.accrued_through
    if closed is not None and on <= closed:
        raise ServicingError(field, f"{on} is already closed by end of day (closed through {closed}); "
                                    "correct a past payment with a reversal dated today")
    if loan.is_live and closed is not None and on > closed + timedelta(days=1):
        raise ServicingError(field, f"{on} is after the loan's next open day {closed + timedelta(days=1)}: "
                                    "run end of day first")


# --- repayment ---------------------------------------------------------------------------------


def check_payment(loan: Loan, amount: Money, field: str = "amount") -> int:
    if amount.currency != loan.currency:
        raise ServicingError("currency", f"{amount.currency} does not match the loan's {loan.currency}")
    if amount.amount_minor <= 0:
        raise ServicingError(field, f"must be positive, got {amount.amount_minor} minor units")
    if not loan.is_live:
        raise ServicingError("status", f"the loan is {loan.status}; it takes no repayments")
    return amount.amount_minor


def repay(loan: Loan, on: date, amount: Money, key: str) -> Outcome:
    """A repayment: pays what is due by `on`, the rest waits in suspense for the next due date."""
    cash = check_payment(loan, amount)
    check_value_date(loan, on)
    step = accrue_to(loan, on, f"{loan.loan_id}/repay-accrue/{key}")
    cur = step.loan
    applied, paid, left = allocate(cur, on, cash + cur.suspense_minor)
    delta = left - cur.suspense_minor
    final = close_if_settled(applied.evolve(suspense_minor=left))
    entries = entry(final, f"{loan.loan_id}/repay/{key}", EntryKind.REPAY, on,
                    money_in_pairs(cur, applied, paid, cash, delta))
    ev = event(final, f"{loan.loan_id}/repay/{key}", "loan.repaid", on, amount_minor=cash,
               allocation=paid, suspense_minor=left)
    return step.then(Outcome(final, entries, (ev,), {"paid": paid, "suspense_minor": left}))


# --- prepayment --------------------------------------------------------------------------------


def split_at(loan: Loan, on: date) -> tuple[list[Installment], Installment | None, list[Installment]]:
    """(installments due by `on`, the running period, the ones after it)."""
    before = [i for i in loan.installments if i.due_date <= on]
    later = [i for i in loan.installments if i.due_date > on]
    return before, (later[0] if later else None), later[1:]


def prepayment_fee_minor(loan: Loan, principal_minor: int) -> int:
    fee = Decimal(principal_minor) * loan.terms.prepayment_fee_rate
    return round_to_minor(fee, loan.terms.rounding)


def prepaid_principal(loan: Loan, left_minor: int, not_due_minor: int, full: bool) -> int:
    """How much principal the money left prepays, net of the prepayment fee on it."""
    if full:
        return not_due_minor
    if left_minor <= 0:
        return 0
    principal = int(Decimal(left_minor) / (1 + loan.terms.prepayment_fee_rate))
    principal = min(principal, not_due_minor)
    while principal > 0 and principal + prepayment_fee_minor(loan, principal) > left_minor:
        principal -= 1  # the fee rounds up at most one unit at a time; this loop runs ≤ 2 times
    return principal


def unbilled_upfront_fee(loan: Loan, running: Installment) -> int:
    """The upfront fee is billed with installment 1: a prepayment inside the first period still
    owes it (the truncated first installment carries it), never loses it."""
    return loan.upfront_fee_minor if running.seq == 1 else 0


def check_prepayment_allowed(loan: Loan, on: date) -> None:
    if not loan.terms.prepayment_allowed:
        raise ServicingError("loan_id", "the product does not allow prepayment")
    fallen_due = sum(1 for i in loan.installments if i.due_date <= on)
    needed = loan.terms.prepayment_min_periods
    if fallen_due < needed:
        raise ServicingError("on", f"the product allows prepayment once {needed} installment(s) have fallen due; "
                                   f"{fallen_due} have by {on}")


def prepay(loan: Loan, on: date, amount: Money, key: str, *, full: bool = False) -> Outcome:
    """Repay principal early. First everything due is settled, then the running period's interest
    to date, an unbilled upfront fee and the prepayment fee, then principal; the rest of the
    schedule is rebuilt to reduce the installment or the term, as the product says."""
    cash = check_payment(loan, amount)
    check_value_date(loan, on)
    check_prepayment_allowed(loan, on)
    step = accrue_to(loan, on, f"{loan.loan_id}/prepay-accrue/{key}")
    cur = step.loan
    settled, paid, left = allocate(cur, on, cash + cur.suspense_minor)
    if any(i.is_open and i.due_date <= on for i in settled.installments):
        raise ServicingError("amount", "does not cover what is already due; pay that first (repay)")
    before, running, after = split_at(settled, on)
    if running is None:
        raise ServicingError("on", "nothing is left to prepay: the last installment is due")
    accrued_running = period_interest_to_date(running, on, settled.terms.rounding)
    upfront = unbilled_upfront_fee(settled, running)
    not_due = running.principal_minor + sum(i.principal_minor for i in after)
    available = left - accrued_running - upfront
    principal = prepaid_principal(settled, available, not_due, full)
    fee = prepayment_fee_minor(settled, principal)
    if principal <= 0 or principal + fee > available:
        payoff = not_due + prepayment_fee_minor(settled, not_due) + accrued_running + upfront
        raise ServicingError("amount", f"too small to prepay; paying off takes {payoff} minor units after dues")
    billed = fee + upfront
    truncated = Installment(running.seq, running.period_start, on, principal, accrued_running, billed,
                            principal, accrued_running, billed)
    rest = rebuild_after_prepay(settled, on, running, after, not_due - principal)
    left_after = left - principal - billed - accrued_running
    paid = {**paid, "principal": paid["principal"] + principal, "fee": paid["fee"] + billed,
            "interest": paid["interest"] + accrued_running}
    repaid = settled.principal_repaid_minor + principal
    outstanding = settled.principal_outstanding_minor - principal
    rebuilt = settled.evolve(
        installments=(*before, truncated, *rest),
        fee_charged_minor=settled.fee_charged_minor + billed,
        fee_paid_minor=settled.fee_paid_minor + billed,
        interest_paid_minor=settled.interest_paid_minor + accrued_running,
        principal_repaid_minor=repaid,
        suspense_minor=left_after,
        unearned_minor=unearned_capped(settled.unearned_minor, outstanding),
    )
    final = close_if_settled(rebuilt)
    delta = left_after - cur.suspense_minor
    pairs = [*money_in_pairs(cur, rebuilt, paid, cash, delta), *fee_pairs(billed)]
    entries = entry(final, f"{loan.loan_id}/prepay/{key}", EntryKind.PREPAY, on, merge_pairs(pairs))
    ev = event(final, f"{loan.loan_id}/prepay/{key}", "loan.prepaid", on, amount_minor=cash,
               principal_minor=principal, fee_minor=billed, remaining_principal_minor=not_due - principal)
    return step.then(Outcome(final, entries, (ev,), {"paid": paid, "principal_prepaid_minor": principal,
                                                     "prepayment_fee_minor": fee,
                                                     "upfront_fee_billed_minor": upfront}))


def rebuild_after_prepay(
    loan: Loan, on: date, running: Installment, after: list[Installment], remaining_minor: int
) -> tuple[Installment, ...]:
    """The new schedule for what is left, from `on`, keeping the running period's due date and the
    contract's day of month for the dates after it."""
    if remaining_minor == 0:
        return ()
    if loan.terms.schedule_method == "bullet":
        return (bullet_remainder(loan, on, running, remaining_minor),)
    periods = 1 + len(after)
    if loan.terms.prepayment_mode == "reduce_term":
        periods = shortest_term(loan, on, running, remaining_minor, periods)
    schedule = schedule_for(loan, remaining_minor, periods, on, loan.terms.rate_annual, running.due_date,
                            field="amount")
    return installments_from(schedule, running.seq + 1)


def bullet_remainder(loan: Loan, on: date, running: Installment, remaining_minor: int) -> Installment:
    """A bullet keeps one installment at its maturity: the principal left, simple interest on it
    from `on` by the loan's day count, and the periodic fees the running installment carried."""
    t = loan.terms
    days = day_count_days(on, running.due_date, t.day_count)
    interest = round_to_minor(Decimal(remaining_minor) * t.rate_annual * days / t.day_count.year_days, t.rounding)
    periodic_fee = running.fee_minor - unbilled_upfront_fee(loan, running)
    if periodic_fee < 0:
        raise InvariantError((loan.loan_id, running))
    return Installment(running.seq + 1, on, running.due_date, remaining_minor, interest, periodic_fee)


def shortest_term(loan: Loan, on: date, running: Installment, remaining_minor: int, periods_max: int) -> int:
    """Fewest periods whose regular installment does not exceed the one the borrower had."""
    budget = running.principal_minor + running.interest_minor
    for periods in range(1, periods_max + 1):
        lines = schedule_for(loan, remaining_minor, periods, on, loan.terms.rate_annual, running.due_date,
                             field="amount").lines
        if max(line.principal_minor + line.interest_minor for line in lines) <= budget:
            return periods
    return periods_max


# --- write-off ---------------------------------------------------------------------------------


def write_off(loan: Loan, on: date, key: str, *, allowance_minor: int = 0) -> Outcome:
    """核销: what is still owed leaves the books. The loss on the balance sheet (principal net of any
    unearned capitalised interest, fees, and interest and penalty while accruing) is taken from the
    loan's loss allowance first (`allowance_minor`, the credit balance of 1304 for this loan), the
    shortfall is an expense (6701). Non-accrual interest and penalty were never income: they leave
    the memo accounts. The whole claim is kept off-balance (9101) for recoveries."""
    if not loan.is_live:
        raise ServicingError("status", f"the loan is {loan.status}; only a live loan can be written off")
    if not (isinstance(allowance_minor, int) and allowance_minor >= 0):
        raise InvariantError(allowance_minor)
    check_value_date(loan, on)
    step = accrue_to(loan, on, f"{loan.loan_id}/write-off-accrue/{key}")
    cur = step.loan
    principal, fee, unearned = cur.principal_outstanding_minor, cur.fee_receivable_minor, cur.unearned_minor
    interest_on, penalty_on = cur.interest_on_balance_minor, cur.penalty_on_balance_minor
    interest_memo, penalty_memo = cur.interest_memo_minor, cur.penalty_memo_minor
    loss = principal - unearned + fee + interest_on + penalty_on
    used = min(allowance_minor, loss)
    claim = principal + fee + cur.interest_receivable_minor + cur.penalty_receivable_minor
    new = cur.evolve(
        status=LoanStatus.WRITTEN_OFF,
        principal_written_off_minor=cur.principal_written_off_minor + principal,
        interest_written_off_minor=cur.interest_written_off_minor + cur.interest_receivable_minor,
        fee_written_off_minor=cur.fee_written_off_minor + fee,
        penalty_written_off_minor=cur.penalty_written_off_minor + cur.penalty_receivable_minor,
        unearned_minor=0, non_accrual=False, observation_floor=FiveTier.NORMAL,
        observation_end=None, observation_missed=False,
    )
    pairs = [
        (A.LOSS_ALLOWANCE, used), (A.WRITE_OFF_EXPENSE, loss - used), (A.UNEARNED_CAPITALISED, unearned),
        (A.LOAN_PRINCIPAL, -principal), (A.INTEREST_RECEIVABLE, -interest_on), (A.FEE_RECEIVABLE, -fee),
        (A.PENALTY_RECEIVABLE, -penalty_on),
        (A.MEMO_CONTRA, interest_memo + penalty_memo), (A.MEMO_INTEREST, -interest_memo),
        (A.MEMO_PENALTY, -penalty_memo), (A.MEMO_WRITTEN_OFF, claim), (A.MEMO_CONTRA, -claim),
    ]
    entries = entry(new, f"{loan.loan_id}/write-off/{key}", EntryKind.WRITE_OFF, on, merge_pairs(pairs))
    result = {"written_off_minor": claim, "loss_minor": loss, "allowance_used_minor": used,
              "expense_minor": loss - used}
    ev = event(new, f"{loan.loan_id}/write-off/{key}", "loan.written_off", on, amount_minor=claim,
               loss_minor=loss, allowance_used_minor=used, expense_minor=loss - used)
    return step.then(Outcome(new, entries, (ev,), result))
