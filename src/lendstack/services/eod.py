"""End of day over the stored book: from the business date forward, day by day, chunk by chunk,
columnar. End of day is the only thing that moves the business date (services.business_date).

Each chunk is one transaction: loans' new state, their EOD journal entries and events. A run
killed mid-way leaves whole chunks done and the rest closed through the day before; running it
again continues from there. Running a day that is already closed does nothing (idempotent).

After the day's loans the after-loan hooks run (switch them off with `hooks=False`, as the
close-only benchmark does): the early-warning indicators as of that day, then the daily
collections run (its P(roll) reads the alerts just raised), and at a month end the ECL provision
dated that day (also when no loan is live, so a written-off book's allowance is released). Only
then does the business date move to the next day. All hooks are idempotent per date, so a run
killed between a close and the move repeats them for that day when it is started again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

import numpy as np

from lendstack.collections import service as collections
from lendstack.collections.domain import Strategy, load_strategy
from lendstack.events import DomainEvent
from lendstack.invariants import InvariantError
from lendstack.ledger import AccountCode, EntryKind
from lendstack.monitoring.early_warning import IndicatorSet, load_indicators
from lendstack.services import early_warning, monitoring
from lendstack.services.business_date import check_opening
from lendstack.services.loans import record
from lendstack.servicing import DEFAULT_AGING, AgingPolicy, ServicingError, eod_one
from lendstack.servicing.commands import CATCH_UP_DAYS_MAX
from lendstack.servicing.eod import eod_entry_id
from lendstack.servicing.eod_columnar import (
    ACTIVE,
    OVERDUE,
    LoanColumns,
    eod_columnar,
    needs_detail,
    needs_reference,
)
from lendstack.store import Engine, EntryColumns, PostingColumns, UnitOfWork
from lendstack.store.eod_repo import EOD_CHUNK_LOANS_MAX, EodChunk, EodRepository

# The day's postings, in the reference path's order (servicing.income: interest, fee, penalty):
# accruing loans to income, loans in non-accrual to the memo accounts.
EOD_PAIRS = (
    (AccountCode.INTEREST_RECEIVABLE, AccountCode.INTEREST_INCOME),
    (AccountCode.FEE_RECEIVABLE, AccountCode.FEE_INCOME),
    (AccountCode.PENALTY_RECEIVABLE, AccountCode.PENALTY_INCOME),
)
EOD_PAIRS_NON_ACCRUAL = (
    (AccountCode.MEMO_INTEREST, AccountCode.MEMO_CONTRA),
    (AccountCode.FEE_RECEIVABLE, AccountCode.FEE_INCOME),
    (AccountCode.MEMO_PENALTY, AccountCode.MEMO_CONTRA),
)

Progress = Callable[[date, int], None]  # (day, loans closed in this step)


@dataclass
class EodReport:
    days: int = 0
    loans_closed: int = 0
    entries_posted: int = 0
    by_reference: int = 0
    early_warning_runs: int = 0  # hooks: indicator runs, one per closed day with live loans
    alerts_new: int = 0
    provisions_posted: int = 0  # provision journal entries (one per currency whose allowance moved)
    collections_runs: int = 0  # hooks: daily collections runs, one per closed day
    collection_cases_opened: int = 0
    collection_cases_closed: int = 0
    collection_messages_sent: int = 0  # dunning steps, promise-broken notices and due-date reminders

    def to_json(self) -> dict[str, Any]:
        """Every counter by name, in declaration order (`lendstack eod --json`)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def run_eod(
    engine: Engine, through: date, *, chunk_loans: int = 100_000, aging: AgingPolicy = DEFAULT_AGING,
    progress: Progress | None = None, max_chunks: int | None = None, hooks: bool = True,
) -> EodReport:
    """Close every day from the business date up to `through`, then move the business date to the
    day after `through`. A book without a business date is opened on `through`. A `through` before
    the business date is already closed: nothing to do."""
    with UnitOfWork(engine) as uow:
        current = uow.book.business_date()
    first = current or check_opening(through, "date")
    if (through - first).days >= CATCH_UP_DAYS_MAX:
        raise ServicingError("date", f"{through} is more than {CATCH_UP_DAYS_MAX} days after the business date "
                                     f"{first}")
    report = EodReport()
    day = first
    chunks_left = max_chunks
    while day <= through:
        chunks_left = _run_day(engine, day, chunk_loans, aging, report, progress, chunks_left)
        if chunks_left == 0:
            break  # only tests stop early: to prove a killed run resumes
        report.days += 1
        if hooks:
            after_day(engine, day, report)
        _move_business_date(engine, day)
        day += timedelta(days=1)
    return report


