"""Post-loan data through the API: monthly revenue / POS, tax, bureau refreshes, telematics and device
snapshots for booked loans (the same records `lendstack monitor ingest` takes from files). A batch is
stored all or nothing, each record fingerprinted; the early-warning indicators then run at once on the
loans the batch touched ("monitoring runs on arriving data"), and the new alerts come back."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine

from lendstack.api.common import EngineDep, FiniteJson, IsoDate
from lendstack.api.idempotency import IdempotencyKey, replayable
from lendstack.api.keys import Principal
from lendstack.api.problems import Problem
from lendstack.api.security import principal_of
from lendstack.monitoring.early_warning import EarlyWarningError
from lendstack.services import early_warning
from lendstack.services.api_access import loans_owned_by

router = APIRouter(prefix="/v1")
RECORDS_MAX = 1_000  # per call; larger feeds go through `lendstack monitor ingest` files


class PostLoanRecordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    loan_id: str = Field(min_length=1, max_length=64)
    source: str = Field(min_length=1, max_length=32, description="pos | tax | bureau | telematics | device")
    as_of: IsoDate
    payload: FiniteJson


class PostLoanBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    records: list[PostLoanRecordIn] = Field(min_length=1, max_length=RECORDS_MAX)


def _check_owned(engine: Engine, principal: Principal, loan_ids: set[str]) -> None:
    """A partner may send data only for loans it brought (others: 404, as if unknown)."""
    if not principal.is_partner:
        return
    owned = loans_owned_by(engine, principal.partner_id, loan_ids)
    missing = sorted(loan_ids - owned)
    if missing:
        raise Problem(404, "not-found", f"unknown loan {missing[0]!r}", field="records.loan_id")


def _ingest_and_check(engine: Engine, batch: PostLoanBatch) -> tuple[int, Any]:
    raw = [r.model_dump(mode="json") for r in batch.records]
    try:
        stored = early_warning.ingest_batch(engine, raw).to_json()
    except EarlyWarningError as exc:
        raise Problem(422, "invalid", str(exc), field=exc.field) from exc
    latest: dict[str, date] = {}
    for r in batch.records:
        latest[r.loan_id] = max(latest.get(r.loan_id, r.as_of), r.as_of)
    alerts = [a for loan_id, as_of in sorted(latest.items())
              for a in early_warning.check_loan(engine, loan_id, as_of)]
    return 201, {**stored, "alerts": [{"alert_id": a.alert_id, "loan_id": a.loan_id, "indicator": a.indicator,
                                       "severity": a.severity, "as_of": a.as_of.isoformat()} for a in alerts]}


@router.post("/post-loan-data", status_code=201, tags=["monitoring"])
def post_loan_data(request: Request, engine: EngineDep, batch: PostLoanBatch,
                   key: Annotated[str, IdempotencyKey]) -> JSONResponse:
    """Store a batch of post-loan records (all or nothing) and run early warning on the loans it touched."""
    principal = principal_of(request)
    _check_owned(engine, principal, {r.loan_id for r in batch.records})
    return replayable(engine, principal, key, "POST", request.url.path, batch.model_dump(mode="json"),
                      lambda: _ingest_and_check(engine, batch))
