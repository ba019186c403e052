"""Loans: the list and one loan (schedule, payments, ledger entries, status/DPD history), with
disburse (admin, credit officer), repay and refund (admin, collections agent) forms; the refund
form pays money held in suspense back to the borrower and shows only while there is some. Each
form carries an idempotency key made when the form is drawn, so a retried or double-clicked post
moves money once.
The loan page charts DPD over the loan's life (ECharts, with the same points as a table)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any

import polars as pl
from fastapi import APIRouter, Request
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from lendstack.api.common import engine_of
from lendstack.errors import ErrorKind
from lendstack.ledger import CHART, AccountCode, EntryKind, JournalEntry
from lendstack.money import Money, MoneyError
from lendstack.money.money import format_minor
from lendstack.monitoring.portfolio import dpd_at, installment_paid_dates
from lendstack.services.browse import loan_rows, loan_view
from lendstack.services.business_date import business_date
from lendstack.services.conflicts import ConcurrentUpdate, IdempotencyConflict
from lendstack.services.loans import disburse_loan, recover_loan, refund_loan, repay_loan, reverse_loan_payment
from lendstack.servicing import Loan, ServicingError
from lendstack.web.forms import FormError, form_text
from lendstack.web.render import render
from lendstack.web.routes_dashboard import script_json

router = APIRouter(include_in_schema=False)
LOAN_STATUSES = ("approved", "active", "overdue", "closed", "written_off")
MONEY_ERRORS = (MoneyError, ServicingError, IdempotencyConflict, ConcurrentUpdate, FormError)


def new_form_key() -> str:
    return secrets.token_urlsafe(16)


def _error(exc: Exception, form: str = "") -> dict[str, str]:
    """The error for the page; `form` says which form it belongs to (two forms both have an amount)."""
    return {"field": str(getattr(exc, "field", "form")), "message": str(getattr(exc, "message", exc)), "form": form}


@router.get("/console/loans")
def loans_page(request: Request, status: str = "", offset: int = 0) -> Response:
    chosen = status if status in LOAN_STATUSES else ""
    rows, more = loan_rows(engine_of(request), status=chosen or None, offset=offset)
    return render(request, "loans.html", {"rows": rows, "more": more, "offset": max(offset, 0), "status": chosen,
                                          "statuses": LOAN_STATUSES})


def _loan_page(request: Request, loan_id: str, *, error: dict[str, str] | None = None,
               values: dict[str, str] | None = None, status_code: int = 200) -> Response:
    view = loan_view(engine_of(request), loan_id)
    if view is None:
        return render(request, "error.html", {"status": 404, "detail_key": "error.not_found"}, status_code=404)
    dpd_points = dpd_history(view.loan, view.entries)
    context: dict[str, Any] = {"view": view, "error": error, "values": values or {}, "chart": CHART,
                               "dpd_points": dpd_points, "dpd_max": max((d for _, d in dpd_points), default=0),
                               "dpd_json": script_json([[day.isoformat(), dpd] for day, dpd in dpd_points]),
                               "repay_key": (values or {}).get("idempotency_key") or new_form_key(),
                               "refund_key": (values or {}).get("refund_key") or new_form_key(),
                               "refund_amount": (values or {}).get("refund_amount")
                               or format_minor(view.loan.suspense_minor, view.loan.currency),
                               "recover_key": (values or {}).get("recover_key") or new_form_key(),
                               "reverse_key": (values or {}).get("reverse_key") or new_form_key(),
                               "disburse_key": new_form_key(), "today": _business_day(request)}
    return render(request, "loan.html", context, status_code=status_code)


# --------------------------------------------------------------------------- DPD history

# What each installment component is paid through: servicing allocates a payment component by component
# (penalty, fee, interest, principal), each over the due installments oldest first (servicing.payments).
# In non-accrual interest is paid off the memo account 9011 instead of 1311.
_COMPONENT_ACCOUNTS = {"principal_minor": (AccountCode.LOAN_PRINCIPAL,),
                       "interest_minor": (AccountCode.INTEREST_RECEIVABLE, AccountCode.MEMO_INTEREST),
                       "fee_minor": (AccountCode.FEE_RECEIVABLE,)}
_PAYMENT_KINDS = (EntryKind.REPAY, EntryKind.PREPAY)  # suspense applied on a due date is a REPAY entry too
INSTALLMENTS_MAX = 1200  # 100 years of monthly installments: any real schedule
_ALWAYS = date(1, 1, 1)  # "covered from the start": a component with nothing due so far


def _installments_frame(loan: Loan) -> pl.DataFrame:
    return pl.DataFrame(
        [(loan.loan_id, i.seq, i.due_date, i.principal_minor, i.interest_minor, i.fee_minor, i.capitalized)
         for i in loan.installments],
        schema={"loan_id": pl.String, "seq": pl.Int64, "due_date": pl.Date, "principal_minor": pl.Int64,
                "interest_minor": pl.Int64, "fee_minor": pl.Int64, "capitalized": pl.Boolean}, orient="row")


def _payments_frame(loan_id: str, entries: Sequence[JournalEntry], accounts: tuple[AccountCode, ...]) -> pl.DataFrame:
    """Cash applied to one component by value date (the credits of the loan's payment entries that a
    reversal did not undo)."""
    paid: dict[date, int] = {}
    undone = {e.reverses_entry_id for e in entries if e.kind is EntryKind.REVERSAL}
    for e in entries:
        if e.kind in _PAYMENT_KINDS and e.entry_id not in undone:
            credit = -sum(p.amount_minor for p in e.postings if p.code in accounts and p.amount_minor < 0)
            paid[e.effective_date] = paid.get(e.effective_date, 0) + credit
    return pl.DataFrame([(loan_id, day, amount) for day, amount in sorted(paid.items()) if amount > 0],
                        schema={"loan_id": pl.String, "paid_on": pl.Date, "amount_minor": pl.Int64}, orient="row")


def covered_dates(loan: Loan, entries: Sequence[JournalEntry]) -> pl.DataFrame:
    """Each installment (loan_id, seq, due_date) with `paid_on`, the day its last component was paid.

    installment_paid_dates over each component on its own (only that component due, only the cash
    applied to it), because servicing pays interest on every due installment before any principal:
    the total cash alone would call an installment paid while its principal is still open."""
    inst = _installments_frame(loan)
    zero = {name: pl.lit(0, pl.Int64).alias(name) for name in _COMPONENT_ACCOUNTS}
    covered = None
    for name, accounts in _COMPONENT_ACCOUNTS.items():
        only = inst.with_columns([expr for other, expr in zero.items() if other != name])
        found = installment_paid_dates(only, _payments_frame(loan.loan_id, entries, accounts)).select(
            "loan_id", "seq", "due_date",
            pl.when(pl.col("cum_due_minor") == 0).then(pl.lit(_ALWAYS)).otherwise(pl.col("paid_on")).alias(name))
        covered = found if covered is None else covered.join(found.drop("loan_id", "due_date"), on="seq")
    assert covered is not None
    parts = [pl.col(name) for name in _COMPONENT_ACCOUNTS]
    return covered.select("loan_id", "seq", "due_date", pl.when(pl.any_horizontal([p.is_null() for p in parts]))
                          .then(None).otherwise(pl.max_horizontal(parts)).cast(pl.Date).alias("paid_on"))


def dpd_history(loan: Loan, entries: Sequence[JournalEntry]) -> list[tuple[date, int]]:
    """DPD from disbursement to the last closed day, as the points where it changes course.

    Between an installment's due date and the day it is covered DPD grows one a day, and it only
    jumps where an installment falls overdue (due date + 1) or is covered (the paid date), so the
    values on those days and the day before each give the whole line exactly, peaks included,
    without one point a day over a 30-year mortgage. An installment covered by its due date never
    moves DPD and adds no point."""
    assert len(loan.installments) <= INSTALLMENTS_MAX, "more installments than any schedule has"
    if loan.disbursed_on is None:
        return []
    covered = covered_dates(loan, entries)
    start = loan.disbursed_on
    paid_days = [e.effective_date for e in entries if e.kind in _PAYMENT_KINDS]
    end = max([start, *([loan.accrued_through] if loan.accrued_through else []), *paid_days])
    days = {start, end}
    for due, paid_on in covered.select("due_date", "paid_on").iter_rows():
        if paid_on is not None and paid_on <= due:
            continue
        days |= {due, due + timedelta(days=1)}
        if paid_on is not None:
            days |= {paid_on - timedelta(days=1), paid_on}
    points = []
    for day in sorted(d for d in days if start <= d <= end):
        found = dpd_at(covered, day)["days_past_due"].to_list()
        points.append((day, int(found[0]) if found else 0))
    return points


@router.get("/console/loans/{loan_id}")
def loan_page(loan_id: str, request: Request) -> Response:
    return _loan_page(request, loan_id)


def _business_day(request: Request) -> str:
    """The book's business date for the forms' date fields ('' for a book that has none yet)."""
    found = business_date(engine_of(request))
    return found.isoformat() if found else ""


def _value_date(_engine: Engine, text: str) -> date | None:
    """The value date a staff member typed, or None (blank): the book's business date. The service
    refuses any other date than the business date, naming `on`."""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise FormError("on", f"not a date in YYYY-MM-DD form: {text!r}") from exc


def _typed_values(form: FormData) -> dict[str, str]:
    """What the user typed, to show the form again after an error (never the CSRF token)."""
    return {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}


def _form_amount(engine: Engine, loan_id: str, form: FormData, field: str) -> Money:
    """The amount in form field `field`, in the loan's currency ("1,234.50" → minor units)."""
    view = loan_view(engine, loan_id)
    if view is None:
        raise FormError("loan_id", f"unknown loan {loan_id!r}", kind=ErrorKind.NOT_FOUND)
    text = form_text(form, field, required=True, length_max=20).replace(",", "")
    return Money.of_major(text, view.loan.currency)


