"""What every router shares: the engine, pagination, money for display, the caller."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.encoders import jsonable_encoder
from pydantic import AfterValidator, BeforeValidator, Field, StrictInt, WithJsonSchema
from sqlalchemy import Engine

from lendstack.money.currency import CURRENCIES
from lendstack.money.money import AMOUNT_MINOR_MAX, format_minor
from lendstack.origination.parsing import iso_date_text

LIMIT_MAX = 200
# Far beyond any book we page through, far below a 64-bit OFFSET (2^63 made the database raise: a 500).
OFFSET_MAX = 10**9
DATE_YEAR_MIN, DATE_YEAR_MAX = 1900, 2200  # dates outside are typos, and date arithmetic on them overflows
# The same bounds, published: a client (and schemathesis) can tell a date we take from one we refuse.
DATE_PATTERN = r"^(19[0-9]{2}|2[01][0-9]{2}|2200)-[0-9]{2}-[0-9]{2}$"
JSON_DEPTH_MAX = 16  # free-form JSON (post-loan payloads)
JSON_INT_MAX = 2**53  # the largest integer every JSON reader keeps exactly


def _plausible_year(value: date) -> date:
    if not DATE_YEAR_MIN <= value.year <= DATE_YEAR_MAX:
        raise ValueError(f"must be between {DATE_YEAR_MIN}-01-01 and {DATE_YEAR_MAX}-12-31")
    return value


def _finite_json(value: Any, depth: int = 0) -> Any:
    # Python's json parser accepts NaN and Infinity, and Python ints are unbounded: neither can be stored
    # or compared safely. Depth is bounded too (the body limit bounds the size).
    if depth > JSON_DEPTH_MAX:
        raise ValueError(f"nested deeper than {JSON_DEPTH_MAX} levels")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("numbers must be finite (no NaN or Infinity)")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > JSON_INT_MAX:
        raise ValueError(f"integers must be within +-{JSON_INT_MAX}")
    if isinstance(value, dict):
        for item in value.values():
            _finite_json(item, depth + 1)
    if isinstance(value, list):
        for item in value:
            _finite_json(item, depth + 1)
    return value


IsoDate = Annotated[date, BeforeValidator(iso_date_text), AfterValidator(_plausible_year),
                    WithJsonSchema({"type": "string", "format": "date", "pattern": DATE_PATTERN})]
MinorAmount = Annotated[StrictInt, Field(gt=0, le=AMOUNT_MINOR_MAX, description="minor units (fen, cents)")]
MinorFee = Annotated[StrictInt, Field(ge=0, le=AMOUNT_MINOR_MAX, description="minor units (fen, cents)")]


def _known_currency(code: str) -> str:
    if code not in CURRENCIES:
        raise ValueError(f"unknown currency; known: {', '.join(sorted(CURRENCIES))}")
    return code


# The list of codes is in the contract: a schema-valid code is one the books take.
CurrencyCode = Annotated[str, AfterValidator(_known_currency),
                         WithJsonSchema({"type": "string", "enum": sorted(CURRENCIES)})]
FiniteJson = Annotated[dict[str, Any], AfterValidator(_finite_json)]


def engine_of(request: Request) -> Engine:
    engine = request.app.state.engine
    assert isinstance(engine, Engine)
    return engine


@dataclass(frozen=True, slots=True)
class Page:
    limit: int
    offset: int

    def wrap(self, items: list[Any]) -> dict[str, Any]:
        # We fetch limit + 1 rows: the extra one only says whether there is a next page.
        more = len(items) > self.limit
        return {"items": items[: self.limit], "limit": self.limit, "offset": self.offset,
                "next_offset": self.offset + self.limit if more else None}


async def _engine(request: Request) -> Engine:
    # async on purpose: FastAPI runs a plain `def` dependency in the thread pool, one more thread
    # hop per request for a dictionary lookup.
    return engine_of(request)


async def _page(limit: Annotated[int, Query(ge=1, le=LIMIT_MAX)] = 50,
                offset: Annotated[int, Query(ge=0, le=OFFSET_MAX)] = 0) -> Page:
    assert 1 <= limit <= LIMIT_MAX and 0 <= offset <= OFFSET_MAX
    return Page(limit, offset)


EngineDep = Annotated[Engine, Depends(_engine)]
PageDep = Annotated[Page, Depends(_page)]


def with_display(data: dict[str, Any], currency: str) -> dict[str, Any]:
    """Next to every `x_minor` integer, `x` as a major-unit decimal string (for people, not arithmetic)."""
    out = dict(data)
    for name, value in data.items():
        if name.endswith("_minor") and isinstance(value, int) and not isinstance(value, bool):
            out[name.removesuffix("_minor")] = format_minor(value, currency)
    encoded: dict[str, Any] = jsonable_encoder(out)
    return encoded
