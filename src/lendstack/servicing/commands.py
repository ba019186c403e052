"""Servicing commands: pure functions (loan, arguments) -> Outcome(new loan, entries, events).

Every money movement posts exactly one balanced journal entry; every state change emits an
event. Entry and event ids derive from the command's idempotency key, so a replay of the same
command produces the same ids (and the store refuses to post them twice).

Validation happens before any value is built: a bad argument raises ServicingError naming the
field, and since nothing here has side effects, nothing is written.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from decimal import Decimal

from lendstack.ledger import DEFAULT_FUNDER, AccountCode, EntryKind
from lendstack.money import Money, MoneyError, round_to_minor
from lendstack.money.rates import RATE_PPM, parse_rate
from lendstack.products import LoanProduct
from lendstack.schedule import Schedule, build_schedule
from lendstack.servicing.accrual import period_interest_to_date
from lendstack.servicing.eod import eod_one
from lendstack.servicing.errors import ServicingError
from lendstack.servicing.loan import Installment, Loan, LoanStatus, LoanTerms
from lendstack.servicing.outcome import Outcome, entry, event
from lendstack.servicing.payments import accrue_to, allocate, close_if_settled, payment_pairs

A = AccountCode
CATCH_UP_DAYS_MAX = 3_660  # ten years: a longer gap is a mistake, not a backlog


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
    )
    return Outcome(loan, events=(event(loan, f"{loan_id}/booked", "loan.booked", on),))


def schedule_for(
    loan: Loan, amount_minor: int, term: int, start: date, rate: Decimal, first_due: date | None
) -> Schedule:
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
        )
    except MoneyError as exc:
        raise ServicingError(exc.field, exc.message) from exc


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
    schedule = schedule_for(loan, loan.principal_minor, loan.term, on, loan.terms.rate_annual, first_due_date)
    new = loan.evolve(
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


# --- bringing a loan to a date -----------------------------------------------------------------


def check_value_date(loan: Loan, on: date, field: str = "on") -> None:
    if loan.disbursed_on is None:
        raise ServicingError("status", "the loan has not been disbursed")
    if on < loan.disbursed_on:
        raise ServicingError(field, f"{on} is before the disbursement date {loan.disbursed_on}")
    if loan.accrued_through is not None and on <= loan.accrued_through:
        raise ServicingError(field, f"{on} is already closed by end of day (closed through {loan.accrued_through})")


def catch_up(loan: Loan, on: date) -> Outcome:
    """Close, with the reference EOD, every day before `on` that end of day has not closed yet,
    so a command dated ahead of the last EOD sees exactly what EOD would have made of those days."""
    out = Outcome(loan)
    assert loan.accrued_through is not None
    day = loan.accrued_through + timedelta(days=1)
    for _ in range(CATCH_UP_DAYS_MAX):
        if day >= on or not out.loan.is_live:
            return out
        out = out.then(eod_one(out.loan, day))
        day += timedelta(days=1)
    raise ServicingError("on", f"{on} is more than {CATCH_UP_DAYS_MAX} days after the last closed day")


def still_live(loan: Loan) -> None:
    """Catching up may settle a loan (suspense pays the last installment): then the command is moot."""
    if not loan.is_live:
        raise ServicingError("status", f"the loan is {loan.status} by then; it takes no further command")


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
    step = catch_up(loan, on)
    still_live(step.loan)
    step = step.then(accrue_to(step.loan, on, f"{loan.loan_id}/repay-accrue/{key}"))
    applied, paid, left = allocate(step.loan, on, cash + step.loan.suspense_minor)
    delta = left - step.loan.suspense_minor
    final = close_if_settled(applied.evolve(suspense_minor=left))
    entries = entry(final, f"{loan.loan_id}/repay/{key}", EntryKind.REPAY, on, payment_pairs(paid, cash, delta))
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
    principal = int(Decimal(left_minor) / (1 + loan.terms.prepayment_fee_rate))
    principal = min(principal, not_due_minor)
    while principal > 0 and principal + prepayment_fee_minor(loan, principal) > left_minor:
        principal -= 1  # the fee rounds up at most one unit at a time; this loop runs ≤ 2 times
    return principal


def prepay(loan: Loan, on: date, amount: Money, key: str, *, full: bool = False) -> Outcome:
    """Repay principal early. First everything due is settled, then the running period's interest
    to date and the prepayment fee, then principal; the rest of the schedule is rebuilt to reduce
    the installment or the term, as the product says."""
    cash = check_payment(loan, amount)
    check_value_date(loan, on)
    if not loan.terms.prepayment_allowed:
        raise ServicingError("loan_id", "the product does not allow prepayment")
    step = catch_up(loan, on)
    step = step.then(accrue_to(step.loan, on, f"{loan.loan_id}/prepay-accrue/{key}"))
    still_live(step.loan)
    settled, paid, left = allocate(step.loan, on, cash + step.loan.suspense_minor)
    if any(i.is_open and i.due_date <= on for i in settled.installments):
        raise ServicingError("amount", "does not cover what is already due; pay that first (repay)")
    before, running, after = split_at(settled, on)
    if running is None:
        raise ServicingError("on", "nothing is left to prepay: the last installment is due")
    accrued_running = period_interest_to_date(running, on, settled.terms.rounding)
    not_due = running.principal_minor + sum(i.principal_minor for i in after)
    principal = prepaid_principal(settled, left - accrued_running, not_due, full)
    fee = prepayment_fee_minor(settled, principal)
    if principal <= 0 or principal + fee + accrued_running > left:
        payoff = not_due + prepayment_fee_minor(settled, not_due) + accrued_running
        raise ServicingError("amount", f"too small to prepay; paying off takes {payoff} minor units after dues")
    truncated = Installment(running.seq, running.period_start, on, principal, accrued_running, fee,
                            principal, accrued_running, fee)
    rest = rebuild_after_prepay(settled, on, running, after, not_due - principal)
    left_after = left - principal - fee - accrued_running
    paid = {**paid, "principal": paid["principal"] + principal, "fee": paid["fee"] + fee,
            "interest": paid["interest"] + accrued_running}
    rebuilt = settled.evolve(
        installments=(*before, truncated, *rest),
        fee_charged_minor=settled.fee_charged_minor + fee,
        fee_paid_minor=settled.fee_paid_minor + fee,
        interest_paid_minor=settled.interest_paid_minor + accrued_running,
        principal_repaid_minor=settled.principal_repaid_minor + principal,
        suspense_minor=left_after,
    )
    final = close_if_settled(rebuilt)
    delta = left_after - step.loan.suspense_minor
    pairs = [*payment_pairs(paid, cash, delta), (A.FEE_RECEIVABLE, fee), (A.FEE_INCOME, -fee)]
    entries = entry(final, f"{loan.loan_id}/prepay/{key}", EntryKind.PREPAY, on, merge_pairs(pairs))
    ev = event(final, f"{loan.loan_id}/prepay/{key}", "loan.prepaid", on, amount_minor=cash,
               principal_minor=principal, fee_minor=fee, remaining_principal_minor=not_due - principal)
    return step.then(Outcome(final, entries, (ev,), {"paid": paid, "principal_prepaid_minor": principal,
                                                     "prepayment_fee_minor": fee}))


def merge_pairs(pairs: list[tuple[AccountCode, int]]) -> list[tuple[AccountCode, int]]:
    merged: dict[AccountCode, int] = {}
    for code, amount in pairs:
        merged[code] = merged.get(code, 0) + amount
    return list(merged.items())


def rebuild_after_prepay(
    loan: Loan, on: date, running: Installment, after: list[Installment], remaining_minor: int
) -> tuple[Installment, ...]:
    """The new schedule for what is left, from `on`, keeping the running period's due date."""
    if remaining_minor == 0:
        return ()
    periods = 1 + len(after)
    if loan.terms.prepayment_mode == "reduce_term":
        periods = shortest_term(loan, on, running, remaining_minor, periods)
    first_due = running.due_date if running.due_date != on else None
    schedule = schedule_for(loan, remaining_minor, periods, on, loan.terms.rate_annual, first_due)
    return installments_from(schedule, running.seq + 1)


