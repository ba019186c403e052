"""Loan use cases: each is one unit of work. Idempotent: a retry with the same key and the same
request returns the first response and writes nothing; the same key with another request is
refused (IdempotencyConflict, field "idempotency_key"). A refused command writes nothing.

Every command is dated on the book's business date (services.business_date.dated): `on` left out
means the business date, any other date is refused naming `on`. Every command a loan takes is
appended to its servicing log in the same transaction (what a reversal replays).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from lendstack.ledger import AccountCode, BalanceKey, EntryKind, JournalEntry
from lendstack.money import Money, MoneyError
from lendstack.services.business_date import dated
from lendstack.servicing import (
    Loan,
    Outcome,
    ServicingError,
    book,
    disburse,
    prepay,
    recover,
    refund,
    repay,
    restructure,
    reverse_payment,
    write_off,
)
from lendstack.servicing.replay import booking_params
from lendstack.store import Engine, UnitOfWork
from lendstack.store.loan_repo import ConcurrentUpdate

if TYPE_CHECKING:
    from lendstack.products import LoanProduct

KEY_LENGTH_MAX = 128
REASON_LENGTH_MAX = 500
Step = Callable[[Loan, UnitOfWork, date], Outcome]


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
        "five_tier": loan.five_tier.value, "non_accrual": loan.non_accrual,
        "interest_memo_minor": loan.interest_memo_minor, "penalty_memo_minor": loan.penalty_memo_minor,
        "unearned_minor": loan.unearned_minor, "written_off_minor": loan.written_off_minor,
        "recovered_minor": loan.recovered_minor,
        "observation_end": loan.observation_end.isoformat() if loan.observation_end else None,
        "observation_floor": loan.observation_floor.value if loan.in_observation else None,
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


def _day(on: date | None) -> str | None:
    return on.isoformat() if on is not None else None


def _main_entry(outcome: Outcome, entry_id: str) -> str:
    """The command's own entry id when it posted one ('' for a command that moved no money)."""
    return entry_id if any(e.entry_id == entry_id for e in outcome.entries) else ""


def book_loan(
    engine: Engine, *, loan_id: str, product: LoanProduct | str, amount: Money, term: int, key: str,
    on: date | None = None, rate_annual: Decimal | str | None = None, funder_id: str = "self",
) -> dict[str, Any]:
    from lendstack.products import get_product  # the catalog loads only for a command that reads it

    prod = get_product(product) if isinstance(product, str) else product
    request = {"loan_id": loan_id, "product_id": prod.product_id, "amount_minor": amount.amount_minor,
               "currency": amount.currency, "term": term, "on": _day(on), "rate_annual": str(rate_annual)}

    def work(uow: UnitOfWork) -> dict[str, Any]:
        day = dated(uow, on)
        outcome = book(loan_id, prod, amount, term, rate_annual=rate_annual, on=day, funder_id=funder_id)
        record(uow, outcome, new=True)
        uow.loans.log_command(loan_id, "book", day, key, booking_params(outcome.loan))
        return {**summary(outcome.loan), "booked_on": day.isoformat()}

    return _idempotent(engine, "loan.book", key, request, work)


def _command(
    engine: Engine, scope: str, loan_id: str, key: str, on: date | None, request: dict[str, Any], step: Step, *,
    kind: str, params: dict[str, Any], entry: str,
) -> dict[str, Any]:
    """Run `step` on the locked loan, dated on the business date, in one unit of work; log it."""

    def work(uow: UnitOfWork) -> dict[str, Any]:
        day = dated(uow, on)
        loan = uow.loans.get(loan_id, for_update=True)
        try:
            outcome = step(loan, uow, day)
        except MoneyError as exc:
            raise ServicingError(exc.field, exc.message) from exc
        record(uow, outcome)
        entry_id = f"{loan_id}/{entry}/{key}"
        uow.loans.log_command(loan_id, kind, day, key, params, _main_entry(outcome, entry_id))
        return {**summary(outcome.loan), **outcome.result, "on": day.isoformat()}

    return _idempotent(engine, scope, key, {"loan_id": loan_id, "on": _day(on), **request}, work)


def disburse_loan(engine: Engine, loan_id: str, on: date | None, key: str) -> dict[str, Any]:
    return _command(engine, "loan.disburse", loan_id, key, on, {},
                    lambda loan, _uow, day: disburse(loan, day, key),
                    kind="disburse", params={}, entry="disburse")


def repay_loan(engine: Engine, loan_id: str, on: date | None, amount: Money, key: str) -> dict[str, Any]:
    money = {"amount_minor": amount.amount_minor, "currency": amount.currency}
    return _command(engine, "loan.repay", loan_id, key, on, money,
                    lambda loan, _uow, day: repay(loan, day, amount, key),
                    kind="repay", params=money, entry="repay")


