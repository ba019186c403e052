"""Restructuring (重组): capitalise arrears into principal and reschedule, by the product's rules and
the 2023 classification rule (商业银行金融资产风险分类办法); see aging.py for the thresholds.

- The new rate and term pass the same checks as a booking: the product's rate band and term range,
  and the legal APR cap on the new schedule.
- The class is at least 关注, at least 次级 if the loan was non-performing (or restructured again
  inside an observation period); the observation runs from the first due date after the
  restructure over at least two due dates and a year. The command's own response and the next end
  of day show the same class.
- In non-accrual, the interest and penalty capitalised were never income: they are credited to the
  unearned account 1306 (income.py), and the loan stays in non-accrual until it qualifies again.
- Due dates keep the contract's day of month.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from lendstack.ledger import AccountCode, EntryKind
from lendstack.money import MoneyError, check_rate_cap
from lendstack.money.rates import parse_rate
from lendstack.schedule import apr_of, next_due_on_day
from lendstack.servicing.accrual import period_interest_to_date
from lendstack.servicing.aging import DEFAULT_AGING, AgingPolicy, FiveTier, is_performing
from lendstack.servicing.commands import check_value_date, installments_from, schedule_for, split_at
from lendstack.servicing.errors import ServicingError
from lendstack.servicing.loan import Installment, Loan, LoanStatus
from lendstack.servicing.outcome import Outcome, entry, event
from lendstack.servicing.payments import accrue_to

if TYPE_CHECKING:  # products (pydantic, the YAML loader) load only where a product is read
    from lendstack.products import LoanProduct

A = AccountCode


def check_against_product(product: LoanProduct, loan: Loan, term: int, rate: Decimal, on: date) -> None:
    """The product's term range, rate band and APR cap (on a schedule of the outstanding principal)."""
    if product.product_id != loan.terms.product_id:
        raise ServicingError("product_id", f"the loan is on {loan.terms.product_id}, not {product.product_id}")
    if isinstance(term, bool) or not isinstance(term, int) or not product.term_min <= term <= product.term_max:
        raise ServicingError("term", f"{term!r} is outside the product's [{product.term_min}, {product.term_max}]"
                                     " periods")
    if not product.rate_min_annual <= rate <= product.rate_max_annual:
        raise ServicingError("rate_annual", f"{rate} is outside the product's band "
                                            f"[{product.rate_min_annual}, {product.rate_max_annual}]")
    amount = max(loan.principal_outstanding_minor, 1)
    schedule = schedule_for(loan, amount, term, on, rate, first_due_after(loan, on))
    try:
        check_rate_cap(apr_of(schedule, 0), product.rate_cap_apr, "rate_annual")
    except MoneyError as exc:
        raise ServicingError(exc.field, exc.message) from exc


def first_due_after(loan: Loan, on: date) -> date | None:
    """The first due date of a new schedule from `on`: the contract's day of month (monthly
    schedules), or the regular first date (None) for weekly and bi-weekly ones."""
    if loan.terms.frequency != "monthly" or loan.due_day == 0:
        return None
    return next_due_on_day(on, loan.due_day)


def observation_end(new_installments: tuple[Installment, ...], start: date, policy: AgingPolicy) -> date:
    """The end of an observation beginning with the first due date after `start`: at least
    `observation_due_dates_min` due dates and `observation_days_min` days from that first one."""
    dues = [i.due_date for i in new_installments if i.due_date > start]
    if not dues:
        return start + timedelta(days=policy.observation_days_min)
    first = dues[0]
    nth = dues[min(policy.observation_due_dates_min, len(dues)) - 1]
    return max(nth, first + timedelta(days=policy.observation_days_min))


def restructure_floor(loan: Loan, policy: AgingPolicy) -> FiveTier:
    """关注 at least; 次级 at least if non-performing before, or restructured again in observation."""
    if not is_performing(loan.five_tier) or loan.in_observation:
        return policy.restructure_npl_tier
    return policy.restructure_tier


