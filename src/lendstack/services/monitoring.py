"""The shell of portfolio monitoring: read the loans, installments and repayment cash flows into
polars frames, call the pure analytics of `lendstack.monitoring`, and post the ECL provision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import polars as pl

from lendstack.ledger import AccountCode, EntryKind, LedgerError
from lendstack.monitoring.portfolio import (
    bucket_distribution,
    charge_offs,
    concentration,
    dpd_distribution,
    five_tier_distribution,
    installment_paid_dates,
    npl_ratio,
    roll_rates,
    vintage_curves,
)
from lendstack.risk.ecl import (
    IMPAIRMENT_EXPENSE,
    AllowanceKey,
    EclConfig,
    ecl_by_currency,
    ecl_summary,
    loan_ecl,
    provision_entry_id,
    provision_memo,
)
from lendstack.services.business_date import dated as business_dated
from lendstack.store import Connection, Engine, EntryColumns, PostingColumns, UnitOfWork
from lendstack.store.book_repo import BookRepository
from lendstack.store.portfolio_repo import (
    LOAN_EXTRA_COLUMNS,
    PAID_ACCOUNTS,
    PortfolioRepository,
)

__all__ = [  # LOAN_EXTRA_COLUMNS and PAID_ACCOUNTS are the repository's, re-exported
    "ALLOWANCE_KEY",
    "CONCENTRATION_BY",
    "LOAN_EXTRA_COLUMNS",
    "ORIGIN_COLUMNS",
    "PAID_ACCOUNTS",
    "ROLL_WINDOW_DAYS",
    "UNKNOWN",
    "CurrencyProvision",
    "LoanProvision",
    "ProvisionRun",
    "allowance_moves",
    "book_date",
    "loan_allowances",
    "portfolio_report",
    "post_provision",
    "provision",
    "provision_columns",
    "read_installments",
    "read_loan_origins",
    "read_loans",
    "read_payments",
    "with_origins",
]

ROLL_WINDOW_DAYS = 30
# Loans booked from an offer are named after their application (services.decisions.accept_offer).
UNKNOWN = "unknown"  # segment/region of a loan booked without an application (direct bookings, imports)
ORIGIN_COLUMNS = ("segment", "region")
CONCENTRATION_BY = ("product_id", "funder_id", "segment", "region")


def read_loans(conn: Connection) -> pl.DataFrame:
    """Every loan as a frame (the analytics' LOAN_COLUMNS and LOAN_EXTRA_COLUMNS)."""
    return PortfolioRepository(conn).loans_frame()


def read_installments(conn: Connection) -> pl.DataFrame:
    return PortfolioRepository(conn).installments_frame()


def read_payments(conn: Connection) -> pl.DataFrame:
    """Per loan and effective date: principal + interest + fee repaid, reversed payments left out
    (`PortfolioRepository.payments_frame`)."""
    return PortfolioRepository(conn).payments_frame()


def read_loan_origins(conn: Connection) -> pl.DataFrame:
    """Per loan booked from an application: the applicant's segment and region."""
    return PortfolioRepository(conn).loan_origins_frame()


def with_origins(frame: pl.DataFrame, origins: pl.DataFrame) -> pl.DataFrame:
    """`frame` with segment and region left-joined by loan_id; loans with no application get UNKNOWN."""
    assert "loan_id" in frame.columns and "loan_id" in origins.columns
    assert not any(name in frame.columns for name in ORIGIN_COLUMNS), "origin columns already on the loans"
    joined = frame.join(origins.select("loan_id", *ORIGIN_COLUMNS), on="loan_id", how="left")
    assert joined.height == frame.height  # application ids are unique: one origin per loan at most
    return joined.with_columns(pl.col(name).fill_null(UNKNOWN) for name in ORIGIN_COLUMNS)


def book_date(conn: Connection) -> date | None:
    """The last day end of day has closed (the day before the business date), None for a new book."""
    business = BookRepository(conn).business_date()
    return None if business is None else business - timedelta(days=1)


def portfolio_report(engine: Engine, as_of: date | None = None, config: EclConfig | None = None) -> dict[str, Any]:
    """Distributions, NPL, concentration, vintages, roll rates over the 30 days to `as_of`, and ECL.

    Distributions, NPL, concentration and ECL are the book as of its last closed day (the loans
    table is current state); `as_of` (default: that day) dates the vintages and roll rates, which
    are rebuilt from the repayment history."""
    with engine.connect() as conn:
        frame, inst, pay = read_loans(conn), read_installments(conn), read_payments(conn)
        origins = read_loan_origins(conn)
        closed = book_date(conn)
        allowance = _allowances(conn, sorted(set(frame["currency"].to_list())))
    day = as_of or closed or date.today()
    paid_dates = installment_paid_dates(inst, pay)
    per_loan = loan_ecl(frame, config)
    located = with_origins(frame, origins)
    return {
        "as_of": day.isoformat(), "book_date": closed.isoformat() if closed else None,
        "business_date": (closed + timedelta(days=1)).isoformat() if closed else None,
        "loans": frame.height, "dpd_distribution": dpd_distribution(frame), "by_bucket": bucket_distribution(frame),
        "by_class": five_tier_distribution(frame), "npl_ratio": npl_ratio(frame),
        "concentration": {by: concentration(located, by) for by in CONCENTRATION_BY},
        "vintages": vintage_curves(paid_dates, frame, day),
        "roll_rates": roll_rates(paid_dates, frame, day - timedelta(days=ROLL_WINDOW_DAYS), day),
        "ecl": {"by_stage": ecl_summary(per_loan), "total_minor": ecl_by_currency(per_loan),
                "allowance_minor": allowance},
        "charge_offs": charge_offs(frame),
        "non_accrual_loans": int(frame.filter(pl.col("non_accrual")).height),
    }


def _allowances(conn: Connection, currencies: list[str], as_of: date | None = None) -> dict[str, int]:
    """The loss allowance per currency as a positive amount (1304 is a contra-asset: credit)."""
    return PortfolioRepository(conn).allowances(currencies, as_of)


def loan_allowances(conn: Connection) -> dict[AllowanceKey, int]:
    """Every non-zero loss allowance by (currency, funder, loan) as a positive amount."""
    return PortfolioRepository(conn).loan_allowances()


@dataclass(frozen=True, slots=True)
class CurrencyProvision:
    """One currency of a provision run: the ECL, the allowance held before, and the change posted."""

    currency: str
    ecl_minor: int
    allowance_before_minor: int
    change_minor: int

    def to_json(self) -> dict[str, Any]:
        return {"ecl_minor": self.ecl_minor, "allowance_before_minor": self.allowance_before_minor,
                "change_minor": self.change_minor, "already_posted": not self.change_minor}


@dataclass(frozen=True, slots=True)
class LoanProvision:
    loan_id: str
    stage: int
    ead_minor: int
    ecl_minor: int


@dataclass(frozen=True, slots=True)
class ProvisionRun:
    """What a provision run posted (`provision`); `per_loan` only when asked for (`detail`)."""

    as_of: date
    currencies: tuple[CurrencyProvision, ...]
    entries_posted: int
    loans: int
    per_loan: tuple[LoanProvision, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        per_loan = {} if self.per_loan is None else {"per_loan": [
            {"loan_id": p.loan_id, "stage": p.stage, "ead_minor": p.ead_minor, "ecl_minor": p.ecl_minor}
            for p in self.per_loan]}
        return {
            "as_of": self.as_of.isoformat(), "expense_account": IMPAIRMENT_EXPENSE.value,
            "allowance_account": AccountCode.LOSS_ALLOWANCE.value,
            "currencies": {c.currency: c.to_json() for c in self.currencies},
            "entries_posted": self.entries_posted, "loans": self.loans, **per_loan,
        }


def provision(
    engine: Engine, as_of: date | None = None, config: EclConfig | None = None, *, dated: bool = True,
    detail: bool = True,
) -> ProvisionRun:
    """Bring every loan's loss allowance (1304, per loan) to its ECL, dated `as_of`: one PROVISION
    entry per loan whose allowance moves; loans no longer live release theirs (after a write-off
    used it, or a recovery put cash back through it). Idempotent: a second run finds nothing to move.

    A manual run (`dated`) is a money command: dated on the business date (`as_of` left out means
    it); end of day passes the day it is closing. A date before the latest provision is refused.
    The entries are the pure `monitoring.ecl.provision_entries`, built as columns (a million loans
    move every month end); `detail` adds the per-loan ECL to the answer."""
    with UnitOfWork(engine) as uow:
        conn = uow.connection
        day = business_dated(uow, as_of, field="as_of") if dated else as_of
        assert day is not None
        _check_not_before_last(conn, day)
        frame = read_loans(conn)
        per_loan = loan_ecl(frame, config)
        moves = allowance_moves(per_loan, frame, loan_allowances(conn))
        columns = provision_columns(moves, day, _provision_run(conn, day))
        if len(columns[0]):
            uow.ledger.post_columnar(*columns)
    ecl = ecl_by_currency(per_loan)
    before = moves.group_by("currency").agg(pl.col("held_minor").sum()).rows()
    changes = moves.group_by("currency").agg((pl.col("target_minor") - pl.col("held_minor")).sum()).rows()
    before_by, change_by = dict(before), dict(changes)
    currencies = tuple(CurrencyProvision(c, int(ecl.get(c, 0)), int(before_by.get(c, 0)), int(change_by.get(c, 0)))
                       for c in sorted(set(ecl) | set(before_by)))
    rows = per_loan.select("loan_id", "stage", "ead_minor", "ecl_minor").iter_rows() if detail else None
    return ProvisionRun(day, currencies, len(columns[0]), per_loan.height,
                        None if rows is None else tuple(LoanProvision(*row) for row in rows))


def post_provision(
    engine: Engine, as_of: date | None = None, config: EclConfig | None = None, *, dated: bool = True,
    detail: bool = True,
) -> dict[str, Any]:
    """`provision` as its JSON document (what the CLI prints and end of day records)."""
    return provision(engine, as_of, config, dated=dated, detail=detail).to_json()


ALLOWANCE_KEY = ("currency", "funder_id", "loan_id")


def allowance_moves(per_loan: pl.DataFrame, frame: pl.DataFrame, held: dict[AllowanceKey, int]) -> pl.DataFrame:
    """Per allowance key (currency, funder, loan): the allowance held and the target (the live
    loan's ECL, 0 for any other), only where they differ, in key order (as provision_entries)."""
    targets = per_loan.select("loan_id", "currency", pl.col("ecl_minor").alias("target_minor")).join(
        frame.select("loan_id", "funder_id"), on="loan_id", how="left")
    held_frame = pl.DataFrame([(c, f, loan, v) for (c, f, loan), v in held.items()],
                              schema={"currency": pl.String, "funder_id": pl.String, "loan_id": pl.String,
                                      "held_minor": pl.Int64}, orient="row")
    joined = targets.join(held_frame, on=list(ALLOWANCE_KEY), how="full", coalesce=True)
    return (joined.with_columns(pl.col("target_minor").fill_null(0), pl.col("held_minor").fill_null(0))
            .filter(pl.col("target_minor") != pl.col("held_minor")).sort(list(ALLOWANCE_KEY))
            .select(*ALLOWANCE_KEY, "held_minor", "target_minor"))


def provision_columns(moves: pl.DataFrame, day: date, run: int) -> tuple[EntryColumns, PostingColumns]:
    """The entries of `monitoring.ecl.provision_entries` for these moves, as columns: per key, Dr
    impairment / Cr 1304 by the change (a negative change is a release), on the loan's dimensions."""
    currencies, funders, loan_ids = (moves[c].to_list() for c in ALLOWANCE_KEY)
    change = (moves["target_minor"] - moves["held_minor"]).to_numpy()
    n = moves.height
    ids = [provision_entry_id((c, f, loan), day, run) for c, f, loan in zip(currencies, funders, loan_ids,
                                                                               strict=True)]
    memo = {True: provision_memo(True, day), False: provision_memo(False, day)}
    held, target = moves["held_minor"].to_list(), moves["target_minor"].to_list()
    entries = EntryColumns(
        entry_ids=ids, kinds=[EntryKind.PROVISION.value] * n, effective_dates=[day] * n, loan_ids=loan_ids,
        memos=[memo[c > 0] for c in change.tolist()],
        metadata=[{"allowance_before_minor": str(h), "allowance_after_minor": str(t)}
                  for h, t in zip(held, target, strict=True)])
    signed = np.stack([change, -change], axis=1).reshape(-1)
    postings_ = PostingColumns(
        entry_index=np.repeat(np.arange(n, dtype=np.int64), 2),
        codes=[IMPAIRMENT_EXPENSE.value, AccountCode.LOSS_ALLOWANCE.value] * n,
        currencies=[c for c in currencies for _ in (0, 1)], amounts_minor=signed,
        loan_ids=[loan for loan in loan_ids for _ in (0, 1)], funder_ids=[f for f in funders for _ in (0, 1)])
    return entries, postings_


def _provision_run(conn: Connection, day: date) -> int:
    """A number that makes this run's entry ids new: the provision entries already dated `day`."""
    return PortfolioRepository(conn).provisions_on(day)


def _check_not_before_last(conn: Connection, as_of: date) -> None:
    last = PortfolioRepository(conn).last_provision_on()
    if last is not None and as_of < last:
        raise LedgerError("as_of", f"{as_of} is before the latest provision ({last}); provisions move forward")
