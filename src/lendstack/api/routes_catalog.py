"""Products, schedule quotes, reports (trial balance, aging, portfolio) and key administration: reads and
pure arithmetic."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict, Field, StrictInt, WithJsonSchema

from lendstack.api.common import CurrencyCode, EngineDep, IsoDate, MinorAmount, MinorFee, PageDep, with_display
from lendstack.api.keys import list_keys, revoke_key
from lendstack.api.problems import Problem
from lendstack.products import load_catalog
from lendstack.schedule import apr_of, build_schedule
from lendstack.services.monitoring import portfolio_report
from lendstack.services.reports import aging, trial_balance

router = APIRouter(prefix="/v1")
AS_OF_MIN, AS_OF_MAX = date(2000, 1, 1), date(2099, 12, 31)
# The portfolio's narrower range, published (vintage curves run month by month up to as_of).
PortfolioDate = Annotated[IsoDate, WithJsonSchema({"type": "string", "format": "date",
                                                   "pattern": r"^20[0-9]{2}-[0-9]{2}-[0-9]{2}$"})]


def _product(product_id: str) -> dict[str, Any]:
    catalog = load_catalog()
    if product_id not in catalog:
        raise Problem(404, "not-found", f"no product {product_id!r}", field="product_id")
    return catalog[product_id].model_dump(mode="json")


@router.get("/products", tags=["products"])
def list_products(page: PageDep) -> dict[str, Any]:
    products = [p.model_dump(mode="json") for _, p in sorted(load_catalog().items())]
    return page.wrap(products[page.offset : page.offset + page.limit + 1])


@router.get("/products/{product_id}", tags=["products"])
def get_product(product_id: str) -> dict[str, Any]:
    return _product(product_id)


class QuoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount_minor: Annotated[MinorAmount, Field(description="principal in minor units (fen, cents)")]
    currency: CurrencyCode = "CNY"
    rate_annual: Decimal = Field(ge=0, le=10, description="nominal annual rate, e.g. \"0.12\"")
    term: StrictInt = Field(ge=1, le=600)
    method: Literal["equal_installment", "equal_principal", "interest_only", "bullet"]
    start: IsoDate | None = None
    upfront_fee_minor: MinorFee = 0


@router.post("/schedules/quote", tags=["schedules"])
def quote(body: QuoteRequest) -> dict[str, Any]:
    """A repayment schedule and its APR (IRR method); writes nothing, so no Idempotency-Key."""
    schedule = build_schedule(amount_minor=body.amount_minor, rate_annual=body.rate_annual, term=body.term,
                              method=body.method, start=body.start or datetime.now(UTC).date(),
                              currency=body.currency)
    lines = [with_display({"seq": ln.seq, "due_date": ln.due_date, "principal_minor": ln.principal_minor,
                           "interest_minor": ln.interest_minor, "fee_minor": ln.fee_minor,
                           "total_minor": ln.total_minor, "remaining_principal_minor": ln.remaining_principal_minor},
                          schedule.currency) for ln in schedule.lines]
    total = sum(ln.total_minor for ln in schedule.lines)
    return with_display({"amount_minor": schedule.amount_minor, "currency": schedule.currency,
                         "method": schedule.method.value, "term": schedule.term,
                         "rate_annual": str(schedule.rate_annual), "apr": str(apr_of(schedule, body.upfront_fee_minor)),
                         "total_repayable_minor": total, "lines": lines}, schedule.currency)


@router.get("/reports/trial-balance", tags=["reports"])
def report_trial_balance(engine: EngineDep, as_of: Annotated[IsoDate | None, Query()] = None) -> dict[str, Any]:
    return trial_balance(engine, as_of)


@router.get("/reports/aging", tags=["reports"])
def report_aging(engine: EngineDep) -> dict[str, Any]:
    return aging(engine)


@router.get("/reports/portfolio", tags=["reports"])
def report_portfolio(engine: EngineDep, as_of: Annotated[PortfolioDate | None, Query()] = None) -> dict[str, Any]:
    """Distributions (DPD, bucket, five-tier class), NPL ratio, concentration, vintages, roll rates and ECL."""
    if as_of is not None and not (AS_OF_MIN <= as_of <= AS_OF_MAX):
        # Vintage curves run month by month up to as_of: an unbounded date is unbounded work.
        raise Problem(422, "invalid", f"as_of must be between {AS_OF_MIN} and {AS_OF_MAX}", field="query.as_of")
    report: dict[str, Any] = jsonable_encoder(portfolio_report(engine, as_of))
    return report


@router.get("/keys", tags=["keys"])
def keys(engine: EngineDep, page: PageDep) -> dict[str, Any]:
    """Key metadata only: the secret was shown once, at creation, and is not stored."""
    return page.wrap(list_keys(engine, page.limit + 1, page.offset))


@router.post("/keys/{key_id}/revoke", tags=["keys"])
def revoke(key_id: str, engine: EngineDep) -> dict[str, Any]:
    """Revoking is naturally idempotent (a second revoke changes nothing), so no Idempotency-Key."""
    if not revoke_key(engine, key_id):
        raise Problem(404, "not-found", f"no key {key_id!r}", field="key_id")
    return {"key_id": key_id, "revoked": True}