def prepay_loan(
    engine: Engine, loan_id: str, on: date | None, amount: Money, key: str, *, full: bool = False
) -> dict[str, Any]:
    params = {"amount_minor": amount.amount_minor, "currency": amount.currency, "full": full}
    return _command(engine, "loan.prepay", loan_id, key, on, params,
                    lambda loan, _uow, day: prepay(loan, day, amount, key, full=full),
                    kind="prepay", params=params, entry="prepay")


def refund_loan(engine: Engine, loan_id: str, on: date | None, amount: Money, key: str) -> dict[str, Any]:
    """Pay up to the loan's suspense balance back to the borrower (any status but approved)."""
    money = {"amount_minor": amount.amount_minor, "currency": amount.currency}
    return _command(engine, "loan.refund", loan_id, key, on, money,
                    lambda loan, _uow, day: refund(loan, amount.amount_minor, day, key, currency=amount.currency),
                    kind="refund", params=money, entry="refund")


def allowance_of(uow: UnitOfWork, loan: Loan) -> int:
    """The loss allowance held for this loan: the credit balance of its 1304, as a positive amount."""
    key = BalanceKey(AccountCode.LOSS_ALLOWANCE, loan.currency, loan.funder_id, loan.loan_id)
    return max(-uow.ledger.balance(key), 0)


def write_off_loan(engine: Engine, loan_id: str, on: date | None, key: str) -> dict[str, Any]:
    """核销 through the loan's loss allowance first; the shortfall is an expense."""
    params: dict[str, Any] = {}

    def step(loan: Loan, uow: UnitOfWork, day: date) -> Outcome:
        params["allowance_minor"] = allowance_of(uow, loan)  # logged: a replay uses the same allowance
        return write_off(loan, day, key, allowance_minor=params["allowance_minor"])

    return _command(engine, "loan.write_off", loan_id, key, on, {}, step,
                    kind="write_off", params=params, entry="write-off")


def recover_loan(engine: Engine, loan_id: str, on: date | None, amount: Money, key: str) -> dict[str, Any]:
    """核销后收回: cash collected on a written-off loan, back through the loss allowance."""
    money = {"amount_minor": amount.amount_minor, "currency": amount.currency}
    return _command(engine, "loan.recover", loan_id, key, on, money,
                    lambda loan, _uow, day: recover(loan, day, amount, key),
                    kind="recover", params=money, entry="recovery")


def restructure_loan(
    engine: Engine, loan_id: str, on: date | None, term: int, key: str, rate_annual: str | None = None,
    *, product: LoanProduct | None = None,
) -> dict[str, Any]:
    """Capitalise arrears and reschedule, within the product's term range, rate band and APR cap."""
    params = {"term": term, "rate_annual": rate_annual}

    def step(loan: Loan, _uow: UnitOfWork, day: date) -> Outcome:
        from lendstack.products import get_product

        rules = product or get_product(loan.terms.product_id)
        return restructure(loan, day, term, key, rate_annual=rate_annual, product=rules)

    return _command(engine, "loan.restructure", loan_id, key, on, params, step,
                    kind="restructure", params=params, entry="restructure")


def reverse_loan_payment(
    engine: Engine, loan_id: str, entry_id: str, on: date | None, key: str, reason: str
) -> dict[str, Any]:
    """冲正: reverse a repayment or prepayment (bounced, misapplied), dated today, replaying the days
    since; see servicing.replay."""
    if not isinstance(reason, str) or not reason.strip() or len(reason) > REASON_LENGTH_MAX:
        raise ServicingError("reason", f"say why, in 1..{REASON_LENGTH_MAX} characters")
    params = {"entry_id": entry_id, "reason": reason}
    target: dict[str, int] = {}

    def step(loan: Loan, uow: UnitOfWork, day: date) -> Outcome:
        commands = uow.loans.commands(loan_id)
        if not commands or commands[0].kind != "book":
            raise ServicingError("loan_id", f"{loan_id} was booked before the servicing log was kept: it cannot be "
                                            "replayed, so it cannot be reversed here")
        actual = [e for e in uow.ledger.entries_for_loan(loan_id) if e.kind is not EntryKind.PROVISION]
        outcome = reverse_payment(loan, commands, actual, entry_id=entry_id, on=day, key=key, reason=reason)
        target["seq"] = int(outcome.result["reversed_seq"])
        uow.loans.mark_reversed(loan_id, target["seq"], key)
        return outcome

    return _command(engine, "loan.reverse", loan_id, key, on, params, step,
                    kind="reverse", params=params, entry="reverse")


def get_loan(engine: Engine, loan_id: str) -> Loan:
    with UnitOfWork(engine) as uow:
        return uow.loans.get(loan_id)


def loan_entries(engine: Engine, loan_id: str) -> tuple[JournalEntry, ...]:
    """The loan's ledger entries (by entry or by any posting), by effective date, then booking order."""
    with UnitOfWork(engine) as uow:
        return uow.ledger.entries_for_loan(loan_id)
