"""`lendstack bench servicing`: end of day over a large stored book, schedules, ledger posting.

Measures (one flat dict, see `run`):
- EOD of one day over EOD_LOANS active loans on SQLite (run_eod, the columnar chunked path), with
  the book checked against the service path before and the ledger and a sample checked after;
- the one-loan reference path (load, eod_one, record: one unit of work per loan) on a
  SAMPLE_LOANS book of the same kind, and the speed-up of the columnar path over it;
- build_schedules_batch throughput, and build_schedule one at a time for comparison;
- balanced two-posting journal entries committed per second through SqlLedger.post_columnar on
  SQLite and on PostgreSQL (LENDSTACK_DATABASE_URL when it names one, else a throwaway cluster).

Sizes come from LENDSTACK_BENCH_EOD_LOANS, LENDSTACK_BENCH_SAMPLE_LOANS, LENDSTACK_BENCH_ENTRIES
(and LENDSTACK_BENCH_SCHEDULES, default EOD_LOANS), so CI can run it small.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Engine, func, make_url, select
from sqlalchemy.pool import NullPool

import lendstack.services.eod as eod_service
from bench.servicing_book import RATES_PPM, Book, fresh_sqlite, make_book, receivables, store_book
from bench.servicing_book import verify_book as verify_stored_book
from lendstack.ledger import DEFAULT_FUNDER, AccountCode, EntryKind
from lendstack.schedule import build_schedule
from lendstack.schedule.batch import build_schedules_batch
from lendstack.services.loans import record
from lendstack.services.monitoring import post_provision
from lendstack.servicing import eod_one, expected_balances
from lendstack.store import EntryColumns, PostingColumns, SqlLedger, UnitOfWork
from lendstack.store.db import make_engine, normalize_url, upgrade
from lendstack.store.eod_repo import EodRepository
from lendstack.store.pgtemp import PostgresUnavailable, throwaway_cluster
from lendstack.store.reconcile_repo import reconcile_loans
from lendstack.store.tables import postings

EOD_DAY = date(2025, 7, 15)
SEED = 20250715
VERIFY_SAMPLE_LOANS = 200
SCHEDULES_REFERENCE = 5_000
ENTRIES_PER_TRANSACTION = 20_000
EOD_CHUNK_LOANS = 100_000


def _env_int(name: str, default: int) -> int:
    value = int(os.environ.get(name, default))
    if value <= 0:
        raise ValueError(f"{name}: must be a positive integer, got {value}")
    return value


class Reporter:
    """Status lines and progress bars on stderr, or nothing at all (with --json)."""

    def __init__(self, enabled: bool) -> None:
        self.console = Console(stderr=True) if enabled else None

    def say(self, text: str) -> None:
        if self.console:
            self.console.print(text)

    @contextlib.contextmanager
    def bar(self, label: str, total: int) -> Iterator[Callable[[int], None]]:
        if self.console is None:
            yield lambda _n: None
            return
        columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=self.console, transient=True) as bar:
            task = bar.add_task(label, total=total)
            yield lambda n: bar.advance(task, n)


def run(progress: bool) -> dict[str, object]:
    eod_loans = _env_int("LENDSTACK_BENCH_EOD_LOANS", 1_000_000)
    sample_loans = _env_int("LENDSTACK_BENCH_SAMPLE_LOANS", 10_000)
    entries = _env_int("LENDSTACK_BENCH_ENTRIES", 200_000)
    schedules = _env_int("LENDSTACK_BENCH_SCHEDULES", eod_loans)
    rep = Reporter(progress)
    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="lendstack-bench-") as tmp:
        out |= bench_schedules(rep, schedules)
        out |= bench_reference(rep, sample_loans, Path(tmp))
        out |= bench_eod(rep, eod_loans, Path(tmp))
        out["eod_speedup_vs_reference"] = _speedup(out)
        out |= bench_journal_sqlite(rep, entries, Path(tmp))
        out |= bench_journal_postgres(rep, entries)
    return out


def _speedup(out: dict[str, object]) -> float:
    per_loan_ref = float(out["reference_s"]) / float(out["reference_loans"])  # type: ignore[arg-type]
    per_loan_eod = float(out["eod_s"]) / float(out["eod_loans"])  # type: ignore[arg-type]
    return round(per_loan_ref / per_loan_eod, 1)


# --- schedules -------------------------------------------------------------------------------------


def bench_schedules(rep: Reporter, n: int) -> dict[str, object]:
    rng = np.random.default_rng(SEED)
    amounts = rng.integers(1_000, 200_001, size=n).astype(np.int64) * 100
    rates = np.asarray(RATES_PPM, dtype=np.int64)[rng.integers(0, len(RATES_PPM), size=n)]
    build_schedules_batch(amounts[:1_000], rates[:1_000], 12, "equal_installment")  # warm the imports
    t0 = time.perf_counter()
    batch = build_schedules_batch(amounts, rates, 12, "equal_installment")
    batch_s = time.perf_counter() - t0
    m = min(SCHEDULES_REFERENCE, n)
    t0 = time.perf_counter()
    refs = [build_schedule(amount_minor=int(amounts[k]), rate_annual=f"{int(rates[k]) / 1e6:.6f}", term=12,
                           method="equal_installment", start=EOD_DAY) for k in range(m)]
    ref_s = time.perf_counter() - t0
    for k in range(0, m, max(m // 50, 1)):  # the batch equals the reference, to the minor unit
        assert [ln.principal_minor for ln in refs[k].lines] == batch.principal_minor[k].tolist()
        assert [ln.interest_minor for ln in refs[k].lines] == batch.interest_minor[k].tolist()
    rep.say(f"schedules: {n:,} batch in {batch_s:.2f} s; {m:,} one at a time in {ref_s:.2f} s")
    return {"schedules": n, "schedules_s": round(batch_s, 3), "schedules_per_s": round(n / batch_s),
            "schedules_reference_per_s": round(m / ref_s)}


# --- the one-loan reference path -------------------------------------------------------------------


def bench_reference(rep: Reporter, n: int, tmp: Path) -> dict[str, object]:
    bk = make_book(n, EOD_DAY, SEED + 1, prefix="R")
    engine = fresh_sqlite(str(tmp / "reference.db"))
    try:
        store_book(engine, bk)
        with rep.bar("reference EOD, one loan per unit of work", n) as advance:
            t0 = time.perf_counter()
            for loan_id in bk.loan_ids:
                with UnitOfWork(engine) as uow:
                    loan = uow.loans.get(loan_id, for_update=True)
                    record(uow, eod_one(loan, EOD_DAY))
                advance(1)
            ref_s = time.perf_counter() - t0
        _check_trial_balance(engine)
    finally:
        engine.dispose()
    rep.say(f"reference: {n:,} loans in {ref_s:.2f} s ({n / ref_s:,.0f} loans/s)")
    return {"reference_loans": n, "reference_s": round(ref_s, 3), "reference_loans_per_s": round(n / ref_s)}


# --- EOD over the big book -------------------------------------------------------------------------


def bench_eod(rep: Reporter, n: int, tmp: Path) -> dict[str, object]:
    t0 = time.perf_counter()
    bk = make_book(n, EOD_DAY, SEED)
    engine = fresh_sqlite(str(tmp / "book.db"))
    try:
        with rep.bar(f"book: {n:,} loans", n) as advance:
            store_book(engine, bk, advance)
        setup_s = time.perf_counter() - t0
        rep.say(f"book: {n:,} loans stored in {setup_s:.1f} s; checking a sample against the service path")
        sample = _sample(bk)
        verify_stored_book(engine, bk, sample, str(tmp / "verify.db"))
        before = _load(engine, [bk.loan_ids[k] for k in sample])
        timers: dict[str, float] = defaultdict(float)
        with rep.bar(f"EOD {EOD_DAY}", n) as advance, _timed_eod_steps(timers):
            t0 = time.perf_counter()
            # The close alone: early warning and the month-end provision (EOD hooks) are not timed here.
            report = eod_service.run_eod(engine, EOD_DAY, chunk_loans=EOD_CHUNK_LOANS,
                                         progress=lambda _day, closed: advance(closed), hooks=False)
            eod_s = time.perf_counter() - t0
        assert report.loans_closed == n and report.days == 1, report
        _check_after_eod(engine, before)
        checks = _time_checks(rep, engine, n)
    finally:
        engine.dispose()
    rep.say(f"EOD: {n:,} loans in {eod_s:.2f} s ({n / eod_s:,.0f} loans/s), {report.entries_posted:,} entries")
    return {
        "eod_loans": n, "eod_s": round(eod_s, 3), "eod_loans_per_s": round(n / eod_s),
        "eod_entries_posted": report.entries_posted, "eod_by_reference": report.by_reference,
        "eod_detail_loans": int(np.sum(bk.due[:, 0] == EOD_DAY.toordinal() - 1)),
        **{f"eod_{name}_s": round(s, 3) for name, s in sorted(timers.items())},
        "book_setup_s": round(setup_s, 3), "book_verified_loans": len(sample), **checks,
    }


def _time_checks(rep: Reporter, engine: Engine, n: int) -> dict[str, object]:
    """`lendstack ledger verify` over the book after its end of day: every running balance against
    its postings, and every loan against its sub-ledger (target: 1M loans in under a minute); then
    the month-end provision that brings every loan's loss allowance to its ECL."""
    with UnitOfWork(engine) as uow:
        t0 = time.perf_counter()
        problems = uow.ledger.verify()
        ledger_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        loans = reconcile_loans(uow.connection)
        reconcile_s = time.perf_counter() - t0
    assert problems == [] and loans.ok and loans.loans_checked == n, (problems[:3], loans.differences[:3])
    t0 = time.perf_counter()
    provision = post_provision(engine, EOD_DAY, dated=False, detail=False)
    provision_s = time.perf_counter() - t0
    rep.say(f"verify: ledger {ledger_s:.1f} s, {n:,} loans reconciled in {reconcile_s:.1f} s; "
            f"provision: {provision['entries_posted']:,} entries in {provision_s:.1f} s")
    return {"ledger_verify_s": round(ledger_s, 3), "loans_reconcile_s": round(reconcile_s, 3),
            "verify_s": round(ledger_s + reconcile_s, 3), "provision_s": round(provision_s, 3),
            "provision_entries": provision["entries_posted"]}


