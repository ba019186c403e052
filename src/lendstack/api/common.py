"""What every router shares: the engine, pagination, money for display, the caller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.encoders import jsonable_encoder
from sqlalchemy import Engine

from lendstack.money.money import format_minor

LIMIT_MAX = 200


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


async def _page(limit: Annotated[int, Query(ge=1, le=LIMIT_MAX)] = 50, offset: Annotated[int, Query(ge=0)] = 0) -> Page:
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
