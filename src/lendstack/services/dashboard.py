"""The portfolio dashboard's numbers: plain queries over the stored book, returned as one JSON-able
dict. The console renders it (tiles, charts, tables) and serves it as JSON; nothing is cached, so
every call sees the applications, loans and repayments committed before it.

Two kinds of number, filtered differently:

- Flows (applications, approvals, disbursements) are dated; the date range and the currency
  filter both apply. An application counts as approved when its status is approved, offered
  (a reviewer's counter-offer) or booked; approvals are grouped by the application date, so a
  day's approvals never exceed that day's applications.
- Stock (outstanding principal, DPD 30+, NPL, buckets, five-tier classes, ECL) is the book as of
  its last closed day: the loans table is current state, so only the currency filter applies.
  Vintages are rebuilt from the repayment history and are limited to the range's months.

Portfolio analytics come from `lendstack.monitoring` (the same functions as `lendstack portfolio
report`); this module only reads, filters and arranges. Money stays integer minor units per
currency; ratios are floats.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, case, func, select

from lendstack.ledger import AccountCode
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
from lendstack.risk.ecl import ecl_by_currency, ecl_summary, loan_ecl
from lendstack.services.monitoring import book_date, read_installments, read_loans, read_payments
from lendstack.servicing.aging import BUCKETS, FIVE_TIER_ZH, FIVE_TIERS
from lendstack.store.tables import ledger_balances, loans
from lendstack.store.tables_origination import applications

APPROVED_STATUSES = ("approved", "offered", "booked")
DECLINED_STATUSES = ("declined",)
REFERRED_STATUSES = ("referred",)
DPD30_DAYS = 30  # "DPD 30+" means more than 30 days past due (bucket M2 and worse)
RANGE_DAYS_MAX = 3_660  # ten years of daily points is the most one chart is asked to draw
DEFAULT_RANGE_DAYS = 90  # without a start date the flows cover the 90 days to the end date
STAGES = (1, 2, 3)


class DashboardInputError(ValueError):
    """A bad filter: names the field (start, end, currency)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
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
    return DashboardFilter(_parse_day("start", start), _parse_day("end", end), code)


def _parse_day(field: str, text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise DashboardInputError(field, f"{text!r} is not a date (YYYY-MM-DD)") from None


def dashboard(engine: Engine, filters: DashboardFilter | None = None) -> dict[str, Any]:
    """Every number of the dashboard, read in one transaction so they agree with each other."""
    chosen = filters or DashboardFilter()
    with _snapshot(engine) as conn:
        frame = read_loans(conn)
        inst, pay = read_installments(conn), read_payments(conn)
        closed = book_date(conn)
        start, end = _range(conn, chosen, closed)
        available = _currencies(conn)
        apps = _applications_by_day(conn, start, end, chosen.currency)
        disbursed = _disbursed_by_day(conn, start, end, chosen.currency)
        ledger_principal = _ledger_by_currency(conn, AccountCode.LOAN_PRINCIPAL)
        allowance = {c: -v for c, v in _ledger_by_currency(conn, AccountCode.LOSS_ALLOWANCE).items()}
    currencies = available
    if chosen.currency is not None:
        frame = frame.filter(pl.col("currency") == chosen.currency)
        currencies = [chosen.currency]
    book = _book(frame, inst, pay, closed, start, end, currencies)
    book["outstanding"] = _reconcile(book["outstanding"], ledger_principal)
    book["ecl"]["allowance_minor"] = {c: allowance.get(c, 0) for c in currencies}
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "book_date": closed.isoformat() if closed else None,
        "filters": {"start": start.isoformat(), "end": end.isoformat(), "currency": chosen.currency},
        "currencies": currencies, "currencies_available": available,
        "minor_digits": {c: currency_of(c).minor_digits for c in currencies},
        "applications": _application_totals(apps, start, end),
        "disbursed": _disbursed_totals(disbursed, start, end, currencies),
        **book,
    }


def _snapshot(engine: Engine) -> Connection:
    """A connection whose reads share one snapshot. SQLite's transactions begin IMMEDIATE (see
    store.db), which already holds writers off; PostgreSQL needs REPEATABLE READ for that."""
    conn = engine.connect()
    if engine.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
    return conn


def _range(conn: Connection, chosen: DashboardFilter, closed: date | None) -> tuple[date, date]:
    """The flows' date range: as given, else ending on the latest activity (or the book date)."""
    end = chosen.end or _latest_activity(conn, closed)
    start = chosen.start or end - timedelta(days=DEFAULT_RANGE_DAYS - 1)
    if start > end:  # only a start was given, after every activity: the range is that one day
        end = start
    if (end - start).days >= RANGE_DAYS_MAX:
        raise DashboardInputError("start", f"the range {start}..{end} is longer than {RANGE_DAYS_MAX} days")
    return start, end


def _latest_activity(conn: Connection, closed: date | None) -> date:
    found = [d for d in (
        closed,
        conn.execute(select(func.max(applications.c.applied_on))).scalar(),
        conn.execute(select(func.max(loans.c.disbursed_on))).scalar(),
    ) if isinstance(d, date)]
    return max(found) if found else datetime.now(UTC).date()


def _currencies(conn: Connection) -> list[str]:
    found = {str(r[0]) for r in conn.execute(select(loans.c.currency).distinct())}
    found |= {str(r[0]) for r in conn.execute(select(applications.c.currency).distinct())}
    return sorted(found)


# --------------------------------------------------------------------------- flows