def shortest_term(loan: Loan, on: date, running: Installment, remaining_minor: int, periods_max: int) -> int:
    """Fewest periods whose regular installment does not exceed the one the borrower had."""
    budget = running.principal_minor + running.interest_minor
    for periods in range(1, periods_max + 1):
        lines = schedule_for(loan, remaining_minor, periods, on, loan.terms.rate_annual, running.due_date).lines
        if max(line.principal_minor + line.interest_minor for line in lines) <= budget:
            return periods
    return periods_max


# --- restructure and write-off -----------------------------------------------------------------


def restructure(loan: Loan, on: date, term: int, key: str, *, rate_annual: Decimal | str | None = None) -> Outcome:
    """Capitalise arrears (unpaid interest, fees, penalty) into principal and reschedule all
    principal over a new term from `on`. The old installments stay, marked, as history."""
    if not loan.is_live:
        raise ServicingError("status", f"the loan is {loan.status}; only a live loan can be restructured")
    check_value_date(loan, on)
    rate = loan.terms.rate_annual if rate_annual is None else parse_rate(rate_annual, "rate_annual")
    step = catch_up(loan, on)
    still_live(step.loan)
    step = step.then(accrue_to(step.loan, on, f"{loan.loan_id}/restructure-accrue/{key}"))
    cur = step.loan
    before, running, _after = split_at(cur, on)
    kept = [dataclasses.replace(i, capitalized=True) if i.is_open else i for i in before]
    if running is not None:
        accrued = period_interest_to_date(running, on, cur.terms.rounding)
        kept.append(Installment(running.seq, running.period_start, on, 0, accrued, 0, capitalized=accrued > 0))
    interest, fee, penalty = cur.interest_receivable_minor, cur.fee_receivable_minor, cur.penalty_receivable_minor
    arrears = interest + fee + penalty
    principal = cur.principal_outstanding_minor + arrears
    terms = dataclasses.replace(cur.terms, rate_annual=rate)
    staged = cur.evolve(terms=terms, term=term)
    schedule = schedule_for(staged, principal, term, on, rate, None)
    new = staged.evolve(
        installments=(*kept, *installments_from(schedule, len(kept) + 1)),
        principal_capitalized_minor=cur.principal_capitalized_minor + arrears,
        interest_capitalized_minor=cur.interest_capitalized_minor + interest,
        fee_capitalized_minor=cur.fee_capitalized_minor + fee,
        penalty_capitalized_minor=cur.penalty_capitalized_minor + penalty,
        status=LoanStatus.ACTIVE, days_past_due=0, bucket="M0",
        restructure_count=cur.restructure_count + 1,
    )
    pairs = [(A.LOAN_PRINCIPAL, arrears), (A.INTEREST_RECEIVABLE, -interest), (A.FEE_RECEIVABLE, -fee),
             (A.PENALTY_RECEIVABLE, -penalty)]
    entries = entry(new, f"{loan.loan_id}/restructure/{key}", EntryKind.RESTRUCTURE, on, pairs)
    ev = event(new, f"{loan.loan_id}/restructure/{key}", "loan.restructured", on, capitalized_minor=arrears,
               principal_minor=principal, term=term, rate_annual=str(rate))
    return step.then(Outcome(new, entries, (ev,), {"capitalized_minor": arrears, "principal_minor": principal}))


