"""A stored book of active consumer loans for the servicing benchmark, built columnar.

Booking a million loans through the service (one transaction each) would take longer than the
EOD it is meant to measure, so the book is computed as arrays and inserted with executemany. It
must be the book the service would have left: `LoanRepository.add` + `disburse` + the columnar
EOD closing every day up to the day before the benchmark day. `verify_book` rebuilds a sample
through that very path (domain commands, the repository, `run_eod`) and compares row by row.

Loans are `consumer_cny_12m` (12 monthly equal installments, no fees), amounts and rates
seeded-random, disbursed on the DISBURSE_SPREAD_DAYS days before the benchmark day, nothing
repaid yet. The first due dates therefore fall from day-1 to day+29: one cohort falls due on the
benchmark day (interest and principal billed), and the cohort due the day before has not paid,
so on the benchmark day EOD reads its installments (the detail path) and ages it overdue.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Connection, Engine, Table, insert, select

from lendstack.ledger import DEFAULT_FUNDER, AccountCode, EntryKind
from lendstack.money import Money, RoundingMode
from lendstack.money.rates import RATE_PPM
from lendstack.products import LoanProduct, get_product
from lendstack.schedule import build_schedule
from lendstack.schedule.batch import build_schedules_batch
from lendstack.schedule.dates import add_months
from lendstack.services.eod import run_eod
from lendstack.servicing import Loan, LoanStatus, book, disburse, eod_one, expected_balances
from lendstack.servicing.commands import terms_of
from lendstack.servicing.eod_columnar import ROUNDING_CODES, div_round_array
from lendstack.servicing.loan import SUBLEDGER_CODES
from lendstack.servicing.replay import terms_to_json
from lendstack.store import EntryColumns, PostingColumns, UnitOfWork
from lendstack.store.db import make_engine, upgrade
from lendstack.store.tables import LOAN_COUNTERS, LOAN_EOD_COLUMNS, installments, loans

I64 = NDArray[np.int64]
PRODUCT_ID = "consumer_cny_12m"
TERM = 12
DISBURSE_SPREAD_DAYS = 31  # disbursed day-31 .. day-1: first due dates day-1 .. day+29
RATES_PPM = tuple(range(72_000, 180_001, 12_000))  # inside the product's 7.2%..18% band
AMOUNT_STEP_MINOR = 10_000  # whole hundreds of yuan, as a lender's offer would be
INSERT_LOANS_PER_ROUND = 100_000  # bounds the Python row tuples held at once (~1.2M installments)
DISBURSE_KEY = "bench"
RECEIVABLE_CODES = frozenset(SUBLEDGER_CODES)


@dataclass(frozen=True)
class Book:
    """The loans as arrays; schedule arrays have shape (loans, TERM). Dates are ordinals."""

    day: date  # the EOD day the book is ready for: every loan is closed through day-1
    loan_ids: list[str]
    amounts: I64
    rates_ppm: I64
    disbursed: I64
    start: I64
    due: I64
    principal: I64
    interest: I64
    interest_accrued: I64

    def __len__(self) -> int:
        return len(self.loan_ids)

    def rate(self, k: int) -> Decimal:
        return Decimal(int(self.rates_ppm[k])) / RATE_PPM


# --- the book as arrays ----------------------------------------------------------------------------


def make_book(n: int, day: date, seed: int, prefix: str = "L") -> Book:
    """n seeded-random loans closed through day-1, ready for the EOD of `day`."""
    product = get_product(PRODUCT_ID)
    rng = np.random.default_rng(seed)
    steps = rng.integers(product.amount_min_minor // AMOUNT_STEP_MINOR,
                         product.amount_max_minor // AMOUNT_STEP_MINOR + 1, size=n)
    amounts = steps.astype(np.int64) * AMOUNT_STEP_MINOR
    rates = np.asarray(RATES_PPM, dtype=np.int64)[rng.integers(0, len(RATES_PPM), size=n)]
    disbursed = day.toordinal() - rng.integers(1, DISBURSE_SPREAD_DAYS + 1, size=n).astype(np.int64)
    schedules = build_schedules_batch(amounts, rates, TERM, str(product.schedule_method),
                                      str(product.frequency), product.rounding)
    start, due = _dates(disbursed)
    # No EOD up to day-1 crossed an installment boundary: the cursor stays on installment 1.
    assert np.all(due[:, 0] >= day.toordinal() - 1)
    accrued = _interest_to_date(start, due, schedules.interest_minor, day.toordinal() - 1, product.rounding)
    width = len(str(max(n - 1, 0)))
    return Book(day, [f"{prefix}{k:0{max(width, 7)}d}" for k in range(n)], amounts, rates, disbursed,
                start, due, schedules.principal_minor, schedules.interest_minor, accrued)


def _dates(disbursed: I64) -> tuple[I64, I64]:
    """Period starts and due dates, from a small table per distinct disbursement day."""
    days, inverse = np.unique(disbursed, return_inverse=True)
    table = np.array(
        [[add_months(date.fromordinal(int(s)), k).toordinal() for k in range(TERM + 1)] for s in days],
        dtype=np.int64,
    ).reshape(len(days), TERM + 1)
    dates = table[inverse.reshape(-1)]
    return dates[:, :-1].copy(), dates[:, 1:].copy()


def _interest_to_date(start: I64, due: I64, interest: I64, as_of: int, rounding: RoundingMode) -> I64:
    """servicing.accrual.interest_target by arrays: the straight-line cumulative rule."""
    length = due - start
    elapsed = np.clip(as_of - start, 0, length)
    mode = np.full(interest.shape, ROUNDING_CODES[rounding], dtype=np.int64)
    partial = div_round_array(interest * elapsed, length, mode)
    out: I64 = np.where(as_of >= due, interest, partial).sum(axis=1)
    return out


def check_schedules(bk: Book, sample: list[int]) -> None:
    """The batch schedules equal the reference builder's, line by line, on a sample."""
    product = get_product(PRODUCT_ID)
    for k in sample:
        ref = build_schedule(amount_minor=int(bk.amounts[k]), rate_annual=bk.rate(k), term=TERM,
                             method=product.schedule_method, start=date.fromordinal(int(bk.disbursed[k])),
                             currency=product.currency, frequency=product.frequency,
                             day_count=product.day_count, rounding=product.rounding)
        got = [(int(bk.start[k, j]), int(bk.due[k, j]), int(bk.principal[k, j]), int(bk.interest[k, j]))
               for j in range(TERM)]
        want = [(ln.period_start.toordinal(), ln.due_date.toordinal(), ln.principal_minor, ln.interest_minor)
                for ln in ref.lines]
        assert got == want, f"batch schedule of {bk.loan_ids[k]} differs from build_schedule"


