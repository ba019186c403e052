"""Bulk reads and writes for the columnar end of day: columns in, columns out, no Loan objects.

A chunk of live loans closed through day-1 is read in one query (one row per loan, the EOD
cursor included); installments only for the loans that need them; the results go back in one
executemany per table. The caller commits each chunk in its own transaction, so an EOD killed
mid-run resumes from the loans still closed through day-1.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Connection, func, select

from lendstack.ledger import EntryKind
from lendstack.servicing.aging import BUCKETS, FIVE_TIERS
from lendstack.servicing.eod_columnar import NO_DATE, STATUS_CODES, InstallmentColumns, LoanColumns
from lendstack.servicing.loan import LIVE_STATUSES, LoanStatus
from lendstack.store.tables import journal_entries, loans

_TIER_CODES = {tier.value: k for k, tier in enumerate(FIVE_TIERS)}
EOD_CHUNK_LOANS_MAX = 250_000  # bounds memory per transaction: ~25 columns × 8 bytes × 250k

_READ = (
    "status", "observation_floor", "grace_days", "penalty_ppm", "penalty_on_interest", "year_days", "rounding_code",
    "interest_accrued_minor", "fee_charged_minor", "penalty_accrued_minor", "penalty_paid_minor",
    "penalty_written_off_minor", "penalty_capitalized_minor", "suspense_minor", "cur_start_day", "cur_due_day",
    "cur_interest_minor", "cur_fee_minor", "base_interest_minor", "base_fee_minor", "oldest_open_due_day",
    "days_past_due", "non_accrual", "obs_end_day", "observation_missed",
)
_TEXT_READ = 2  # status and observation_floor come first; the rest are integers (booleans as 0/1)


@dataclass(frozen=True)
class EodChunk:
    loan_ids: list[str]
    currencies: list[str]
    funder_ids: list[str]
    cols: LoanColumns


def read_chunk(conn: Connection, day: date, limit: int) -> EodChunk | None:
    """Up to `limit` live loans closed through day-1, ordered by loan_id; None when none is left."""
    assert 0 < limit <= EOD_CHUNK_LOANS_MAX
    live = [s.value for s in LIVE_STATUSES]
    sql = (
        f"SELECT loan_id, currency, funder_id, {', '.join(_READ)} FROM loans"
        f" WHERE status IN ({', '.join('?' * len(live))}) AND accrued_through = ? ORDER BY loan_id LIMIT ?"
    )
    rows = _fetchall(conn, sql, [*live, _bind(conn, loans.c.accrued_through, day - timedelta(days=1)), limit])
    if not rows:
        return None
    columns = list(zip(*rows, strict=True))
    numbers = np.array(columns[3 + _TEXT_READ:], dtype=np.int64).T  # one row per loan, as _columns expects
    return EodChunk(list(columns[0]), list(columns[1]), list(columns[2]),
                    _columns(list(columns[3]), list(columns[4]), numbers, day))


def _fetchall(conn: Connection, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """Plain tuples from the DBAPI cursor, in the connection's transaction. Skipping SQLAlchemy's
    Row objects matters at a million rows; the columns read here need no result processing
    (integers and text; dates come back as ISO text on SQLite and are parsed by the caller)."""
    driver = conn.connection.driver_connection
    assert driver is not None
    cursor = driver.cursor()
    try:
        cursor.execute(_paramstyle(conn, sql), params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _paramstyle(conn: Connection, sql: str) -> str:
    """`sql` is written with '?' placeholders (sqlite3); psycopg takes '%s'."""
    return sql if conn.dialect.paramstyle == "qmark" else sql.replace("?", "%s")


def _bind(conn: Connection, column: Any, value: Any) -> Any:
    """A value as the driver wants it for this column (e.g. a date as ISO text on SQLite)."""
    processor = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return value if processor is None else processor(value)


def _columns(statuses: list[str], floors: list[str], numbers: NDArray[np.int64], day: date) -> LoanColumns:
    col = {name: numbers[:, k] for k, name in enumerate(_READ[_TEXT_READ:])}
    obs_end = np.where(col["obs_end_day"] > 0, col["obs_end_day"], NO_DATE)
    n = len(statuses)
    penalty_receivable = (
        col["penalty_accrued_minor"] - col["penalty_paid_minor"] - col["penalty_written_off_minor"]
        - col["penalty_capitalized_minor"]
    )
    return LoanColumns(
        status=np.array([STATUS_CODES[LoanStatus(s)] for s in statuses], dtype=np.int64),
        accrued_through=np.full(n, day.toordinal() - 1, dtype=np.int64),
        grace_days=col["grace_days"], penalty_ppm=col["penalty_ppm"],
        penalty_on_interest=col["penalty_on_interest"].astype(np.bool_), year_days=col["year_days"],
        rounding=col["rounding_code"], interest_accrued=col["interest_accrued_minor"],
        fee_charged=col["fee_charged_minor"], penalty_accrued=col["penalty_accrued_minor"],
        penalty_receivable=penalty_receivable, suspense=col["suspense_minor"], cur_start=col["cur_start_day"],
        cur_due=col["cur_due_day"], cur_interest=col["cur_interest_minor"], cur_fee=col["cur_fee_minor"],
        base_interest=col["base_interest_minor"], base_fee=col["base_fee_minor"],
        oldest_open_due=col["oldest_open_due_day"], dpd=col["days_past_due"],
        bucket=np.zeros(n, dtype=np.int64), five_tier=np.zeros(n, dtype=np.int64),
        non_accrual=col["non_accrual"].astype(np.bool_),
        obs_floor=np.array([_TIER_CODES[f] for f in floors], dtype=np.int64), obs_end=obs_end,
        obs_missed=col["observation_missed"].astype(np.bool_),
    )


def read_installments(conn: Connection, loan_ids: list[str], positions: dict[str, int]) -> InstallmentColumns:
    """Installments of the given loans, sorted by (loan position, due date, seq)."""
    rows: list[Any] = []
    for start in range(0, len(loan_ids), 5_000):  # bounded IN lists
        batch = loan_ids[start : start + 5_000]
        rows += _fetchall(
            conn,
            "SELECT loan_id, period_start, due_date, principal_minor, interest_minor, fee_minor,"
            " principal_paid_minor, interest_paid_minor, fee_paid_minor, capitalized, seq FROM installments"
            f" WHERE loan_id IN ({', '.join('?' * len(batch))})",
            batch,
        )
    days: dict[Any, int] = {}  # a few distinct dates repeat across thousands of rows
    rows = [(positions[r[0]], _cached_day(days, r[1]), _cached_day(days, r[2]), *r[3:]) for r in rows]
    rows.sort(key=lambda r: (r[0], r[2], r[10]))

    def col(k: int) -> NDArray[np.int64]:
        return np.array([int(r[k]) for r in rows], dtype=np.int64)

    return InstallmentColumns(
        loan_pos=col(0), start=col(1), due=col(2), principal=col(3), interest=col(4), fee=col(5),
        principal_paid=col(6), interest_paid=col(7), fee_paid=col(8),
        capitalized=np.array([bool(r[9]) for r in rows], dtype=np.bool_),
    )


def _cached_day(cache: dict[Any, int], value: Any) -> int:
    found = cache.get(value)
    if found is None:
        found = cache[value] = _day(value)
    return found


def _day(value: Any) -> int:
    return (value if isinstance(value, date) else date.fromisoformat(str(value))).toordinal()


_WRITE = (
    "interest_accrued_minor", "fee_charged_minor", "penalty_accrued_minor", "days_past_due", "bucket", "five_tier",
    "status", "cur_start_day", "cur_due_day", "cur_interest_minor", "cur_fee_minor", "base_interest_minor",
    "base_fee_minor", "oldest_open_due_day", "observation_floor", "observation_missed",
)


def write_chunk(conn: Connection, chunk: EodChunk, new: LoanColumns, day: date) -> None:
    """Store EOD's output for the chunk's loans: counters, aging, status and cursor.

    One executemany of plain tuples on the driver: SQLAlchemy's per-row parameter handling cost
    more than SQLite's own work here. Values that need a bind processor (the date, the timestamp)
    are the same for every row and are processed once."""
    statuses = [s.value for s in LoanStatus]
    tiers = [t.value for t in FIVE_TIERS]
    values = (
        new.interest_accrued.tolist(), new.fee_charged.tolist(), new.penalty_accrued.tolist(), new.dpd.tolist(),
        [BUCKETS[b] for b in new.bucket.tolist()], [tiers[t] for t in new.five_tier.tolist()],
        [statuses[s] for s in new.status.tolist()], new.cur_start.tolist(), new.cur_due.tolist(),
        new.cur_interest.tolist(), new.cur_fee.tolist(), new.base_interest.tolist(), new.base_fee.tolist(),
        new.oldest_open_due.tolist(), [tiers[t] for t in new.obs_floor.tolist()],
        new.obs_missed.tolist(),  # Python bools: sqlite3 stores 1/0, psycopg a boolean
    )
    assert len(values) == len(_WRITE)
    n = len(chunk.loan_ids)
    accrued_through = [_bind(conn, loans.c.accrued_through, day)] * n
    updated_at = [_bind(conn, loans.c.updated_at, datetime.now(UTC))] * n
    rows = list(zip(*values, accrued_through, updated_at, chunk.loan_ids, strict=True))
    sets = ", ".join(f"{name} = ?" for name in _WRITE)
    sql = f"UPDATE loans SET {sets}, accrued_through = ?, version = version + 1, updated_at = ? WHERE loan_id = ?"
    if rows:
        conn.exec_driver_sql(_paramstyle(conn, sql), rows)


class EodRepository:
    """End of day's reads and writes on one connection (the caller's transaction): the bulk chunk
    functions above, and the counts that decide what a day still needs."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def read_chunk(self, day: date, limit: int) -> EodChunk | None:
        return read_chunk(self.connection, day, limit)

    def read_installments(self, loan_ids: list[str], positions: dict[str, int]) -> InstallmentColumns:
        return read_installments(self.connection, loan_ids, positions)

    def write_chunk(self, chunk: EodChunk, new: LoanColumns, day: date) -> None:
        write_chunk(self.connection, chunk, new, day)

    def live_loans(self) -> int:
        """Loans active or overdue."""
        query = select(func.count()).select_from(loans).where(loans.c.status.in_([s.value for s in LIVE_STATUSES]))
        return int(self.connection.execute(query).scalar_one())

    def live_loans_behind(self, day: date) -> int:
        """Live loans not yet closed through `day`."""
        query = select(func.count()).select_from(loans).where(
            loans.c.status.in_([s.value for s in LIVE_STATUSES]), loans.c.accrued_through < day)
        return int(self.connection.execute(query).scalar_one())

    def last_provision_date(self) -> date | None:
        """The effective date of the latest provision entry, None when none was posted."""
        e = journal_entries.c
        last = self.connection.execute(
            select(func.max(e.effective_date)).where(e.kind == EntryKind.PROVISION.value)).scalar()
        if last is None or isinstance(last, date):
            return last
        return date.fromisoformat(str(last))