def _sample(bk: Book) -> list[int]:
    """Spread over the book, plus loans of the two cohorts that make the day interesting."""
    n = len(bk)
    spread = np.linspace(0, n - 1, num=min(VERIFY_SAMPLE_LOANS, n), dtype=np.int64).tolist()
    first_due = bk.due[:, 0] - EOD_DAY.toordinal()
    special = [int(k) for cohort in (0, -1) for k in np.flatnonzero(first_due == cohort)[:10]]
    return sorted(set(spread) | set(special))


def _load(engine: Engine, ids: list[str]) -> list[Any]:
    with UnitOfWork(engine) as uow:
        return [uow.loans.get(i) for i in ids]


@contextlib.contextmanager
def _timed_eod_steps(timers: dict[str, float]) -> Iterator[None]:
    """Time run_eod's steps by wrapping the functions it calls (restored afterwards)."""
    # The end of day's SQL lives in EodRepository (store/eod_repo.py), its compute in services/eod.py.
    repository_steps = {"read_chunk": "read", "read_installments": "read", "write_chunk": "loan_write"}
    steps = {"eod_columnar": "compute", "eod_entries": "compute", "_overdue_events": "events"}
    saved: dict[tuple[Any, str], Any] = {}

    def wrap(owner: Any, attr: str, name: str) -> None:
        inner = getattr(owner, attr)
        saved[(owner, attr)] = inner

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                timers[name] += time.perf_counter() - t0

        setattr(owner, attr, timed)

    for attr, name in steps.items():
        wrap(eod_service, attr, name)
    for attr, name in repository_steps.items():
        wrap(EodRepository, attr, name)
    wrap(SqlLedger, "post_columnar", "ledger_write")
    try:
        yield
    finally:
        for (owner, attr), inner in saved.items():
            setattr(owner, attr, inner)