# --- storing it ------------------------------------------------------------------------------------


def fresh_sqlite(path: str) -> Engine:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    return engine


def store_book(engine: Engine, bk: Book, progress: Callable[[int], None] | None = None) -> None:
    """Insert loans, installments and the ledger, one transaction per round of loans; the book's
    business date is the day it is ready for."""
    with UnitOfWork(engine) as uow:
        uow.book.open(bk.day)
    product = get_product(PRODUCT_ID)
    terms = {ppm: _terms_json(product, int(ppm)) for ppm in np.unique(bk.rates_ppm).tolist()}
    for lo in range(0, len(bk), INSERT_LOANS_PER_ROUND):
        part = range(lo, min(lo + INSERT_LOANS_PER_ROUND, len(bk)))
        with UnitOfWork(engine) as uow:
            insert_columns(uow.connection, loans, _loan_columns(bk, part, terms))
            insert_columns(uow.connection, installments, _installment_columns(bk, part))
            uow.ledger.post_columnar(*_opening_entries(bk, part))
        if progress:
            progress(len(part))


def _terms_json(product: LoanProduct, rate_ppm: int) -> dict[str, Any]:
    """The terms `book` fixes for a loan at this rate (penalty rate derived the same way)."""
    rate = Decimal(rate_ppm) / RATE_PPM
    penalty_ppm = int(rate * product.penalty.multiplier * RATE_PPM)
    return terms_to_json(dataclasses.replace(terms_of(product), rate_annual=rate, penalty_rate_ppm=penalty_ppm))


