"""Loan use cases: each is one unit of work. Idempotent: a retry with the same key and the same
request returns the first response and writes nothing; the same key with another request is
refused (IdempotencyConflict, field "idempotency_key"). A refused command writes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from lendstack.money import Money, MoneyError
from lendstack.products import LoanProduct, get_product
from lendstack.servicing import (
    Loan,
    Outcome,
    ServicingError,
    book,
    disburse,
    prepay,
    refund,
    repay,
    restructure,
    write_off,
)
from lendstack.store import UnitOfWork
from lendstack.store.loan_repo import ConcurrentUpdate

KEY_LENGTH_MAX = 128


def _check_key(key: str) -> str:
    if not isinstance(key, str) or not key or len(key) > KEY_LENGTH_MAX:
        raise ServicingError("idempotency_key", f"must be 1..{KEY_LENGTH_MAX} characters")
    return key


def record(uow: UnitOfWork, outcome: Outcome, *, new: bool = False) -> None:
    """Persist one outcome: the loan, its entries, its events, in the caller's transaction."""
    if new:
        uow.loans.add(outcome.loan)
    else:
        uow.loans.save(outcome.loan)
    if outcome.entries:
        uow.ledger.post(outcome.entries)
    if outcome.events:
        uow.outbox.add_many(list(outcome.events))


def summary(loan: Loan) -> dict[str, Any]:
    return {
        "loan_id": loan.loan_id, "status": loan.status.value, "currency": loan.currency,
        "principal_outstanding_minor": loan.principal_outstanding_minor,
        "interest_receivable_minor": loan.interest_receivable_minor,
        "fee_receivable_minor": loan.fee_receivable_minor, "penalty_receivable_minor": loan.penalty_receivable_minor,
        "suspense_minor": loan.suspense_minor, "days_past_due": loan.days_past_due, "bucket": loan.bucket,
        "five_tier": loan.five_tier.value,
    }


def _idempotent(
    engine: Engine, scope: str, key: str, request: dict[str, Any], work: Callable[[UnitOfWork], dict[str, Any]]
) -> dict[str, Any]:
    _check_key(key)
    for _attempt in range(3):  # optimistic locking: a concurrent change makes us re-read and retry
        try:
            with UnitOfWork(engine) as uow:
                first = uow.idempotency.lookup(scope, key, request)
                if first is not None:
                    return first
                response = work(uow)
                uow.idempotency.record(scope, key, request, response)
                return response
        except ConcurrentUpdate:
            continue
    raise ConcurrentUpdate(f"{scope} {key}: the loan kept changing; try again")


def book_loan(
    engine: Engine, *, loan_id: str, product: LoanProduct | str, amount: Money, term: int, on: date, key: str,
    rate_annual: Decimal | str | None = None, funder_id: str = "self",
) -> dict[str, Any]:
    prod = get_product(product) if isinstance(product, str) else product
    request = {"loan_id": loan_id, "product_id": prod.product_id, "amount_minor": amount.amount_minor,
               "currency": amount.currency, "term": term, "on": on.isoformat(), "rate_annual": str(rate_annual)}

    def work(uow: UnitOfWork) -> dict[str, Any]:
        outcome = book(loan_id, prod, amount, term, rate_annual=rate_annual, on=on, funder_id=funder_id)
        record(uow, outcome, new=True)
        return summary(outcome.loan)

    return _idempotent(engine, "loan.book", key, request, work)


def _command(
    engine: Engine, scope: str, loan_id: str, key: str, request: dict[str, Any], step: Callable[[Loan], Outcome]
) -> dict[str, Any]:
    return _command_in(engine, scope, loan_id, key, request, lambda loan, _uow: step(loan))


def _command_in(
    engine: Engine, scope: str, loan_id: str, key: str, request: dict[str, Any],
    step: Callable[[Loan, UnitOfWork], Outcome],
) -> dict[str, Any]:
    """Run `step` on the locked loan in one unit of work; the step may read more through the uow."""

    def work(uow: UnitOfWork) -> dict[str, Any]:
        loan = uow.loans.get(loan_id, for_update=True)
        try:
            outcome = step(loan, uow)
        except MoneyError as exc:
            raise ServicingError(exc.field, exc.message) from exc
        record(uow, outcome)
        return {**summary(outcome.loan), **outcome.result}

    return _idempotent(engine, scope, key, {"loan_id": loan_id, **request}, work)


def disburse_loan(engine: Engine, loan_id: str, on: date, key: str) -> dict[str, Any]:
    return _command(engine, "loan.disburse", loan_id, key, {"on": on.isoformat()},
                    lambda loan: disburse(loan, on, key))


def repay_loan(engine: Engine, loan_id: str, on: date, amount: Money, key: str) -> dict[str, Any]:
    request = {"on": on.isoformat(), "amount_minor": amount.amount_minor, "currency": amount.currency}
    return _command(engine, "loan.repay", loan_id, key, request, lambda loan: repay(loan, on, amount, key))


def prepay_loan(
    engine: Engine, loan_id: str, on: date, amount: Money, key: str, *, full: bool = False
) -> dict[str, Any]:
    request = {"on": on.isoformat(), "amount_minor": amount.amount_minor, "currency": amount.currency, "full": full}
    return _command(engine, "loan.prepay", loan_id, key, request,
                    lambda loan: prepay(loan, on, amount, key, full=full))


def refund_loan(engine: Engine, loan_id: str, on: date, amount: Money, key: str) -> dict[str, Any]:
    """Pay up to the loan's suspense balance back to the borrower (any status but approved)."""
    request = {"on": on.isoformat(), "amount_minor": amount.amount_minor, "currency": amount.currency}

    def step(loan: Loan, uow: UnitOfWork) -> Outcome:
        # A closed loan's own cursor stopped when it closed: keep its refund out of days EOD has closed.
        return refund(loan, amount.amount_minor, on, key, currency=amount.currency,
                      closed_through=uow.loans.closed_through())

    return _command_in(engine, "loan.refund", loan_id, key, request, step)


def write_off_loan(engine: Engine, loan_id: str, on: date, key: str) -> dict[str, Any]:
    return _command(engine, "loan.write_off", loan_id, key, {"on": on.isoformat()},
                    lambda loan: write_off(loan, on, key))


def restructure_loan(
    engine: Engine, loan_id: str, on: date, term: int, key: str, rate_annual: str | None = None
) -> dict[str, Any]:
    request = {"on": on.isoformat(), "term": term, "rate_annual": rate_annual}
    return _command(engine, "loan.restructure", loan_id, key, request,
                    lambda loan: restructure(loan, on, term, key, rate_annual=rate_annual))


def get_loan(engine: Engine, loan_id: str) -> Loan:
    with UnitOfWork(engine) as uow:
        return uow.loans.get(loan_id)