def _move_business_date(engine: Engine, day: date) -> None:
    """The day is done (its loans and its hooks): the business date becomes the next day. Every
    live loan must be closed through `day` now, or some loan fell behind the book (a bug)."""
    with UnitOfWork(engine) as uow:
        current = uow.book.business_date(lock="update")
        behind = EodRepository(uow.connection).live_loans_behind(day)
        if behind != 0:
            raise InvariantError(f"{behind} live loan(s) not closed through {day}")
        if current is None:
            uow.book.open(day + timedelta(days=1))
        else:
            if current != day:
                raise InvariantError(f"the business date is {current}, not {day}")
            uow.book.move(day, day + timedelta(days=1))


def after_day(engine: Engine, day: date, report: EodReport) -> None:
    """The after-loan hooks of one closed day; all are idempotent per date. A day with no live
    loan costs a few cheap queries (collections still closes the cases of loans repaid or written off)."""
    if _live_loans(engine) > 0:
        outcome = early_warning.run_book(engine, day, default_indicators())
        report.early_warning_runs += 1
        report.alerts_new += outcome.new_alerts
    if _closed_on(engine, day):
        worked = collections.run(engine, day, strategy=default_strategy())
        report.collections_runs += 1
        report.collection_cases_opened += worked.cases_opened
        report.collection_cases_closed += worked.cases_closed
        report.collection_messages_sent += worked.messages_sent
    if is_month_end(day) and not _provision_after(engine, day):
        posted = monitoring.post_provision(engine, day, dated=False, detail=False)
        report.provisions_posted += int(posted["entries_posted"])


@cache
def default_indicators() -> IndicatorSet:
    """The shipped indicator set, parsed once per process (~0.1 s a parse: too much for every day)."""
    return load_indicators()


@cache
def default_strategy() -> Strategy:
    """The shipped collections strategy, parsed once per process (~0.1 s a parse)."""
    return load_strategy()


def _closed_on(engine: Engine, day: date) -> bool:
    """The book stands closed through `day` (or has no live loan): collections work the day the book
    shows."""
    with UnitOfWork(engine) as uow:
        closed = uow.loans.closed_through()
    return closed is None or closed >= day


def is_month_end(day: date) -> bool:
    return (day + timedelta(days=1)).month != day.month


def _live_loans(engine: Engine) -> int:
    with engine.connect() as conn:
        return EodRepository(conn).live_loans()


def _provision_after(engine: Engine, day: date) -> bool:
    """A provision dated after `day` exists (posted by hand ahead of EOD): provisions only move
    forward, so the month end's is skipped rather than refused."""
    with engine.connect() as conn:
        last = EodRepository(conn).last_provision_date()
    return last is not None and last > day


def _run_day(
    engine: Engine, day: date, chunk_loans: int, aging: AgingPolicy, report: EodReport,
    progress: Progress | None, chunks_left: int | None,
) -> int | None:
    limit = min(chunk_loans, EOD_CHUNK_LOANS_MAX)
    while chunks_left is None or chunks_left > 0:
        with UnitOfWork(engine) as uow:
            uow.book.business_date(lock="update")  # money commands wait for this chunk (PostgreSQL)
            chunk = EodRepository(uow.connection).read_chunk(day, limit)
            if chunk is None:
                return chunks_left
            closed = _close_chunk(uow, chunk, day, aging, report)
        report.loans_closed += closed
        if progress:
            progress(day, closed)
        chunks_left = None if chunks_left is None else chunks_left - 1
    return chunks_left