def _loan_columns(bk: Book, part: range, terms: dict[int, dict[str, Any]]) -> dict[str, list[Any]]:
    product = get_product(PRODUCT_ID)
    t = terms_of(product)
    n, sl = len(part), slice(part.start, part.stop)
    ids = bk.loan_ids[sl]
    amounts = bk.amounts[sl].tolist()
    closed = bk.day - timedelta(days=1)
    days = {d: date.fromordinal(d) for d in np.unique(bk.disbursed[sl]).tolist()}
    eod_days = bk.day.toordinal() - bk.disbursed[sl]  # EOD runs from disbursement to day-1
    counters: dict[str, list[Any]] = {name: [0] * n for name in LOAN_COUNTERS}
    counters["principal_disbursed_minor"] = amounts
    counters["interest_accrued_minor"] = bk.interest_accrued[sl].tolist()
    cursor = {  # what loan_row wrote at disbursement; EOD never had to move it since
        "grace_days": [t.grace_days] * n,
        "penalty_ppm": [terms[p]["penalty_rate_ppm"] for p in bk.rates_ppm[sl].tolist()],
        "penalty_on_interest": [int(t.penalty_on_interest)] * n, "year_days": [t.day_count.year_days] * n,
        "rounding_code": [ROUNDING_CODES[t.rounding]] * n, "cur_start_day": bk.start[sl, 0].tolist(),
        "cur_due_day": bk.due[sl, 0].tolist(), "cur_interest_minor": bk.interest[sl, 0].tolist(),
        "cur_fee_minor": [0] * n, "base_interest_minor": [0] * n, "base_fee_minor": [0] * n,
        "oldest_open_due_day": bk.due[sl, 0].tolist(),
    }
    assert set(cursor) == set(LOAN_EOD_COLUMNS)
    return {
        "loan_id": ids, "product_id": [PRODUCT_ID] * n, "currency": [product.currency] * n,
        "funder_id": [DEFAULT_FUNDER] * n, "line_id": [""] * n, "status": [LoanStatus.ACTIVE.value] * n,
        "terms": [terms[p] for p in bk.rates_ppm[sl].tolist()], "principal_minor": amounts, "term": [TERM] * n,
        "upfront_fee_minor": [0] * n, "periodic_fee_minor": [0] * n,
        "disbursed_on": [days[d] for d in bk.disbursed[sl].tolist()], **counters,
        "booked_on": [days[d] for d in bk.disbursed[sl].tolist()],
        "due_day": [days[d].day for d in bk.disbursed[sl].tolist()],
        "accrued_through": [closed] * n, "days_past_due": [0] * n, "bucket": ["M0"] * n,
        "five_tier": ["normal"] * n, "restructure_count": [0] * n,
        "version": (2 + eod_days).tolist(),  # add, disburse, then one save per EOD day
        **cursor, "updated_at": [datetime.now(UTC)] * n,
    }


def _installment_columns(bk: Book, part: range) -> dict[str, list[Any]]:
    sl = slice(part.start, part.stop)
    m = len(part) * TERM
    days = {d: date.fromordinal(d) for d in np.unique(np.concatenate([bk.start[sl], bk.due[sl]])).tolist()}
    return {
        "loan_id": [lid for lid in bk.loan_ids[sl] for _ in range(TERM)],
        "seq": list(range(1, TERM + 1)) * len(part),
        "period_start": [days[d] for d in bk.start[sl].ravel().tolist()],
        "due_date": [days[d] for d in bk.due[sl].ravel().tolist()],
        "principal_minor": bk.principal[sl].ravel().tolist(), "interest_minor": bk.interest[sl].ravel().tolist(),
        "fee_minor": [0] * m, "principal_paid_minor": [0] * m, "interest_paid_minor": [0] * m,
        "fee_paid_minor": [0] * m, "capitalized": [False] * m,
    }


def _opening_entries(bk: Book, part: range) -> tuple[EntryColumns, PostingColumns]:
    """Per loan: its disbursement entry, then one entry for the interest accrued to day-1. (The
    service would have posted one EOD entry a day; the balances are the same, the rows fewer.)"""
    sl = slice(part.start, part.stop)
    ids = bk.loan_ids[sl]
    accrued = bk.interest_accrued[sl]
    with_interest = np.flatnonzero(accrued > 0)
    closed = bk.day - timedelta(days=1)
    acc_ids = [ids[k] for k in with_interest.tolist()]
    days = {d: date.fromordinal(d) for d in np.unique(bk.disbursed[sl]).tolist()}
    entries = EntryColumns(
        entry_ids=[f"{i}/disburse/{DISBURSE_KEY}" for i in ids] + [f"{i}/accrue-to/{closed}" for i in acc_ids],
        kinds=[EntryKind.DISBURSE.value] * len(ids) + [EntryKind.ACCRUE_INTEREST.value] * len(acc_ids),
        effective_dates=[days[d] for d in bk.disbursed[sl].tolist()] + [closed] * len(acc_ids),
        loan_ids=ids + acc_ids,
    )
    n_entries = len(ids) + len(acc_ids)
    amounts = np.concatenate([bk.amounts[sl], accrued[with_interest]])
    loan_of_entry = ids + acc_ids
    codes = ([AccountCode.LOAN_PRINCIPAL.value, AccountCode.SETTLEMENT_CASH.value] * len(ids)
             + [AccountCode.INTEREST_RECEIVABLE.value, AccountCode.INTEREST_INCOME.value] * len(acc_ids))
    postings = PostingColumns(
        entry_index=np.repeat(np.arange(n_entries, dtype=np.int64), 2), codes=codes,
        currencies=["CNY"] * (2 * n_entries), amounts_minor=np.stack([amounts, -amounts], axis=1).ravel(),
        loan_ids=[lid for lid in loan_of_entry for _ in range(2)], funder_ids=[DEFAULT_FUNDER] * (2 * n_entries),
    )
    return entries, postings


