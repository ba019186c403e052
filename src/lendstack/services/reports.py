"""Read models for people: trial balance with account names, aging of the live book.

`trial_balance_report` and `aging_report` return frozen values; `trial_balance` and `aging` are
their JSON documents (what the API and the CLI print), kept until every shell calls `to_json()`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from lendstack.invariants import check
from lendstack.ledger import CHART, AccountCode
from lendstack.money.money import format_minor
from lendstack.services.business_date import business_date
from lendstack.servicing.aging import BUCKETS, FIVE_TIER_ZH, FIVE_TIERS
from lendstack.store import Engine, UnitOfWork
from lendstack.store.report_repo import AgingGroup, ReportRepository

CLASS_ORDER = tuple(t.value for t in FIVE_TIERS)


@dataclass(frozen=True, slots=True)
class TrialBalanceLine:
    """One account's debit-positive total in one currency, split into its debit and credit side."""

    currency: str
    account: str
    amount_minor: int

    def to_json(self) -> dict[str, Any]:
        spec = CHART[AccountCode(self.account)]
        debit, credit = max(self.amount_minor, 0), max(-self.amount_minor, 0)
        return {"account": self.account, "name_en": spec.name_en, "name_zh": spec.name_zh, "kind": spec.kind.value,
                "debit_minor": debit, "credit_minor": credit, "debit": format_minor(debit, self.currency),
                "credit": format_minor(credit, self.currency)}


@dataclass(frozen=True, slots=True)
class TrialBalance:
    """Every account's total per currency, as of a day (None: everything posted); it balances."""

    as_of: date | None
    business_date: date | None
    lines: tuple[TrialBalanceLine, ...]  # by currency, then account

    def __post_init__(self) -> None:
        sums: dict[str, int] = {}
        for line in self.lines:
            sums[line.currency] = sums.get(line.currency, 0) + line.amount_minor
        check(all(v == 0 for v in sums.values()), f"trial balance off: {sums}")

    def to_json(self) -> dict[str, Any]:
        by_currency: dict[str, list[dict[str, Any]]] = {}
        for line in self.lines:
            by_currency.setdefault(line.currency, []).append(line.to_json())
        return {"as_of": _iso(self.as_of), "business_date": _iso(self.business_date), "currencies": by_currency,
                "balanced": True}


@dataclass(frozen=True, slots=True)
class AgingLine:
    """Live loans of one currency in one bucket or class: how many, and their outstanding principal."""

    currency: str
    name: str
    loans: int
    principal_minor: int

    def to_json(self) -> dict[str, Any]:
        return {"currency": self.currency, "name": self.name, "loans": self.loans,
                "principal_minor": self.principal_minor, "principal": format_minor(self.principal_minor, self.currency)}


@dataclass(frozen=True, slots=True)
class Aging:
    business_date: date | None
    by_bucket: tuple[AgingLine, ...]
    by_class: tuple[AgingLine, ...]
    loans_by_status: dict[str, int]
    non_accrual_loans: int
    npl_ratio: dict[str, float]  # per currency: principal classed substandard or worse / all, live loans

    def to_json(self) -> dict[str, Any]:
        return {
            "business_date": _iso(self.business_date),
            "by_bucket": [line.to_json() for line in self.by_bucket],
            "by_class": [line.to_json() for line in self.by_class],
            "class_names_zh": {t.value: FIVE_TIER_ZH[t] for t in FIVE_TIERS},
            "loans_by_status": self.loans_by_status,
            "non_accrual_loans": self.non_accrual_loans,
            "npl_ratio": self.npl_ratio,
        }


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def trial_balance_report(engine: Engine, as_of: date | None = None) -> TrialBalance:
    """Per currency: every account's debit-positive total; constructing it checks they sum to zero."""
    with UnitOfWork(engine) as uow:
        totals = uow.ledger.trial_balance(as_of)
    lines = tuple(TrialBalanceLine(currency, str(code), amount) for (currency, code), amount in sorted(totals.items()))
    return TrialBalance(as_of, business_date(engine), lines)


def trial_balance(engine: Engine, as_of: date | None = None) -> dict[str, Any]:
    """`trial_balance_report` as its JSON document."""
    return trial_balance_report(engine, as_of).to_json()


def aging_report(engine: Engine) -> Aging:
    """Live loans by bucket (M0..M7+) and by five-tier class: counts and outstanding principal."""
    with engine.connect() as conn:
        repo = ReportRepository(conn)
        groups = repo.aging_groups()
        by_status = repo.loans_by_status()
        non_accrual = repo.non_accrual_loans()
        npl = repo.npl_sums()
    return Aging(
        business_date=business_date(engine), by_bucket=aging_lines(groups, "bucket", BUCKETS),
        by_class=aging_lines(groups, "five_tier", CLASS_ORDER), loans_by_status=by_status,
        non_accrual_loans=non_accrual,
        npl_ratio={n.currency: (float(n.bad_minor) / float(n.total_minor) if n.total_minor else 0.0) for n in npl})


def aging(engine: Engine) -> dict[str, Any]:
    """`aging_report` as its JSON document."""
    return aging_report(engine).to_json()


def aging_lines(groups: Sequence[AgingGroup], by: str, order: tuple[str, ...]) -> tuple[AgingLine, ...]:
    """Loans and principal per (currency, bucket or class), summed over the other grouping, in
    currency then `order` order."""
    acc: dict[tuple[str, str], list[int]] = {}
    for group in groups:
        key = (group.currency, str(getattr(group, by)))
        slot = acc.setdefault(key, [0, 0])
        slot[0] += group.loans
        slot[1] += group.principal_minor
    ordered = sorted(acc.items(), key=lambda kv: (kv[0][0], order.index(kv[0][1])))
    return tuple(AgingLine(currency, name, count, principal) for (currency, name), (count, principal) in ordered)
