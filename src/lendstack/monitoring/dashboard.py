"""The portfolio dashboard's rules, pure: the filter (a date range and a currency, errors naming the
field), the flows' date range, and how the day's applications and disbursements, the live book and
its ECL are arranged into the numbers the console shows (every day and every bucket, class and stage
present, zero where nothing falls, so charts keep their axes). `services/dashboard.py` reads the
book and calls these.

- Flows (applications, approvals, disbursements) are dated: an application counts as approved when
  its status is approved, offered (a reviewer's counter-offer) or booked; approvals are grouped by
  the application date, so a day's approvals never exceed that day's applications.
- Stock (outstanding principal, DPD 30+, NPL, buckets, five-tier classes, ECL) is the book as of
  its last closed day; vintages are limited to the range's months.

Money stays integer minor units per currency; ratios are floats.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import polars as pl

from lendstack.errors import LendstackError
from lendstack.invariants import InvariantError, check
from lendstack.money import MoneyError, currency_of
from lendstack.monitoring.portfolio import (
    bucket_distribution,
    five_tier_distribution,
    installment_paid_dates,
    live,
    npl_ratio,
    vintage_curves,
    with_exposure,
)
from lendstack.servicing.aging import BUCKETS, FIVE_TIER_ZH, FIVE_TIERS

APPROVED_STATUSES = ("approved", "offered", "booked")
DECLINED_STATUSES = ("declined",)
REFERRED_STATUSES = ("referred",)
DPD30_DAYS = 30  # "DPD 30+" means more than 30 days past due (bucket M2 and worse)
RANGE_DAYS_MAX = 3_660  # ten years of daily points is the most one chart is asked to draw
DEFAULT_RANGE_DAYS = 90  # without a start date the flows cover the 90 days to the end date
STAGES = (1, 2, 3)


@dataclass(frozen=True, slots=True)
class DayApplications:
    """One day's applications, and how many of them are approved, declined and referred."""

    applications: int
    approved: int
    declined: int
    referred: int


@dataclass(frozen=True, slots=True)
class DayDisbursed:
    """One day's disbursements in one currency: loans and principal paid out."""

    loans: int
    amount_minor: int


class DashboardInputError(LendstackError):
    """A bad filter: names the field (start, end, currency)."""


@dataclass(frozen=True, slots=True)
class DashboardFilter:
    start: date | None = None
    end: date | None = None
    currency: str | None = None

    def __post_init__(self) -> None:
        if self.start is not None and self.end is not None:
            if self.start > self.end:
                raise DashboardInputError("start", f"{self.start} is after the end date {self.end}")
            if (self.end - self.start).days >= RANGE_DAYS_MAX:
                raise DashboardInputError("start", f"the range is longer than {RANGE_DAYS_MAX} days")


def parse_filter(start: str | None = None, end: str | None = None, currency: str | None = None) -> DashboardFilter:
    """The filter from query-string text ('' means not given); errors name the field."""
    code = None
    if currency:
        try:
            code = currency_of(currency.strip()).code
        except MoneyError as exc:
            raise DashboardInputError("currency", exc.message) from None
    return DashboardFilter(parse_day("start", start), parse_day("end", end), code)