@router.post("/console/loans/{loan_id}/repay")
async def repay(loan_id: str, request: Request) -> Response:
    form = await request.form()
    values = _typed_values(form)
    engine = engine_of(request)
    try:
        amount = _form_amount(engine, loan_id, form, "amount")
        if amount.amount_minor <= 0:
            raise FormError("amount", "must be positive")
        key = form_text(form, "idempotency_key", required=True, length_max=64)
        on = await run_in_threadpool(_value_date, engine, form_text(form, "on", length_max=10))
        await run_in_threadpool(repay_loan, engine, loan_id, on, amount, f"console-repay-{key}")
    except MONEY_ERRORS as exc:
        return _loan_page(request, loan_id, error=_error(exc), values=values, status_code=422)
    return RedirectResponse(f"/console/loans/{loan_id}?flash=repaid", status_code=303)


@router.post("/console/loans/{loan_id}/disburse")
async def disburse(loan_id: str, request: Request) -> Response:
    form = await request.form()
    engine = engine_of(request)
    try:
        key = form_text(form, "idempotency_key", required=True, length_max=64)
        on = await run_in_threadpool(_value_date, engine, form_text(form, "on", length_max=10))
        await run_in_threadpool(disburse_loan, engine, loan_id, on, f"console-disburse-{key}")
    except MONEY_ERRORS as exc:
        return _loan_page(request, loan_id, error=_error(exc), status_code=422)
    return RedirectResponse(f"/console/loans/{loan_id}?flash=disbursed", status_code=303)


