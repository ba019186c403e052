"""The shell of portfolio monitoring: read the loans, installments and repayment cash flows into
polars frames, call the pure analytics of `lendstack.monitoring`, and post the ECL provision.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, and_, func, or_, select

from lendstack.ledger import DEFAULT_FUNDER, AccountCode, BalanceKey, EntryKind, LedgerError
from lendstack.monitoring.ecl import (
    IMPAIRMENT_EXPENSE,
    EclConfig,
    ecl_by_currency,
    ecl_summary,
    loan_ecl,
    provision_entry,
    provision_entry_id,
)
from lendstack.monitoring.portfolio import (
    INSTALLMENT_COLUMNS,
    LOAN_COLUMNS,
    bucket_distribution,
    concentration,
    dpd_distribution,
    five_tier_distribution,
    installment_paid_dates,
    npl_ratio,
    roll_rates,
    vintage_curves,
)
from lendstack.services.naming import LOAN_PREFIX
from lendstack.store import UnitOfWork
from lendstack.store.ledger_repo import SqlLedger
from lendstack.store.tables import installments, journal_entries, loans, postings
from lendstack.store.tables_origination import applicants, applications

ROLL_WINDOW_DAYS = 30
# Loans booked from an offer are named after their application (services.decisions.accept_offer).
UNKNOWN = "unknown"  # segment/region of a loan booked without an application (direct bookings, imports)
ORIGIN_COLUMNS = ("segment", "region")
CONCENTRATION_BY = ("product_id", "funder_id", "segment", "region")
# Repayments reduce these receivables; penalty is left out because installments carry no penalty.
_PAID_ACCOUNTS = (AccountCode.LOAN_PRINCIPAL, AccountCode.INTEREST_RECEIVABLE, AccountCode.FEE_RECEIVABLE)
_PAYMENT_KINDS = (EntryKind.REPAY, EntryKind.PREPAY)


def read_loans(conn: Connection) -> pl.DataFrame:
    rows = conn.execute(select(*(loans.c[name] for name in LOAN_COLUMNS))).all()
    schema = {name: _polars_type(name) for name in LOAN_COLUMNS}
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")


def read_installments(conn: Connection) -> pl.DataFrame:
    rows = conn.execute(select(*(installments.c[name] for name in INSTALLMENT_COLUMNS))).all()
    schema = {name: _polars_type(name) for name in INSTALLMENT_COLUMNS}
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")


def read_payments(conn: Connection) -> pl.DataFrame:
    """Per loan and effective date: principal + interest + fee repaid (credits of REPAY/PREPAY).

    A prepayment bills its fee and takes it in the same entry, so the fee receivable nets to zero
    there and only the fee income credit shows it: that credit counts too. Without it a loan paid
    off early with a fee never covered its last installment and looked delinquent for ever after."""
    p, e = postings.c, journal_entries.c
    receivable = and_(e.kind.in_([k.value for k in _PAYMENT_KINDS]),
                      p.account_code.in_([a.value for a in _PAID_ACCOUNTS]))
    prepayment_fee = and_(e.kind == EntryKind.PREPAY.value, p.account_code == AccountCode.FEE_INCOME.value)
    query = (
        select(p.loan_id, e.effective_date, -func.sum(p.amount_minor))
        .select_from(postings.join(journal_entries))
        .where(or_(receivable, prepayment_fee), p.amount_minor < 0, p.loan_id != "")
        .group_by(p.loan_id, e.effective_date)
    )
    rows = [(str(r[0]), r[1], int(r[2])) for r in conn.execute(query).all()]
    return pl.DataFrame(rows, schema={"loan_id": pl.String, "paid_on": pl.Date, "amount_minor": pl.Int64},
                        orient="row")


def read_loan_origins(conn: Connection) -> pl.DataFrame:
    """Per loan booked from an application: the applicant's segment and region."""
    a, p = applications.c, applicants.c
    rows = conn.execute(select(a.application_id, p.segment, p.region)
                        .select_from(applications.join(applicants, a.applicant_id == p.applicant_id))).all()
    data = [(LOAN_PREFIX + str(r[0]), str(r[1]), str(r[2])) for r in rows]
    return pl.DataFrame(data, schema={"loan_id": pl.String, "segment": pl.String, "region": pl.String},
                        orient="row")


def with_origins(frame: pl.DataFrame, origins: pl.DataFrame) -> pl.DataFrame:
    """`frame` with segment and region left-joined by loan_id; loans with no application get UNKNOWN."""
    assert "loan_id" in frame.columns and "loan_id" in origins.columns
    assert not any(name in frame.columns for name in ORIGIN_COLUMNS), "origin columns already on the loans"
    joined = frame.join(origins.select("loan_id", *ORIGIN_COLUMNS), on="loan_id", how="left")
    assert joined.height == frame.height  # application ids are unique: one origin per loan at most
    return joined.with_columns(pl.col(name).fill_null(UNKNOWN) for name in ORIGIN_COLUMNS)