def write_off(loan: Loan, on: date, key: str) -> Outcome:
    """核销: what is still owed becomes a write-off expense; the loan leaves the live book."""
    if not loan.is_live:
        raise ServicingError("status", f"the loan is {loan.status}; only a live loan can be written off")
    check_value_date(loan, on)
    step = catch_up(loan, on)
    still_live(step.loan)
    step = step.then(accrue_to(step.loan, on, f"{loan.loan_id}/write-off-accrue/{key}"))
    cur = step.loan
    principal, interest = cur.principal_outstanding_minor, cur.interest_receivable_minor
    fee, penalty = cur.fee_receivable_minor, cur.penalty_receivable_minor
    new = cur.evolve(
        status=LoanStatus.WRITTEN_OFF,
        principal_written_off_minor=cur.principal_written_off_minor + principal,
        interest_written_off_minor=cur.interest_written_off_minor + interest,
        fee_written_off_minor=cur.fee_written_off_minor + fee,
        penalty_written_off_minor=cur.penalty_written_off_minor + penalty,
    )
    total = principal + interest + fee + penalty
    pairs = [(A.WRITE_OFF_EXPENSE, total), (A.LOAN_PRINCIPAL, -principal), (A.INTEREST_RECEIVABLE, -interest),
             (A.FEE_RECEIVABLE, -fee), (A.PENALTY_RECEIVABLE, -penalty)]
    entries = entry(new, f"{loan.loan_id}/write-off/{key}", EntryKind.WRITE_OFF, on, pairs)
    ev = event(new, f"{loan.loan_id}/write-off/{key}", "loan.written_off", on, amount_minor=total)
    return step.then(Outcome(new, entries, (ev,), {"written_off_minor": total}))