AmountCommand = Callable[[Engine, str, date | None, Money, str], dict[str, Any]]


async def _amount_form(request: Request, loan_id: str, form_name: str, command: AmountCommand,
                       flash: str) -> Response:
    """A form that moves an amount on the business date (refund, recover): fields `<form>_amount`,
    `<form>_key` and `<form>_on`; an error goes back under that form, nothing written."""
    form = await request.form()
    values = _typed_values(form)
    engine = engine_of(request)
    try:
        amount = _form_amount(engine, loan_id, form, f"{form_name}_amount")
        key = form_text(form, f"{form_name}_key", required=True, length_max=64)
        on = await run_in_threadpool(_value_date, engine, form_text(form, f"{form_name}_on", length_max=10))
        await run_in_threadpool(command, engine, loan_id, on, amount, f"console-{form_name}-{key}")
    except MONEY_ERRORS as exc:
        return _loan_page(request, loan_id, error=_error(exc, form_name), values=values, status_code=422)
    return RedirectResponse(f"/console/loans/{loan_id}?flash={flash}", status_code=303)


@router.post("/console/loans/{loan_id}/refund")
async def refund(loan_id: str, request: Request) -> Response:
    """Pay money held in suspense back to the borrower (up to the suspense balance)."""
    return await _amount_form(request, loan_id, "refund", refund_loan, "refunded")


@router.post("/console/loans/{loan_id}/recover")
async def recover(loan_id: str, request: Request) -> Response:
    """Cash collected on a written-off loan (核销后收回)."""
    return await _amount_form(request, loan_id, "recover", recover_loan, "recovered")


@router.post("/console/loans/{loan_id}/reverse")
async def reverse(loan_id: str, request: Request) -> Response:
    """Reverse a repayment or prepayment (冲正): dated on the business date, the days since replayed."""
    form = await request.form()
    values = _typed_values(form)
    engine = engine_of(request)
    try:
        entry_id = form_text(form, "entry_id", required=True, length_max=200)
        reason = form_text(form, "reason", required=True, length_max=500)
        key = form_text(form, "reverse_key", required=True, length_max=64)
        await run_in_threadpool(reverse_loan_payment, engine, loan_id, entry_id, None, f"console-reverse-{key}",
                                reason)
    except MONEY_ERRORS as exc:
        return _loan_page(request, loan_id, error=_error(exc, "reverse"), values=values, status_code=422)
    return RedirectResponse(f"/console/loans/{loan_id}?flash=reversed", status_code=303)
