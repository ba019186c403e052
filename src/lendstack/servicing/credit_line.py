"""A credit line (授信额度) with staged tranches: each draw becomes its own loan (借据) with its own
schedule, tied to the line by line_id. Production-cycle lending releases money in stages (e.g.
50k at sowing, 80k at growing, 70k at harvest) instead of the whole 200k on day one.

Status: a tested domain type only — no table, no command, no API or console yet. Issue 17 makes
credit lines first-class (stored lines, revolving availability, dynamic limits, early warning's
freeze/reduce acting on them); it builds on these pure functions rather than replacing them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date

from lendstack.invariants import InvariantError, check
from lendstack.money import Money
from lendstack.products import LoanProduct
from lendstack.servicing.commands import book, disburse
from lendstack.servicing.errors import ServicingError
from lendstack.servicing.outcome import Outcome

TRANCHES_MAX = 24


@dataclass(frozen=True, slots=True)
class PlannedTranche:
    amount_minor: int
    earliest_on: date  # a stage is released no earlier than this (the season's start)
    term: int


@dataclass(frozen=True, slots=True)
class CreditLine:
    line_id: str
    product_id: str
    currency: str
    limit_minor: int
    expires_on: date
    tranches: tuple[PlannedTranche, ...] = ()
    drawn_minor: int = 0
    draws: tuple[str, ...] = ()  # loan ids, in order
    frozen: bool = False  # early warning may freeze the undrawn part

    def __post_init__(self) -> None:
        if not 0 <= self.drawn_minor <= self.limit_minor:
            raise InvariantError((self.line_id, self.drawn_minor))
        check(len(self.tranches) <= TRANCHES_MAX and len(self.draws) <= TRANCHES_MAX, "tranches and draws are bounded")
        check(sum(t.amount_minor for t in self.tranches) <= self.limit_minor, "tranches stay within the limit")

    @property
    def available_minor(self) -> int:
        return 0 if self.frozen else self.limit_minor - self.drawn_minor


def open_line(
    line_id: str, product: LoanProduct, limit: Money, expires_on: date, tranches: tuple[PlannedTranche, ...] = ()
) -> CreditLine:
    if limit.currency != product.currency:
        raise ServicingError("currency", f"{limit.currency} does not match product currency {product.currency}")
    if limit.amount_minor <= 0:
        raise ServicingError("limit", "must be positive")
    if len(tranches) > TRANCHES_MAX:
        raise ServicingError("tranches", f"at most {TRANCHES_MAX}")
    if sum(t.amount_minor for t in tranches) > limit.amount_minor:
        raise ServicingError("tranches", "the planned tranches exceed the limit")
    dates = [t.earliest_on for t in tranches]
    if dates != sorted(dates):
        raise ServicingError("tranches", "stages must be in date order")
    return CreditLine(line_id, product.product_id, product.currency, limit.amount_minor, expires_on, tranches)


def draw(
    line: CreditLine, product: LoanProduct, loan_id: str, amount: Money, term: int, on: date, key: str
) -> tuple[CreditLine, Outcome]:
    """Book and disburse one tranche as its own loan; the line's drawn amount rises by it."""
    if product.product_id != line.product_id:
        raise ServicingError("product_id", f"the line is for {line.product_id}")
    if on > line.expires_on:
        raise ServicingError("on", f"the line expired on {line.expires_on}")
    if line.frozen:
        raise ServicingError("line_id", "the line is frozen")
    if amount.amount_minor > line.available_minor:
        raise ServicingError("amount", f"exceeds what is available on the line ({line.available_minor} minor units)")
    stage = len(line.draws)
    if stage < len(line.tranches) and on < line.tranches[stage].earliest_on:
        raise ServicingError("on", f"stage {stage + 1} is released from {line.tranches[stage].earliest_on}")
    booked = book(loan_id, product, amount, term, on=on, line_id=line.line_id)
    outcome = booked.then(disburse(booked.loan, on, key))
    new_line = dataclasses.replace(line, drawn_minor=line.drawn_minor + amount.amount_minor,
                                   draws=(*line.draws, loan_id))
    return new_line, outcome
