"""`monthly_payment_behaviour`: a 12-month payment path per booked loan, for the servicing demo.

Consistent with the outcomes: a loan with `default_12m = 1` pays (on time or a little late) until
`months_to_default`, then misses every installment, so it is 90+ days past due by month 12; a loan
without default is sometimes late but never misses an installment for good.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from lendstack.sim.columns import int_column, label_column
from lendstack.sim.draws import BEHAVIOUR_STREAM
from lendstack.sim.errors import SimArgumentError

MONTHS = 12
STATUSES = ("on_time", "late", "missed")
ON_TIME, LATE, MISSED = range(3)
DAYS_PER_MISSED_MONTH = 30
_NEEDED = ("application_id", "pd_true", "default_12m", "months_to_default")


def monthly_payment_behaviour(frame: pl.DataFrame, seed: int) -> pl.DataFrame:
    """One row per (application, month 1..12): pay_prob, a sampled status, days_late, days_past_due.

    Pass the rows of `frame` that became loans; every row gets a path.
    """
    _check(frame, seed)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(BEHAVIOUR_STREAM,)))
    n = frame.height
    pd_true = frame["pd_true"].to_numpy()
    defaulted = frame["default_12m"].to_numpy() == 1
    onset = frame["months_to_default"].fill_null(MONTHS + 1).to_numpy()
    month = np.tile(np.arange(1, MONTHS + 1), n)
    row = np.repeat(np.arange(n), MONTHS)
    after_onset = defaulted[row] & (month >= onset[row])
    # Riskier borrowers are less punctual, and stress builds in the months before a default.
    punctual = np.clip(0.99 - 0.6 * pd_true, 0.5, 0.995)[row]
    stress = np.where(defaulted[row], 1.0 - 0.3 * (month / onset[row]) ** 2, 1.0)
    pay_prob = np.where(after_onset, 0.0, punctual * stress)
    status = np.where(after_onset, MISSED, np.where(rng.random(n * MONTHS) < pay_prob, ON_TIME, LATE))
    days_late = np.clip(rng.geometric(0.15, n * MONTHS), 1, 29) * (status == LATE)
    days_past_due = np.where(after_onset, DAYS_PER_MISSED_MONTH * (month - onset[row]), 0)
    assert np.all((pay_prob >= 0) & (pay_prob <= 1)), "pay_prob must be a probability"
    return pl.DataFrame(
        [
            frame["application_id"].gather(pl.Series(row)),
            pl.Series("month", month, dtype=pl.Int64),
            pl.Series("pay_prob", np.round(pay_prob, 6), dtype=pl.Float64),
            label_column("status", status.astype(np.int64), STATUSES),
            int_column("days_late", days_late, status != MISSED),
            pl.Series("days_past_due", days_past_due, dtype=pl.Int64),
        ]
    )


def _check(frame: pl.DataFrame, seed: int) -> None:
    if not isinstance(frame, pl.DataFrame):
        raise SimArgumentError("frame", f"must be a polars DataFrame, got {type(frame).__name__}")
    missing = [name for name in _NEEDED if name not in frame.columns]
    if missing:
        raise SimArgumentError("frame", f"missing columns {missing}; pass a frame from generate_applications")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise SimArgumentError("seed", f"must be a non-negative integer, got {seed!r}")
