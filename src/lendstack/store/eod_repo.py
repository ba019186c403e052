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
from sqlalchemy import Connection, bindparam, select, update

from lendstack.servicing.aging import BUCKETS, FIVE_TIERS
from lendstack.servicing.eod_columnar import STATUS_CODES, InstallmentColumns, LoanColumns
from lendstack.servicing.loan import LIVE_STATUSES, LoanStatus
from lendstack.store.tables import installments, loans

EOD_CHUNK_LOANS_MAX = 250_000  # bounds memory per transaction: ~25 columns × 8 bytes × 250k

_READ = (
    "status", "grace_days", "penalty_ppm", "penalty_on_interest", "year_days", "rounding_code",
    "interest_accrued_minor", "fee_charged_minor", "penalty_accrued_minor", "penalty_paid_minor",
    "penalty_written_off_minor", "penalty_capitalized_minor", "suspense_minor", "cur_start_day", "cur_due_day",
    "cur_interest_minor", "cur_fee_minor", "base_interest_minor", "base_fee_minor", "oldest_open_due_day",
    "days_past_due",
)


@dataclass(frozen=True)
class EodChunk:
    loan_ids: list[str]
    currencies: list[str]
    funder_ids: list[str]
    cols: LoanColumns


def read_chunk(conn: Connection, day: date, limit: int) -> EodChunk | None:
    """Up to `limit` live loans closed through day-1, ordered by loan_id; None when none is left."""
    assert 0 < limit <= EOD_CHUNK_LOANS_MAX
    query = (
        select(loans.c.loan_id, loans.c.currency, loans.c.funder_id, *(loans.c[c] for c in _READ))
        .where(loans.c.status.in_([s.value for s in LIVE_STATUSES]))
        .where(loans.c.accrued_through == day - timedelta(days=1))
        .order_by(loans.c.loan_id)
        .limit(limit)
    )
    rows = conn.execute(query).all()
    if not rows:
        return None
    ids, currencies, funders, statuses = (list(x) for x in zip(*((r[0], r[1], r[2], r[3]) for r in rows), strict=True))
    numbers = np.array([r[4:] for r in rows], dtype=np.int64)
    return EodChunk(ids, currencies, funders, _columns(statuses, numbers, day))


def _columns(statuses: list[str], numbers: NDArray[np.int64], day: date) -> LoanColumns:
    col = {name: numbers[:, k] for k, name in enumerate(_READ[1:])}
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
    )


def read_installments(conn: Connection, loan_ids: list[str], positions: dict[str, int]) -> InstallmentColumns:
    """Installments of the given loans, sorted by (loan position, due date, seq)."""
    rows: list[Any] = []
    for start in range(0, len(loan_ids), 5_000):  # bounded IN lists
        batch = loan_ids[start : start + 5_000]
        rows += conn.execute(
            select(
                installments.c.loan_id, installments.c.period_start, installments.c.due_date,
                installments.c.principal_minor, installments.c.interest_minor, installments.c.fee_minor,
                installments.c.principal_paid_minor, installments.c.interest_paid_minor,
                installments.c.fee_paid_minor, installments.c.capitalized, installments.c.seq,
            ).where(installments.c.loan_id.in_(batch))
        ).all()
    rows.sort(key=lambda r: (positions[r[0]], r[2], r[10]))

    def col(k: int) -> NDArray[np.int64]:
        return np.array([int(r[k]) for r in rows], dtype=np.int64)

    def day_col(k: int) -> NDArray[np.int64]:
        return np.array([_day(r[k]) for r in rows], dtype=np.int64)

    return InstallmentColumns(
        loan_pos=np.array([positions[r[0]] for r in rows], dtype=np.int64), start=day_col(1), due=day_col(2),
        principal=col(3), interest=col(4), fee=col(5), principal_paid=col(6), interest_paid=col(7),
        fee_paid=col(8), capitalized=np.array([bool(r[9]) for r in rows], dtype=np.bool_),
    )


def _day(value: Any) -> int:
    return (value if isinstance(value, date) else date.fromisoformat(str(value))).toordinal()


def write_chunk(conn: Connection, chunk: EodChunk, new: LoanColumns, day: date) -> None:
    """Store EOD's output for the chunk's loans: counters, aging, status and cursor."""
    statuses = list(LoanStatus)
    now = datetime.now(UTC)
    rows = [
        {
            "b_loan_id": loan_id, "interest_accrued_minor": ia, "fee_charged_minor": fc,
            "penalty_accrued_minor": pa, "days_past_due": dpd, "bucket": BUCKETS[b], "five_tier": FIVE_TIERS[t].value,
            "status": statuses[s].value, "cur_start_day": cs, "cur_due_day": cd, "cur_interest_minor": ci,
            "cur_fee_minor": cf, "base_interest_minor": bi, "base_fee_minor": bf, "oldest_open_due_day": oo,
        }
        for loan_id, ia, fc, pa, dpd, b, t, s, cs, cd, ci, cf, bi, bf, oo in zip(
            chunk.loan_ids, new.interest_accrued.tolist(), new.fee_charged.tolist(), new.penalty_accrued.tolist(),
            new.dpd.tolist(), new.bucket.tolist(), new.five_tier.tolist(), new.status.tolist(),
            new.cur_start.tolist(), new.cur_due.tolist(), new.cur_interest.tolist(), new.cur_fee.tolist(),
            new.base_interest.tolist(), new.base_fee.tolist(), new.oldest_open_due.tolist(), strict=True,
        )
    ]
    statement = (
        update(loans)
        .where(loans.c.loan_id == bindparam("b_loan_id"))
        .values(
            {
                **{name: bindparam(name) for name in rows[0] if name != "b_loan_id"},
                "accrued_through": day, "version": loans.c.version + 1, "updated_at": now,
            }
        )
    )
    conn.execute(statement, rows)
