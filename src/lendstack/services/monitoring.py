"""The shell of portfolio monitoring: read the loans, installments and repayment cash flows into
polars frames, call the pure analytics of `lendstack.monitoring`, and post the ECL provision.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import Connection, Engine, and_, func, or_, select

from lendstack.ledger import AccountCode, EntryKind, LedgerError
from lendstack.monitoring.portfolio import (
    INSTALLMENT_COLUMNS,
    LOAN_COLUMNS,
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
from lendstack.services.naming import loan_id_column
from lendstack.store import EntryColumns, PostingColumns, UnitOfWork
from lendstack.store.book_repo import BookRepository
from lendstack.store.tables import installments, journal_entries, ledger_balances, loans, postings
from lendstack.store.tables_origination import applicants, applications

ROLL_WINDOW_DAYS = 30
# Loans booked from an offer are named after their application (services.decisions.accept_offer).
UNKNOWN = "unknown"  # segment/region of a loan booked without an application (direct bookings, imports)
ORIGIN_COLUMNS = ("segment", "region")
CONCENTRATION_BY = ("product_id", "funder_id", "segment", "region")
# Repayments reduce these receivables; penalty is left out because installments carry no penalty.
# A loan in non-accrual pays its interest off the memo account (9011), not 1311: that counts too.
PAID_ACCOUNTS = (AccountCode.LOAN_PRINCIPAL, AccountCode.INTEREST_RECEIVABLE, AccountCode.FEE_RECEIVABLE,
                 AccountCode.MEMO_INTEREST)
_PAYMENT_KINDS = (EntryKind.REPAY, EntryKind.PREPAY)


# Beyond what the pure analytics require: what makes exposure on-balance (non-accrual, unearned
# capitalised interest) and net charge-off (recoveries).
LOAN_EXTRA_COLUMNS = ("non_accrual", "unearned_minor", "recovered_minor")


def read_loans(conn: Connection) -> pl.DataFrame:
    names = (*LOAN_COLUMNS, *LOAN_EXTRA_COLUMNS)
    rows = conn.execute(select(*(loans.c[name] for name in names))).all()
    schema = {name: _polars_type(name) for name in names}
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")


def read_installments(conn: Connection) -> pl.DataFrame:
    rows = conn.execute(select(*(installments.c[name] for name in INSTALLMENT_COLUMNS))).all()
    schema = {name: _polars_type(name) for name in INSTALLMENT_COLUMNS}
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")


def read_payments(conn: Connection) -> pl.DataFrame:
    """Per loan and effective date: principal + interest + fee repaid (credits of REPAY/PREPAY).

    A prepayment bills its fee and takes it in the same entry, so the fee receivable nets to zero
    there and only the fee income credit shows it: that credit counts too. Without it a loan paid
    off early with a fee never covered its last installment and looked delinquent for ever after.
    A payment a reversal undid (冲正) never paid anything: it is left out."""
    p, e = postings.c, journal_entries.c
    receivable = and_(e.kind.in_([k.value for k in _PAYMENT_KINDS]),
                      p.account_code.in_([a.value for a in PAID_ACCOUNTS]))
    prepayment_fee = and_(e.kind == EntryKind.PREPAY.value, p.account_code == AccountCode.FEE_INCOME.value)
    query = (
        select(p.loan_id, e.effective_date, -func.sum(p.amount_minor))
        .select_from(postings.join(journal_entries))
        .where(or_(receivable, prepayment_fee), p.amount_minor < 0, p.loan_id != "",
               e.entry_id.not_in(reversed_entries()))
        .group_by(p.loan_id, e.effective_date)
    )
    rows = [(str(r[0]), r[1], int(r[2])) for r in conn.execute(query).all()]
    return pl.DataFrame(rows, schema={"loan_id": pl.String, "paid_on": pl.Date, "amount_minor": pl.Int64},
                        orient="row")


def reversed_entries() -> Any:
    """The ids of entries a reversal undid (a subquery)."""
    e = journal_entries.c
    return select(e.reverses_entry_id).where(e.kind == EntryKind.REVERSAL.value, e.reverses_entry_id != "")


def read_loan_origins(conn: Connection) -> pl.DataFrame:
    """Per loan booked from an application: the applicant's segment and region."""
    a, p = applications.c, applicants.c
    rows = conn.execute(select(loan_id_column(applications), p.segment, p.region)
                        .select_from(applications.join(applicants, a.applicant_id == p.applicant_id))).all()
    data = [(str(r[0]), str(r[1]), str(r[2])) for r in rows]
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
    if name in ("capitalized", "non_accrual"):
        return pl.Boolean
    if name.endswith("_minor") or name in ("days_past_due", "restructure_count", "seq"):
        return pl.Int64
    return pl.String


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
    """The loss allowance per currency as a positive amount (1304 is a contra-asset: credit), over
    every loan's allowance and any book-level one."""
    b = ledger_balances.c
    if as_of is None:
        query = (select(b.currency, func.sum(b.balance_minor))
                 .where(b.account_code == AccountCode.LOSS_ALLOWANCE.value).group_by(b.currency))
    else:
        p, e = postings.c, journal_entries.c
        query = (select(p.currency, func.sum(p.amount_minor)).select_from(postings.join(journal_entries))
                 .where(p.account_code == AccountCode.LOSS_ALLOWANCE.value, e.effective_date <= as_of)
                 .group_by(p.currency))
    found = {str(c): -int(v) for c, v in conn.execute(query).all()}
    return {c: found.get(c, 0) for c in currencies}


def loan_allowances(conn: Connection) -> dict[AllowanceKey, int]:
    """Every non-zero loss allowance by (currency, funder, loan) as a positive amount."""
    b = ledger_balances.c
    rows = conn.execute(select(b.currency, b.funder_id, b.loan_id, b.balance_minor)
                        .where(b.account_code == AccountCode.LOSS_ALLOWANCE.value, b.balance_minor != 0)).all()
    return {(str(c), str(f), str(loan)): -int(v) for c, f, loan, v in rows}


def post_provision(
    engine: Engine, as_of: date | None = None, config: EclConfig | None = None, *, dated: bool = True,
    detail: bool = True,
) -> dict[str, Any]:
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
    currencies = sorted(set(ecl) | set(before_by))
    return {
        "as_of": day.isoformat(), "expense_account": IMPAIRMENT_EXPENSE.value,
        "allowance_account": AccountCode.LOSS_ALLOWANCE.value,
        "currencies": {c: {"ecl_minor": ecl.get(c, 0), "allowance_before_minor": int(before_by.get(c, 0)),
                           "change_minor": int(change_by.get(c, 0)), "already_posted": not change_by.get(c, 0)}
                       for c in currencies},
        "entries_posted": len(columns[0]), "loans": per_loan.height,
        **({"per_loan": per_loan.select("loan_id", "stage", "ead_minor", "ecl_minor").to_dicts()} if detail else {}),
    }


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
    e = journal_entries.c
    return int(conn.execute(select(func.count()).select_from(journal_entries)
                            .where(e.kind == EntryKind.PROVISION.value, e.effective_date == day)).scalar_one())


def _check_not_before_last(conn: Connection, as_of: date) -> None:
    e = journal_entries.c
    last = conn.execute(select(func.max(e.effective_date)).where(e.kind == EntryKind.PROVISION.value)).scalar()
    if isinstance(last, date) and as_of < last:
        raise LedgerError("as_of", f"{as_of} is before the latest provision ({last}); provisions move forward")