def restructure(
    loan: Loan, on: date, term: int, key: str, *, rate_annual: Decimal | str | None = None,
    product: LoanProduct | None = None, policy: AgingPolicy = DEFAULT_AGING,
) -> Outcome:
    """Capitalise arrears (unpaid interest, fees, penalty) into principal and reschedule all
    principal over a new term from `on`. The old installments stay, marked, as history. With
    `product`, the rate and term are checked against it (a replay of a checked command omits it)."""
    if not loan.is_live:
        raise ServicingError("status", f"the loan is {loan.status}; only a live loan can be restructured")
    check_value_date(loan, on)
    rate = loan.terms.rate_annual if rate_annual is None else parse_rate(rate_annual, "rate_annual")
    if product is not None:
        check_against_product(product, loan, term, rate, on)
    step = accrue_to(loan, on, f"{loan.loan_id}/restructure-accrue/{key}")
    cur = step.loan
    before, running, _after = split_at(cur, on)
    kept = [dataclasses.replace(i, capitalized=True) if i.is_open else i for i in before]
    if running is not None:
        accrued = period_interest_to_date(running, on, cur.terms.rounding)
        kept.append(Installment(running.seq, running.period_start, on, 0, accrued, 0, capitalized=accrued > 0))
    interest, fee, penalty = cur.interest_receivable_minor, cur.fee_receivable_minor, cur.penalty_receivable_minor
    arrears = interest + fee + penalty
    principal = cur.principal_outstanding_minor + arrears
    staged = cur.evolve(terms=dataclasses.replace(cur.terms, rate_annual=rate), term=term)
    schedule = schedule_for(staged, principal, term, on, rate, first_due_after(cur, on), field="term")
    new_insts = installments_from(schedule, len(kept) + 1)
    floor = restructure_floor(cur, policy)
    unearned = interest + penalty if cur.non_accrual else 0
    new = staged.evolve(
        installments=(*kept, *new_insts),
        principal_capitalized_minor=cur.principal_capitalized_minor + arrears,
        interest_capitalized_minor=cur.interest_capitalized_minor + interest,
        fee_capitalized_minor=cur.fee_capitalized_minor + fee,
        penalty_capitalized_minor=cur.penalty_capitalized_minor + penalty,
        unearned_minor=cur.unearned_minor + unearned,
        status=LoanStatus.ACTIVE, days_past_due=0, bucket="M0", five_tier=policy.classify(0, floor),
        observation_floor=floor, observation_end=observation_end(new_insts, on, policy), observation_missed=False,
        restructure_count=cur.restructure_count + 1,
    )
    entries = entry(new, f"{loan.loan_id}/restructure/{key}", EntryKind.RESTRUCTURE, on,
                    capitalisation_pairs(cur, interest, fee, penalty))
    ev = event(new, f"{loan.loan_id}/restructure/{key}", "loan.restructured", on, capitalized_minor=arrears,
               principal_minor=principal, term=term, rate_annual=str(rate), five_tier=new.five_tier.value,
               observation_end=str(new.observation_end))
    result = {"capitalized_minor": arrears, "principal_minor": principal, "observation_end": str(new.observation_end)}
    return step.then(Outcome(new, entries, (ev,), result))


def capitalisation_pairs(loan: Loan, interest: int, fee: int, penalty: int) -> list[tuple[AccountCode, int]]:
    """Dr principal for all arrears; Cr the receivables they came from. In non-accrual the interest
    and penalty come off the memo accounts and the principal they became is unearned (1306)."""
    pairs = [(A.LOAN_PRINCIPAL, interest + fee + penalty), (A.FEE_RECEIVABLE, -fee)]
    if loan.non_accrual:
        return [*pairs, (A.UNEARNED_CAPITALISED, -(interest + penalty)), (A.MEMO_CONTRA, interest + penalty),
                (A.MEMO_INTEREST, -interest), (A.MEMO_PENALTY, -penalty)]
    return [*pairs, (A.INTEREST_RECEIVABLE, -interest), (A.PENALTY_RECEIVABLE, -penalty)]