def _polars_type(name: str) -> Any:
    if name in ("disbursed_on", "due_date"):
        return pl.Date
    if name == "capitalized":
        return pl.Boolean
    if name.endswith("_minor") or name in ("days_past_due", "restructure_count", "seq"):
        return pl.Int64
    return pl.String


def book_date(conn: Connection) -> date | None:
    """The last day end of day has closed (the latest accrued_through), None for an empty book."""
    found = conn.execute(select(func.max(loans.c.accrued_through))).scalar()
    return found if isinstance(found, date) else None


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
        "loans": frame.height, "dpd_distribution": dpd_distribution(frame), "by_bucket": bucket_distribution(frame),
        "by_class": five_tier_distribution(frame), "npl_ratio": npl_ratio(frame),
        "concentration": {by: concentration(located, by) for by in CONCENTRATION_BY},
        "vintages": vintage_curves(paid_dates, frame, day),
        "roll_rates": roll_rates(paid_dates, frame, day - timedelta(days=ROLL_WINDOW_DAYS), day),
        "ecl": {"by_stage": ecl_summary(per_loan), "total_minor": ecl_by_currency(per_loan),
                "allowance_minor": allowance},
    }


def _allowances(conn: Connection, currencies: list[str], as_of: date | None = None) -> dict[str, int]:
    """The loss allowance per currency as a positive amount (1304 is a contra-asset: credit)."""
    ledger = SqlLedger(conn)
    return {c: -ledger.balance(BalanceKey(AccountCode.LOSS_ALLOWANCE, c, DEFAULT_FUNDER, ""), as_of)
            for c in currencies}


def post_provision(engine: Engine, as_of: date, config: EclConfig | None = None) -> dict[str, Any]:
    """Bring the loss allowance to the book's ECL: one PROVISION entry per currency, for the
    change only, dated `as_of`. Idempotent per date: a currency whose entry for `as_of` exists
    is left alone. A date before the latest provision is refused (it would rewrite history)."""
    with UnitOfWork(engine) as uow:
        conn = uow.connection
        _check_not_before_last(conn, as_of)
        per_loan = loan_ecl(read_loans(conn), config)
        targets = ecl_by_currency(per_loan)
        currencies = sorted(set(targets) | set(_allowance_currencies(conn)))
        before = _allowances(conn, currencies, as_of)
        existing = _existing_ids(conn, [provision_entry_id(c, as_of) for c in currencies])
        entries = [e for c in currencies if provision_entry_id(c, as_of) not in existing
                   and (e := provision_entry(c, as_of, before[c], targets.get(c, 0))) is not None]
        uow.ledger.post(entries)
    return {
        "as_of": as_of.isoformat(), "expense_account": IMPAIRMENT_EXPENSE.value,
        "allowance_account": AccountCode.LOSS_ALLOWANCE.value,
        "currencies": {c: {"ecl_minor": targets.get(c, 0), "allowance_before_minor": before[c],
                           "change_minor": _change(entries, c), "entry_id": provision_entry_id(c, as_of),
                           "already_posted": provision_entry_id(c, as_of) in existing} for c in currencies},
        "entries_posted": len(entries), "loans": per_loan.height,
        "per_loan": per_loan.select("loan_id", "stage", "ead_minor", "ecl_minor").to_dicts(),
    }


def _change(entries: list[Any], currency: str) -> int:
    for entry in entries:
        for p in entry.postings:
            if p.currency == currency and p.code == IMPAIRMENT_EXPENSE:
                return int(p.amount_minor)
    return 0


def _check_not_before_last(conn: Connection, as_of: date) -> None:
    e = journal_entries.c
    last = conn.execute(select(func.max(e.effective_date)).where(e.kind == EntryKind.PROVISION.value)).scalar()
    if isinstance(last, date) and as_of < last:
        raise LedgerError("as_of", f"{as_of} is before the latest provision ({last}); provisions move forward")


def _allowance_currencies(conn: Connection) -> list[str]:
    p = postings.c
    rows = conn.execute(select(p.currency).where(p.account_code == AccountCode.LOSS_ALLOWANCE.value).distinct())
    return [str(r[0]) for r in rows]


def _existing_ids(conn: Connection, ids: list[str]) -> set[str]:
    rows = conn.execute(select(journal_entries.c.entry_id).where(journal_entries.c.entry_id.in_(ids)))
    return {str(r[0]) for r in rows}