def _close_chunk(uow: UnitOfWork, chunk: EodChunk, day: date, aging: AgingPolicy, report: EodReport) -> int:
    d = day.toordinal()
    by_ref = needs_reference(chunk.cols, d, aging)
    for k in np.flatnonzero(by_ref).tolist():  # rare: suspense money meets a due amount
        outcome = eod_one(uow.loans.get(chunk.loan_ids[k], for_update=True), day, aging)
        record(uow, outcome)
        report.by_reference += 1
        report.entries_posted += len(outcome.entries)
    keep = np.flatnonzero(~by_ref)
    rest = EodChunk([chunk.loan_ids[k] for k in keep.tolist()], [chunk.currencies[k] for k in keep.tolist()],
                    [chunk.funder_ids[k] for k in keep.tolist()], chunk.cols.take(keep))
    if not rest.loan_ids:
        return len(chunk.loan_ids)
    detail = needs_detail(rest.cols, d)
    detail_ids = [rest.loan_ids[k] for k in np.flatnonzero(detail).tolist()]
    positions = {loan_id: k for k, loan_id in enumerate(rest.loan_ids)}
    repo = EodRepository(uow.connection)
    inst = repo.read_installments(detail_ids, positions)
    new, deltas = eod_columnar(rest.cols, inst, day, aging)
    entries, postings = eod_entries(rest, np.stack([deltas.interest, deltas.fee, deltas.penalty], axis=1), day)
    if len(entries):
        uow.ledger.post_columnar(entries, postings)
    repo.write_chunk(rest, new, day)
    _overdue_events(uow, rest, new, day)
    report.entries_posted += len(entries)
    return len(chunk.loan_ids)


def eod_entries(chunk: EodChunk, amounts: np.ndarray, day: date) -> tuple[EntryColumns, PostingColumns]:
    """One EOD entry per loan with anything to post; postings in the reference path's order."""
    if not (amounts.shape == (len(chunk.loan_ids), 3) and np.all(amounts >= 0)):
        raise InvariantError("end-of-day amounts: one non-negative row of three per loan")
    signed = np.repeat(amounts, 2, axis=1) * np.array([1, -1, 1, -1, 1, -1])
    codes = ([code.value for pair in EOD_PAIRS for code in pair],
             [code.value for pair in EOD_PAIRS_NON_ACCRUAL for code in pair])
    memo = chunk.cols.non_accrual.astype(np.int64).tolist()
    posting_loan, posting_col = np.nonzero(signed)  # row-major: per loan, in pair order
    loans_with = np.flatnonzero(np.any(amounts != 0, axis=1))
    entry_of_loan = np.full(len(chunk.loan_ids), -1, dtype=np.int64)
    entry_of_loan[loans_with] = np.arange(len(loans_with))
    ids = [chunk.loan_ids[k] for k in loans_with.tolist()]
    entries = EntryColumns(
        entry_ids=[eod_entry_id(loan_id, day) for loan_id in ids], kinds=[EntryKind.EOD.value] * len(ids),
        effective_dates=[day] * len(ids), loan_ids=ids,
    )
    pl = posting_loan.tolist()
    postings = PostingColumns(
        entry_index=entry_of_loan[posting_loan],
        codes=[codes[memo[k]][c] for k, c in zip(posting_loan.tolist(), posting_col.tolist(), strict=True)],
        currencies=[chunk.currencies[k] for k in pl], amounts_minor=signed[posting_loan, posting_col],
        loan_ids=[chunk.loan_ids[k] for k in pl], funder_ids=[chunk.funder_ids[k] for k in pl],
    )
    return entries, postings


def _overdue_events(uow: UnitOfWork, chunk: EodChunk, new: LoanColumns, day: date) -> None:
    turned = np.flatnonzero((chunk.cols.status == ACTIVE) & (new.status == OVERDUE)).tolist()
    now = datetime.now(UTC)
    events = [  # the same ids as the reference path's, so a replay cannot duplicate them
        DomainEvent(f"{chunk.loan_ids[k]}/overdue/{day.isoformat()}", "loan.overdue", "loan", chunk.loan_ids[k], now,
                    {"loan_id": chunk.loan_ids[k], "value_date": day.isoformat(), "status": "overdue"})
        for k in turned
    ]
    if events:
        uow.outbox.add_many(events)