def insert_columns(conn: Connection, table: Table, columns: dict[str, list[Any]]) -> None:
    """One executemany straight on the driver; values go through each column type's bind
    processor (once per distinct value), so the rows are the ones SQLAlchemy would write."""
    dialect = conn.dialect
    compiled = insert(table).compile(dialect=dialect, column_keys=list(columns))
    names = list(compiled.positiontup) if compiled.positional and compiled.positiontup else list(columns)
    assert set(names) == set(columns), (names, list(columns))
    values = [_bind(table.c[name].type, dialect, columns[name]) for name in names]
    rows: list[Any] = list(zip(*values, strict=True))
    if not compiled.positional:
        rows = [dict(zip(names, r, strict=True)) for r in rows]
    conn.exec_driver_sql(str(compiled), rows)


def _bind(type_: Any, dialect: Any, values: list[Any]) -> list[Any]:
    processor = type_.dialect_impl(dialect).bind_processor(dialect)
    if processor is None:
        return values
    cache: dict[Any, Any] = {}
    out = []
    for value in values:
        token = value if isinstance(value, Hashable) else ("id", id(value))  # JSON dicts: by identity
        if token not in cache:
            cache[token] = processor(value)
        out.append(cache[token])
    return out


# --- proving the shortcut is the service's book ----------------------------------------------------


def domain_loan(bk: Book, k: int) -> Loan:
    """Loan k through the domain: book, disburse, then eod_one for every day up to day-1."""
    on = date.fromordinal(int(bk.disbursed[k]))
    booked = book(bk.loan_ids[k], get_product(PRODUCT_ID), Money(int(bk.amounts[k]), "CNY"), TERM,
                  rate_annual=bk.rate(k), on=on).loan
    loan = disburse(booked, on, DISBURSE_KEY).loan
    for day in _days(on, bk.day - timedelta(days=1)):
        loan = eod_one(loan, day).loan
    return loan


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def verify_book(engine: Engine, bk: Book, sample: list[int], scratch_path: str) -> None:
    """The stored sample equals (a) the domain's loans and their ledger balances, and (b) the rows
    the service path writes: repository add + disburse, then run_eod day by day, in a scratch DB."""
    check_schedules(bk, sample[:20])
    wanted = [domain_loan(bk, k) for k in sample]
    ids = [bk.loan_ids[k] for k in sample]
    with UnitOfWork(engine) as uow:
        for loan in wanted:
            assert uow.loans.get(loan.loan_id) == loan, f"stored {loan.loan_id} differs from the domain's"
            assert receivables(uow, loan.loan_id) == expected_balances(loan), loan.loan_id
        stored = _raw_rows(uow.connection, ids)
    assert _raw_rows_via_service(bk, sample, scratch_path) == stored, "rows differ from the service path's"


def receivables(uow: UnitOfWork, loan_id: str) -> dict[Any, int]:
    return {k: v for k, v in uow.ledger.balances_for_loan(loan_id).items() if k.code in RECEIVABLE_CODES}


def _raw_rows(conn: Connection, ids: list[str]) -> list[tuple[Any, ...]]:
    """Loan rows with every column but the bookkeeping ones (updated_at, version)."""
    cols = [c for c in loans.c if c.name not in ("updated_at", "version")]
    rows = conn.execute(select(*cols).where(loans.c.loan_id.in_(ids)).order_by(loans.c.loan_id)).all()
    return [tuple(r) for r in rows]


def _raw_rows_via_service(bk: Book, sample: list[int], path: str) -> list[tuple[Any, ...]]:
    engine = fresh_sqlite(path)
    try:
        product = get_product(PRODUCT_ID)
        with UnitOfWork(engine) as uow:  # the scratch book opens on the first disbursement
            uow.book.open(date.fromordinal(int(min(bk.disbursed[k] for k in sample))))
        for k in sample:
            on = date.fromordinal(int(bk.disbursed[k]))
            booked = book(bk.loan_ids[k], product, Money(int(bk.amounts[k]), "CNY"), TERM,
                          rate_annual=bk.rate(k), on=on).loan
            with UnitOfWork(engine) as uow:
                uow.loans.add(booked)
                uow.loans.get(booked.loan_id)
                outcome = disburse(booked, on, DISBURSE_KEY)
                uow.loans.save(outcome.loan)
                uow.ledger.post(outcome.entries)
        run_eod(engine, bk.day - timedelta(days=1))
        with engine.connect() as conn:
            return _raw_rows(conn, [bk.loan_ids[k] for k in sample])
    finally:
        engine.dispose()
