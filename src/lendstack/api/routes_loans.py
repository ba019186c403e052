"""Loans: list (filter by status), one loan, its schedule, its statement (installments + ledger
entries), and the money moves (disburse, repay, prepay, refund), each idempotent by Idempotency-Key."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from sqlalchemy import Engine

from lendstack.api.common import CurrencyCode, EngineDep, IsoDate, MinorAmount, PageDep, with_display
from lendstack.api.idempotency import IdempotencyKey, replayable, service_key
from lendstack.api.keys import Principal
from lendstack.api.problems import Problem
from lendstack.api.security import principal_of
from lendstack.ledger import JournalEntry
from lendstack.money import Money
from lendstack.services.api_access import loan_page, partner_of_loan
from lendstack.services.loans import (
    disburse_loan,
    get_loan,
    loan_entries,
    prepay_loan,
    recover_loan,
    refund_loan,
    repay_loan,
    reverse_loan_payment,
    summary,
)
from lendstack.servicing import Loan

router = APIRouter(prefix="/v1")
LoanStatusName = Literal["approved", "active", "overdue", "closed", "written_off"]


def owned_loan(engine: Engine, principal: Principal, loan_id: str) -> Loan:
    """The loan; 404 when unknown or (for a partner) brought by someone else."""
    if principal.is_partner and partner_of_loan(engine, loan_id) != principal.partner_id:
        raise Problem(404, "not-found", f"unknown loan {loan_id!r}", field="loan_id")
    return get_loan(engine, loan_id)  # ServicingError("loan_id", "unknown ...") → 404


def _loan_view(loan: Loan) -> dict[str, Any]:
    return with_display({**summary(loan), "product_id": loan.terms.product_id, "principal_minor": loan.principal_minor,
                         "term": loan.term, "rate_annual": str(loan.terms.rate_annual),
                         "disbursed_on": loan.disbursed_on}, loan.currency)


def _installments(loan: Loan) -> list[dict[str, Any]]:
    return [with_display({"seq": i.seq, "period_start": i.period_start, "due_date": i.due_date,
                          "principal_minor": i.principal_minor, "interest_minor": i.interest_minor,
                          "fee_minor": i.fee_minor, "principal_paid_minor": i.principal_paid_minor,
                          "interest_paid_minor": i.interest_paid_minor, "fee_paid_minor": i.fee_paid_minor},
                         loan.currency) for i in loan.installments]


def _entry(entry: JournalEntry) -> dict[str, Any]:
    return {"entry_id": entry.entry_id, "kind": str(entry.kind.value),
            "effective_date": entry.effective_date.isoformat(), "memo": entry.memo,
            "reverses_entry_id": entry.reverses_entry_id,
            "postings": [with_display({"account": str(p.code.value), "amount_minor": p.amount_minor,
                                       "currency": p.currency}, p.currency) for p in entry.postings]}


@router.get("/loans", tags=["loans"])
def list_loans(request: Request, engine: EngineDep, page: PageDep,
               status: Annotated[LoanStatusName | None, Query()] = None) -> dict[str, Any]:
    principal = principal_of(request)
    found = loan_page(engine, principal.partner_id if principal.is_partner else "", status, page.limit + 1,
                      page.offset)
    return page.wrap([with_display(asdict(item), item.currency) for item in found])


@router.get("/loans/{loan_id}", tags=["loans"])
def loan(loan_id: str, request: Request, engine: EngineDep) -> dict[str, Any]:
    return _loan_view(owned_loan(engine, principal_of(request), loan_id))


@router.get("/loans/{loan_id}/schedule", tags=["loans"])
def loan_schedule(loan_id: str, request: Request, engine: EngineDep) -> dict[str, Any]:
    found = owned_loan(engine, principal_of(request), loan_id)
    return {"loan_id": loan_id, "currency": found.currency, "installments": _installments(found)}


@router.get("/loans/{loan_id}/statement", tags=["loans"])
def loan_statement(loan_id: str, request: Request, engine: EngineDep) -> dict[str, Any]:
    found = owned_loan(engine, principal_of(request), loan_id)
    entries = loan_entries(engine, loan_id)
    return {"loan": _loan_view(found), "installments": _installments(found), "entries": [_entry(e) for e in entries]}


class DisburseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    on: IsoDate | None = None


class PaymentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount_minor: MinorAmount
    currency: CurrencyCode
    on: IsoDate | None = None  # value date: the book's business date, which is also the default


class PrepaymentRequest(PaymentRequest):
    full: StrictBool = False


def _move(request: Request, engine: Engine, loan_id: str, key: str, body: BaseModel,
          command: Callable[[str], dict[str, Any]]) -> JSONResponse:
    """Check access, then run `command(service_key)` once per Idempotency-Key."""
    principal = principal_of(request)
    current = owned_loan(engine, principal, loan_id)

    def run() -> tuple[int, Any]:
        return 201, with_display(command(service_key(principal, key)), current.currency)

    return replayable(engine, principal, key, "POST", request.url.path, body.model_dump(mode="json"), run)


@router.post("/loans/{loan_id}/disbursements", status_code=201, tags=["loans"])
def disburse(loan_id: str, request: Request, engine: EngineDep, body: DisburseRequest,
             key: Annotated[str, IdempotencyKey]) -> JSONResponse:
    return _move(request, engine, loan_id, key, body,
                 lambda k: disburse_loan(engine, loan_id, body.on, k))


@router.post("/loans/{loan_id}/repayments", status_code=201, tags=["loans"])
def repay(loan_id: str, request: Request, engine: EngineDep, body: PaymentRequest,
          key: Annotated[str, IdempotencyKey]) -> JSONResponse:
    amount = Money(body.amount_minor, body.currency)
    return _move(request, engine, loan_id, key, body,
                 lambda k: repay_loan(engine, loan_id, body.on, amount, k))


@router.post("/loans/{loan_id}/prepayments", status_code=201, tags=["loans"])
def prepay(loan_id: str, request: Request, engine: EngineDep, body: PrepaymentRequest,
           key: Annotated[str, IdempotencyKey]) -> JSONResponse:
    amount = Money(body.amount_minor, body.currency)
    return _move(request, engine, loan_id, key, body,
                 lambda k: prepay_loan(engine, loan_id, body.on, amount, k, full=body.full))


class RefundRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount_minor: Annotated[MinorAmount, Field(description="minor units, at most the loan's suspense balance")]
    currency: CurrencyCode
    on: IsoDate | None = None  # value date: the book's business date, which is also the default


@router.post("/loans/{loan_id}/refund", status_code=201, tags=["loans"])
def refund(loan_id: str, request: Request, engine: EngineDep, body: RefundRequest,
           key: Annotated[str, IdempotencyKey]) -> JSONResponse:
    """Pay money held in suspense (an overpayment) back to the borrower; closed loans included."""
    amount = Money(body.amount_minor, body.currency)
    return _move(request, engine, loan_id, key, body,
                 lambda k: refund_loan(engine, loan_id, body.on, amount, k))


class RecoveryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount_minor: Annotated[MinorAmount, Field(description="minor units collected, at most the open claim")]
    currency: CurrencyCode
    on: IsoDate | None = None  # value date: the book's business date, which is also the default


@router.post("/loans/{loan_id}/recoveries", status_code=201, tags=["loans"])
def recovery(loan_id: str, request: Request, engine: EngineDep, body: RecoveryRequest,
             key: Annotated[str, IdempotencyKey]) -> JSONResponse:
    """Cash collected on a written-off loan (核销后收回): back through the loss allowance; the loan stays
    written off and counts what it has recovered."""
    amount = Money(body.amount_minor, body.currency)
    return _move(request, engine, loan_id, key, body,
                 lambda k: recover_loan(engine, loan_id, body.on, amount, k))


class ReversalRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    entry_id: str = Field(min_length=1, max_length=200, description="the repayment's or prepayment's entry id")
    reason: str = Field(min_length=1, max_length=500, description="why: bounced, misapplied, ...")
    on: IsoDate | None = None  # value date: the book's business date, which is also the default


@router.post("/loans/{loan_id}/reversals", status_code=201, tags=["loans"])
def reversal(loan_id: str, request: Request, engine: EngineDep, body: ReversalRequest,
             key: Annotated[str, IdempotencyKey]) -> JSONResponse:
    """Reverse a repayment or prepayment (冲正), dated today: the loan is replayed without it and the
    differences for the days since are posted today; a closed day is never rewritten."""
    return _move(request, engine, loan_id, key, body,
                 lambda k: reverse_loan_payment(engine, loan_id, body.entry_id, body.on, k, body.reason))