def _applications_by_day(conn: Connection, start: date, end: date, currency: str | None) -> dict[date, list[int]]:
    a = applications.c

    def count_of(statuses: tuple[str, ...]) -> Any:
        return func.sum(case((a.status.in_(statuses), 1), else_=0))

    query = (select(a.applied_on, func.count(), count_of(APPROVED_STATUSES), count_of(DECLINED_STATUSES),
                    count_of(REFERRED_STATUSES))
             .where(a.applied_on >= start, a.applied_on <= end).group_by(a.applied_on))
    if currency is not None:
        query = query.where(a.currency == currency)
    return {r[0]: [int(r[1]), int(r[2] or 0), int(r[3] or 0), int(r[4] or 0)] for r in conn.execute(query)}


def _application_totals(by_day: dict[date, list[int]], start: date, end: date) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for day in _days(start, end):
        n, approved, declined, referred = by_day.get(day, [0, 0, 0, 0])
        assert approved + declined + referred <= n, (day, by_day[day])
        rows.append({"day": day.isoformat(), "applications": n, "approved": approved, "declined": declined,
                     "referred": referred})
    total = sum(int(r["applications"]) for r in rows)
    approved_total = sum(int(r["approved"]) for r in rows)
    return {"by_day": rows, "total": total, "approved": approved_total,
            "declined": sum(r["declined"] for r in rows), "referred": sum(r["referred"] for r in rows),
            "approval_rate": approved_total / total if total else 0.0}


def _disbursed_by_day(conn: Connection, start: date, end: date,
                      currency: str | None) -> dict[tuple[date, str], tuple[int, int]]:
    c = loans.c
    query = (select(c.disbursed_on, c.currency, func.count(), func.sum(c.principal_disbursed_minor))
             .where(c.disbursed_on.is_not(None), c.disbursed_on >= start, c.disbursed_on <= end)
             .group_by(c.disbursed_on, c.currency))
    if currency is not None:
        query = query.where(c.currency == currency)
    return {(r[0], str(r[1])): (int(r[2]), int(r[3] or 0)) for r in conn.execute(query)}


def _disbursed_totals(by_day: dict[tuple[date, str], tuple[int, int]], start: date, end: date,
                      currencies: list[str]) -> dict[str, Any]:
    daily: list[dict[str, Any]] = []
    monthly: dict[tuple[str, str], list[int]] = {}
    for day in _days(start, end):
        for cur in currencies:
            n, amount_minor = by_day.get((day, cur), (0, 0))
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


def _days(start: date, end: date) -> list[date]:
    count = (end - start).days + 1
    assert 0 < count <= RANGE_DAYS_MAX, (start, end)
    return [start + timedelta(days=i) for i in range(count)]


# --------------------------------------------------------------------------- the book (stock)


def _book(frame: pl.DataFrame, inst: pl.DataFrame, pay: pl.DataFrame, closed: date | None, start: date,
          end: date, currencies: list[str]) -> dict[str, Any]:
    exposure = with_exposure(frame)
    book = live(exposure)
    per_loan = loan_ecl(frame)
    as_of = min(end, closed) if closed else end  # later months on book are not observed yet
    vintages = vintage_curves(installment_paid_dates(inst, pay), frame, as_of)
    first_month, last_month = start.strftime("%Y-%m"), end.strftime("%Y-%m")
    ecl_rows, ecl_totals, npl = ecl_summary(per_loan), ecl_by_currency(per_loan), npl_ratio(frame)
    return {
        "outstanding": {cur: _outstanding(exposure, book, cur) for cur in currencies},
        "npl_ratio": {cur: npl.get(cur, 0.0) for cur in currencies},
        "by_bucket": _complete(bucket_distribution(frame), currencies, list(BUCKETS)),
        "by_class": _complete(five_tier_distribution(frame), currencies, [t.value for t in FIVE_TIERS],
                              {t.value: zh for t, zh in FIVE_TIER_ZH.items()}),
        "vintages": [v for v in vintages if first_month <= v["vintage"] <= last_month],
        "vintage_as_of": as_of.isoformat(),
        "ecl": {"by_stage": _complete_stages(ecl_rows, currencies),
                "total_minor": {cur: ecl_totals.get(cur, 0) for cur in currencies}},
    }


def _outstanding(exposure: pl.DataFrame, book: pl.DataFrame, currency: str) -> dict[str, Any]:
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


def _reconcile(outstanding: dict[str, dict[str, Any]], ledger_minor: dict[str, int]) -> dict[str, dict[str, Any]]:
    """Outstanding principal beside the ledger's loan-principal balance (1301): they must agree."""
    return {cur: {**row, "ledger_principal_minor": ledger_minor.get(cur, 0),
                  "reconciled": row["all_loans_principal_minor"] == ledger_minor.get(cur, 0)}
            for cur, row in outstanding.items()}


def _ledger_by_currency(conn: Connection, code: AccountCode) -> dict[str, int]:
    b = ledger_balances.c
    query = select(b.currency, func.sum(b.balance_minor)).where(b.account_code == code.value).group_by(b.currency)
    return {str(r[0]): int(r[1] or 0) for r in conn.execute(query)}


def _complete(rows: list[dict[str, Any]], currencies: list[str], names: list[str],
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


def _complete_stages(rows: list[dict[str, Any]], currencies: list[str]) -> list[dict[str, Any]]:
    found = {(r["currency"], r["stage"]): r for r in rows}
    empty = {"loans": 0, "ead_minor": 0, "ecl_minor": 0, "coverage": 0.0}
    return [found.get((cur, stage), {"currency": cur, "stage": stage, **empty})
            for cur in currencies for stage in STAGES]
