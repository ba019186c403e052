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
report`), the arrangement rules from `monitoring/dashboard.py`; this module reads the book through
the repositories (store/dashboard_repo.py, store/portfolio_repo.py) in one snapshot and assembles
the document. Money stays integer minor units per currency; ratios are floats.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import polars as pl

from lendstack.ledger import AccountCode
from lendstack.money import currency_of
from lendstack.monitoring.dashboard import (
    APPROVED_STATUSES,
    DECLINED_STATUSES,
    RANGE_DAYS_MAX,
    REFERRED_STATUSES,
    DashboardFilter,
    DashboardInputError,
    application_totals,
    book_stock,
    disbursed_totals,
    flow_range,
    parse_filter,
    reconcile,
)
from lendstack.risk.ecl import ecl_by_currency, ecl_summary, loan_ecl
from lendstack.services.monitoring import book_date, read_installments, read_loans, read_payments
from lendstack.store import Connection, Engine
from lendstack.store.dashboard_repo import DashboardRepository, read_snapshot
from lendstack.store.portfolio_repo import PortfolioRepository

__all__ = ["RANGE_DAYS_MAX", "DashboardFilter", "DashboardInputError", "dashboard", "parse_filter"]


def dashboard(engine: Engine, filters: DashboardFilter | None = None) -> dict[str, Any]:
    """Every number of the dashboard, read in one transaction so they agree with each other."""
    chosen = filters or DashboardFilter()
    with read_snapshot(engine) as conn:
        frame = read_loans(conn)
        inst, pay = read_installments(conn), read_payments(conn)
        closed = book_date(conn)
        start, end = flow_range(chosen.start, chosen.end or _latest_activity(conn, closed))
        flows = DashboardRepository(conn)
        available = flows.currencies()
        apps = flows.applications_by_day(start, end, chosen.currency, approved=APPROVED_STATUSES,
                                         declined=DECLINED_STATUSES, referred=REFERRED_STATUSES)
        disbursed = flows.disbursed_by_day(start, end, chosen.currency)
        ledger = PortfolioRepository(conn)
        ledger_principal = ledger.ledger_by_currency(AccountCode.LOAN_PRINCIPAL)
        allowance = {c: -v for c, v in ledger.ledger_by_currency(AccountCode.LOSS_ALLOWANCE).items()}
    currencies = available
    if chosen.currency is not None:
        frame = frame.filter(pl.col("currency") == chosen.currency)
        currencies = [chosen.currency]
    book = _book(frame, inst, pay, closed, start, end, currencies)
    book["outstanding"] = reconcile(book["outstanding"], ledger_principal)
    book["ecl"]["allowance_minor"] = {c: allowance.get(c, 0) for c in currencies}
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "book_date": closed.isoformat() if closed else None,
        "filters": {"start": start.isoformat(), "end": end.isoformat(), "currency": chosen.currency},
        "currencies": currencies, "currencies_available": available,
        "minor_digits": {c: currency_of(c).minor_digits for c in currencies},
        "applications": application_totals(apps, start, end),
        "disbursed": disbursed_totals(disbursed, start, end, currencies),
        **book,
    }


def _latest_activity(conn: Connection, closed: date | None) -> date:
    """The book date, the latest application day or the latest disbursement, whichever is last."""
    flows = DashboardRepository(conn)
    found = [d for d in (closed, flows.latest_application_day(), flows.latest_disbursement_day()) if d is not None]
    return max(found) if found else datetime.now(UTC).date()


def _book(frame: pl.DataFrame, inst: pl.DataFrame, pay: pl.DataFrame, closed: date | None, start: date,
          end: date, currencies: list[str]) -> dict[str, Any]:
    """`monitoring.dashboard.book_stock` with the ECL of the same loans."""
    per_loan = loan_ecl(frame)
    return book_stock(frame, inst, pay, closed, start, end, currencies, ecl_summary(per_loan),
                      ecl_by_currency(per_loan))