def parse_day(field: str, text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise DashboardInputError(field, f"{text!r} is not a date (YYYY-MM-DD)") from None


def flow_range(start_given: date | None, end: date) -> tuple[date, date]:
    """The flows' date range: from the start given (else DEFAULT_RANGE_DAYS back from `end`) to
    `end`, the end given or the latest activity."""
    start = start_given or end - timedelta(days=DEFAULT_RANGE_DAYS - 1)
    if start > end:  # only a start was given, after every activity: the range is that one day
        end = start
    if (end - start).days >= RANGE_DAYS_MAX:
        raise DashboardInputError("start", f"the range {start}..{end} is longer than {RANGE_DAYS_MAX} days")
    return start, end


def application_totals(by_day: dict[date, DayApplications], start: date, end: date) -> dict[str, Any]:
    """Applications per day of [start, end] (zero on a day without any), the totals and the approval rate."""
    rows: list[dict[str, Any]] = []
    none = DayApplications(0, 0, 0, 0)
    for day in days(start, end):
        found = by_day.get(day, none)
        n, approved, declined, referred = found.applications, found.approved, found.declined, found.referred
        if approved + declined + referred > n:
            raise InvariantError(f"{day}: more approved, declined and referred than applications: {found}")
        rows.append({"day": day.isoformat(), "applications": n, "approved": approved, "declined": declined,
                     "referred": referred})
    total = sum(int(r["applications"]) for r in rows)
    approved_total = sum(int(r["approved"]) for r in rows)
    return {"by_day": rows, "total": total, "approved": approved_total,
            "declined": sum(r["declined"] for r in rows), "referred": sum(r["referred"] for r in rows),
            "approval_rate": approved_total / total if total else 0.0}


def disbursed_totals(by_day: dict[tuple[date, str], DayDisbursed], start: date, end: date,
                     currencies: list[str]) -> dict[str, Any]:
    """Disbursements per day and per month of [start, end] for each currency (zero where none), and totals."""
    daily: list[dict[str, Any]] = []
    monthly: dict[tuple[str, str], list[int]] = {}
    for day in days(start, end):
        for cur in currencies:
            found = by_day.get((day, cur))
            n, amount_minor = (found.loans, found.amount_minor) if found else (0, 0)
            daily.append({"day": day.isoformat(), "currency": cur, "loans": n, "amount_minor": amount_minor})
            month = monthly.setdefault((day.strftime("%Y-%m"), cur), [0, 0])
            month[0] += n
            month[1] += amount_minor
    return {
        "by_day": daily,
        "by_month": [{"month": m, "currency": cur, "loans": v[0], "amount_minor": v[1]}
                     for (m, cur), v in sorted(monthly.items())],
        "total_minor": {cur: sum(r["amount_minor"] for r in daily if r["currency"] == cur) for cur in currencies},
        "loans": sum(r["loans"] for r in daily),
    }


def days(start: date, end: date) -> list[date]:
    """Every day of [start, end], at most RANGE_DAYS_MAX."""
    count = (end - start).days + 1
    check(0 < count <= RANGE_DAYS_MAX, f"a range of 1..{RANGE_DAYS_MAX} days, got {start}..{end}")
    return [start + timedelta(days=i) for i in range(count)]


def book_stock(frame: pl.DataFrame, inst: pl.DataFrame, pay: pl.DataFrame, closed: date | None, start: date,
               end: date, currencies: list[str], ecl_rows: list[dict[str, Any]],
               ecl_totals: dict[str, int]) -> dict[str, Any]:
    """The stock part of the dashboard: outstanding and DPD 30+, NPL, buckets, classes, vintages in the
    range's months, and the ECL by stage (`ecl_rows`, `ecl_totals`: risk.ecl's summary of the same loans)."""
    exposure = with_exposure(frame)
    book = live(exposure)
    as_of = min(end, closed) if closed else end  # later months on book are not observed yet
    vintages = vintage_curves(installment_paid_dates(inst, pay), frame, as_of)
    first_month, last_month = start.strftime("%Y-%m"), end.strftime("%Y-%m")
    npl = npl_ratio(frame)
    return {
        "outstanding": {cur: outstanding(exposure, book, cur) for cur in currencies},
        "npl_ratio": {cur: npl.get(cur, 0.0) for cur in currencies},
        "by_bucket": complete(bucket_distribution(frame), currencies, list(BUCKETS)),
        "by_class": complete(five_tier_distribution(frame), currencies, [t.value for t in FIVE_TIERS],
                             {t.value: zh for t, zh in FIVE_TIER_ZH.items()}),
        "vintages": [v for v in vintages if first_month <= v["vintage"] <= last_month],
        "vintage_as_of": as_of.isoformat(),
        "ecl": {"by_stage": complete_stages(ecl_rows, currencies),
                "total_minor": {cur: ecl_totals.get(cur, 0) for cur in currencies}},
    }


def outstanding(exposure: pl.DataFrame, book: pl.DataFrame, currency: str) -> dict[str, Any]:
    """Live loans, their principal, and the part more than 30 days past due (count and principal)."""
    mine = book.filter(pl.col("currency") == currency)
    late = mine.filter(pl.col("days_past_due") > DPD30_DAYS)
    principal_minor = int(mine["principal_outstanding_minor"].sum())
    late_minor = int(late["principal_outstanding_minor"].sum())
    every = exposure.filter(pl.col("currency") == currency)  # closed and written-off loans owe 0 here
    return {
        "live_loans": mine.height, "principal_minor": principal_minor,
        "all_loans_principal_minor": int(every["principal_outstanding_minor"].sum()),
        "dpd30_loans": late.height, "dpd30_principal_minor": late_minor,
        "dpd30_ratio": late_minor / principal_minor if principal_minor else 0.0,
        "dpd30_count_ratio": late.height / mine.height if mine.height else 0.0,
    }


def reconcile(outstanding: dict[str, dict[str, Any]], ledger_minor: dict[str, int]) -> dict[str, dict[str, Any]]:
    """Outstanding principal beside the ledger's loan-principal balance (1301): they must agree."""
    return {cur: {**row, "ledger_principal_minor": ledger_minor.get(cur, 0),
                  "reconciled": row["all_loans_principal_minor"] == ledger_minor.get(cur, 0)}
            for cur, row in outstanding.items()}


def complete(rows: list[dict[str, Any]], currencies: list[str], names: list[str],
              names_zh: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Every (currency, name) in order, zero where no live loan falls in it: charts keep their axes."""
    found = {(r["currency"], r["name"]): r for r in rows}
    out = []
    for cur in currencies:
        for name in names:
            row = found.get((cur, name), {"currency": cur, "name": name, "loans": 0, "principal_minor": 0,
                                          "share": 0.0})
            out.append({**row, **({"name_zh": names_zh[name]} if names_zh else {})})
    return out


def complete_stages(rows: list[dict[str, Any]], currencies: list[str]) -> list[dict[str, Any]]:
    found = {(r["currency"], r["stage"]): r for r in rows}
    empty = {"loans": 0, "ead_minor": 0, "ecl_minor": 0, "coverage": 0.0}
    return [found.get((cur, stage), {"currency": cur, "stage": stage, **empty})
            for cur in currencies for stage in STAGES]