def _check_after_eod(engine: Engine, before: list[Any]) -> None:
    """The ledger balances, and the sample equals eod_one of the loans as they were before."""
    _check_trial_balance(engine)
    with UnitOfWork(engine) as uow:
        for loan in before:
            want = eod_one(loan, EOD_DAY).loan
            assert uow.loans.get(loan.loan_id) == want, f"run_eod stored {loan.loan_id} unlike eod_one"
            assert receivables(uow, loan.loan_id) == expected_balances(want), loan.loan_id


def _check_trial_balance(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        by_balance = uow.ledger.trial_balance()
        assert sum(by_balance.values()) == 0, f"trial balance off: {by_balance}"
        by_posting = uow.connection.execute(
            select(postings.c.currency, func.sum(postings.c.amount_minor)).group_by(postings.c.currency)
        ).all()
        assert all(int(total) == 0 for _currency, total in by_posting), by_posting
        totals = {code: int(v) for (_c, code), v in by_balance.items()}
        stored = uow.connection.execute(
            select(postings.c.account_code, func.sum(postings.c.amount_minor)).group_by(postings.c.account_code)
        ).all()
        assert {AccountCode(code): int(v) for code, v in stored} == totals, "running balances != postings"


# --- journal entries committed per second ----------------------------------------------------------


def journal_batches(n: int) -> list[tuple[EntryColumns, PostingColumns]]:
    """n balanced two-posting entries (a disbursement each, one loan each), in transaction-sized
    batches. Built before the clock starts: the rate measured is the ledger's, not numpy's."""
    rng = np.random.default_rng(SEED + 2)
    amounts = rng.integers(100_000, 20_000_001, size=n).astype(np.int64)
    batches = []
    for lo in range(0, n, ENTRIES_PER_TRANSACTION):
        k = min(ENTRIES_PER_TRANSACTION, n - lo)
        ids = [f"J{lo + j:08d}" for j in range(k)]
        a = amounts[lo : lo + k]
        entries = EntryColumns(entry_ids=[f"{i}/disburse/bench" for i in ids], kinds=[EntryKind.DISBURSE.value] * k,
                               effective_dates=[EOD_DAY] * k, loan_ids=ids)
        cols = PostingColumns(
            entry_index=np.repeat(np.arange(k, dtype=np.int64), 2),
            codes=[AccountCode.LOAN_PRINCIPAL.value, AccountCode.SETTLEMENT_CASH.value] * k,
            currencies=["CNY"] * (2 * k), amounts_minor=np.stack([a, -a], axis=1).ravel(),
            loan_ids=[i for i in ids for _ in range(2)], funder_ids=[DEFAULT_FUNDER] * (2 * k),
        )
        batches.append((entries, cols))
    return batches


def post_journal(engine: Engine, n: int) -> float:
    """Seconds to post and commit n entries, ENTRIES_PER_TRANSACTION per transaction."""
    batches = journal_batches(n)
    t0 = time.perf_counter()
    for entries, cols in batches:
        with UnitOfWork(engine) as uow:
            uow.ledger.post_columnar(entries, cols)
    elapsed = time.perf_counter() - t0
    _check_trial_balance(engine)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(postings)).scalar_one() == 2 * n
    return elapsed


def bench_journal_sqlite(rep: Reporter, n: int, tmp: Path) -> dict[str, object]:
    engine = fresh_sqlite(str(tmp / "journal.db"))
    try:
        elapsed = post_journal(engine, n)
    finally:
        engine.dispose()
    rep.say(f"journal (SQLite): {n:,} entries in {elapsed:.2f} s ({n / elapsed:,.0f}/s)")
    return {"journal_entries": n, "journal_entries_per_s_sqlite": round(n / elapsed)}


def bench_journal_postgres(rep: Reporter, n: int) -> dict[str, object]:
    configured = os.environ.get("LENDSTACK_DATABASE_URL", "")
    source = "LENDSTACK_DATABASE_URL" if configured.startswith(("postgresql", "postgres:")) else "throwaway cluster"
    try:
        with _postgres_database(configured if source == "LENDSTACK_DATABASE_URL" else None) as url:
            engine = make_engine(url, poolclass=NullPool)
            try:
                upgrade(engine)
                elapsed = post_journal(engine, n)
            finally:
                engine.dispose()
    except PostgresUnavailable as exc:
        rep.say(f"journal (PostgreSQL): skipped, {exc}")
        return {"journal_entries_per_s_postgres": None, "postgres_source": source,
                "postgres_unavailable_reason": str(exc)}
    rep.say(f"journal (PostgreSQL, {source}): {n:,} entries in {elapsed:.2f} s ({n / elapsed:,.0f}/s)")
    return {"journal_entries_per_s_postgres": round(n / elapsed), "postgres_source": source}


@contextlib.contextmanager
def _postgres_database(server_url: str | None) -> Iterator[str]:
    """A fresh database: on the configured server (created and dropped here), else a whole
    throwaway cluster. Never the configured database itself: the bench writes a ledger."""
    if server_url is None:
        with throwaway_cluster() as url:
            yield url
        return
    name = f"lendstack_bench_{uuid.uuid4().hex[:12]}"
    admin = make_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield make_url(normalize_url(server_url)).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()

