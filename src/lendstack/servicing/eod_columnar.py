"""End of day over the whole book, columnar: NumPy arrays in, arrays out, no Python loop over
loans. It gives the same numbers as `eod_one` (the reference) to the minor unit.

A loan row carries a small cursor so that the common day needs no installment at all: the
running period (start, due date, interest, fee), the interest and fees of the periods before it,
and the due date of the oldest open installment. Only loans that cross a due date or are overdue
beyond grace need their installments (`needs_detail`). Rare days go through the reference path
(`needs_reference`): money in suspense meets something due, a loan enters or leaves non-accrual,
or a restructured loan's observation restarts or ends. A loan in non-accrual and a loan under
observation are otherwise closed here like any other: the postings of a non-accrual row go to the
memo accounts, and the class of an observed row is never better than its floor.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import date, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray

from lendstack.events import DomainEvent
from lendstack.invariants import InvariantError, check
from lendstack.ledger import EntryKind
from lendstack.money import RoundingMode
from lendstack.money.rates import RATE_PPM
from lendstack.servicing.aging import (
    BUCKETS,
    DEFAULT_AGING,
    FIVE_TIERS,
    PERFORMING_TIER_INDEX_MAX,
    AgingPolicy,
    tier_index,
)
from lendstack.servicing.eod import eod_entry_id, eod_one
from lendstack.servicing.income import fee_pairs, interest_pairs, penalty_pairs
from lendstack.servicing.loan import Loan, LoanStatus
from lendstack.servicing.outcome import Outcome, entry, event

I64 = NDArray[np.int64]
BOOL = NDArray[np.bool_]
NO_DATE = np.int64(10**7)  # an ordinal far after any due date: "no open installment"
ROUNDING_CODES = {mode: code for code, mode in enumerate(RoundingMode)}
STATUS_CODES = {status: code for code, status in enumerate(LoanStatus)}
ACTIVE, OVERDUE = STATUS_CODES[LoanStatus.ACTIVE], STATUS_CODES[LoanStatus.OVERDUE]
BOOL_COLUMNS = ("penalty_on_interest", "non_accrual", "obs_missed")


def div_round_array(num: I64, den: I64, mode: I64) -> I64:
    """Element-wise exact num // den rounded per row's mode; the int64 twin of money.div_round."""
    q, r = np.divmod(num, den)
    twice = 2 * r
    up = ROUNDING_CODES[RoundingMode.UP]
    half_up = ROUNDING_CODES[RoundingMode.HALF_UP]
    half_even = ROUNDING_CODES[RoundingMode.HALF_EVEN]
    bump = (r > 0) & (
        (mode == up)
        | ((mode == half_up) & (twice >= den))
        | ((mode == half_even) & ((twice > den) | ((twice == den) & (q % 2 == 1))))
    )
    out: I64 = q + bump.astype(np.int64)
    return out


@dataclass(frozen=True)
class LoanColumns:
    """One row per live loan. Dates are proleptic ordinals (date.toordinal())."""

    status: I64
    accrued_through: I64
    grace_days: I64
    penalty_ppm: I64
    penalty_on_interest: BOOL
    year_days: I64
    rounding: I64
    interest_accrued: I64
    fee_charged: I64
    penalty_accrued: I64
    penalty_receivable: I64
    suspense: I64
    cur_start: I64
    cur_due: I64
    cur_interest: I64
    cur_fee: I64
    base_interest: I64  # interest of every installment before the running one
    base_fee: I64
    oldest_open_due: I64
    dpd: I64
    bucket: I64
    five_tier: I64
    non_accrual: BOOL
    obs_floor: I64  # index into FIVE_TIERS; 0 (正常) when not under observation
    obs_end: I64  # ordinal of the observation's end, NO_DATE when not under observation
    obs_missed: BOOL

    def __len__(self) -> int:
        return len(self.status)

    def take(self, idx: I64 | BOOL) -> LoanColumns:
        return LoanColumns(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})


@dataclass(frozen=True)
class InstallmentColumns:
    """Installment rows of some loans, sorted by (loan_pos, due date)."""

    loan_pos: I64  # index into LoanColumns
    start: I64
    due: I64
    principal: I64
    interest: I64
    fee: I64
    principal_paid: I64
    interest_paid: I64
    fee_paid: I64
    capitalized: BOOL

    def __len__(self) -> int:
        return len(self.loan_pos)

    def take(self, idx: I64 | BOOL) -> InstallmentColumns:
        return InstallmentColumns(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})


@dataclass(frozen=True)
class EodDeltas:
    """What the day posts per loan: the journal entry amounts."""

    interest: I64
    fee: I64
    penalty: I64


# --- selecting work ------------------------------------------------------------------------------


def needs_reference(cols: LoanColumns, day: int, aging: AgingPolicy = DEFAULT_AGING) -> BOOL:
    """The rare days the reference path closes: suspense money meets a due amount (allocation), a
    switch into or out of non-accrual, a restructured loan's observation restarting (cured after
    arrears) or ending. DPD and the class today are known before the day is closed: nothing but
    suspense (already routed here) can pay an installment during end of day."""
    suspense = (cols.suspense > 0) & (cols.oldest_open_due <= day)
    dpd = expected_dpd(cols, day)
    observing = cols.obs_end != NO_DATE
    restart = observing & cols.obs_missed & (dpd == 0)
    lift = observing & ~cols.obs_missed & (dpd == 0) & (day >= cols.obs_end)
    floor = observed_floor(cols, dpd, aging)
    tier = np.maximum(aging.five_tier_index_array(dpd), np.where(observing, floor, 0))
    enter = ~cols.non_accrual & (dpd > aging.non_accrual_dpd)
    resume = cols.non_accrual & (dpd <= aging.accrual_resume_dpd) & (tier <= PERFORMING_TIER_INDEX_MAX)
    out: BOOL = suspense | restart | lift | enter | resume
    return out


def expected_dpd(cols: LoanColumns, day: int) -> I64:
    """DPD at the end of `day` from the cursor (the oldest open due date)."""
    out: I64 = np.where(cols.oldest_open_due < day, day - cols.oldest_open_due, 0)
    return out


def observed_floor(cols: LoanColumns, dpd: I64, aging: AgingPolicy) -> I64:
    """The class floor after today's arrears: raised to the arrears tier on a first day in arrears."""
    arrears = (cols.obs_end != NO_DATE) & (dpd > 0)
    out: I64 = np.where(arrears, np.maximum(cols.obs_floor, tier_index(aging.restructure_arrears_tier)),
                        cols.obs_floor)
    return out


def needs_detail(cols: LoanColumns, day: int) -> BOOL:
    """Loans whose installments EOD must read: the cursor moves, or something is past grace."""
    return (day > cols.cur_due) | (day - cols.oldest_open_due > cols.grace_days)


# --- the day -----------------------------------------------------------------------------------


def eod_columnar(
    cols: LoanColumns, inst: InstallmentColumns, day: date, aging: AgingPolicy = DEFAULT_AGING
) -> tuple[LoanColumns, EodDeltas]:
    """Close `day` for every loan in `cols` (all live, all closed through day - 1, none needing
    the reference path). `inst` holds the installments of at least the `needs_detail` loans."""
    d = day.toordinal()
    check(bool(np.all(cols.accrued_through == d - 1)), "every loan must be closed through the day before")
    check(not np.any(needs_reference(cols, d, aging)), "no loan needs the one-loan reference path")
    check(bool(np.all((cols.status == ACTIVE) | (cols.status == OVERDUE))), "only live loans")
    detail = needs_detail(cols, d)
    cols, penalty_base = refresh_from_installments(cols, inst, detail, d)
    interest_target = cols.base_interest + running_interest(cols, d)
    fee_target = cols.base_fee + np.where(d >= cols.cur_due, cols.cur_fee, 0)
    interest_delta = interest_target - cols.interest_accrued
    fee_delta = fee_target - cols.fee_charged
    check(bool(np.all(interest_delta >= 0) and np.all(fee_delta >= 0)), "accruals are not negative")
    penalty = div_round_array(penalty_base * cols.penalty_ppm, cols.year_days * RATE_PPM, cols.rounding)
    dpd = expected_dpd(cols, d)
    observing = cols.obs_end != NO_DATE
    floor = observed_floor(cols, dpd, aging)
    new = replace(
        cols,
        accrued_through=np.full(len(cols), d, dtype=np.int64),
        interest_accrued=interest_target,
        fee_charged=fee_target,
        penalty_accrued=cols.penalty_accrued + penalty,
        penalty_receivable=cols.penalty_receivable + penalty,
        dpd=dpd,
        bucket=aging.bucket_index_array(dpd),
        five_tier=np.maximum(aging.five_tier_index_array(dpd), np.where(observing, floor, 0)),
        status=np.where(dpd > 0, OVERDUE, ACTIVE).astype(np.int64),
        obs_floor=floor,
        obs_missed=cols.obs_missed | (observing & (dpd > 0)),
    )
    return new, EodDeltas(interest_delta, fee_delta, penalty)


def running_interest(cols: LoanColumns, d: int) -> I64:
    """Rounded pro-rata interest of the running period by the end of day d."""
    length = np.maximum(cols.cur_due - cols.cur_start, 1)
    elapsed = np.clip(d - cols.cur_start, 0, length)
    partial = div_round_array(cols.cur_interest * elapsed, length, cols.rounding)
    return np.where(d >= cols.cur_due, cols.cur_interest, partial)


def refresh_from_installments(
    cols: LoanColumns, inst: InstallmentColumns, detail: BOOL, d: int
) -> tuple[LoanColumns, I64]:
    """Recompute the cursor, the oldest open due date and the penalty base of the detail loans."""
    penalty_base = np.zeros(len(cols), dtype=np.int64)
    if not detail.any():
        return cols, penalty_base
    rows = inst.take(detail[inst.loan_pos])
    n = len(cols)
    pos = rows.loan_pos
    before = rows.due < d
    base_interest = group_sum(pos, np.where(before, rows.interest, 0), n)
    base_fee = group_sum(pos, np.where(before, rows.fee, 0), n)
    cur_row = first_row_per_group(pos, ~before, n)  # -1 where the loan is past maturity
    open_ = ~rows.capitalized & (
        (rows.principal > rows.principal_paid) | (rows.interest > rows.interest_paid) | (rows.fee > rows.fee_paid)
    )
    oldest = np.full(n, NO_DATE, dtype=np.int64)
    np.minimum.at(oldest, pos[open_], rows.due[open_])
    late = ~rows.capitalized & (d - rows.due > cols.grace_days[pos])
    unpaid = rows.principal - rows.principal_paid
    unpaid = unpaid + np.where(cols.penalty_on_interest[pos], rows.interest - rows.interest_paid, 0)
    penalty_base = group_sum(pos, np.where(late, unpaid, 0), n)
    has_cur = cur_row >= 0
    safe = np.where(has_cur, cur_row, 0)
    last_due = group_max(pos, rows.due, n)

    def pick(old: I64, from_rows: I64, past_maturity: Any) -> I64:
        fresh = np.where(has_cur, from_rows[safe] if len(from_rows) else 0, past_maturity)
        return np.where(detail, fresh, old)

    cur_due = pick(cols.cur_due, rows.due, last_due)
    # A prepayment on a due date adds a zero-length installment due the same day: every fee
    # falling due on the running due date belongs to the cursor (zero-length ones carry no interest).
    same_day_fee = group_sum(pos, np.where(~before & (rows.due == cur_due[pos]), rows.fee, 0), n)
    new = replace(
        cols,
        base_interest=np.where(detail, base_interest, cols.base_interest),
        base_fee=np.where(detail, base_fee, cols.base_fee),
        cur_start=pick(cols.cur_start, rows.start, last_due),
        cur_due=cur_due,
        cur_interest=pick(cols.cur_interest, rows.interest, 0),
        cur_fee=np.where(detail & has_cur, same_day_fee, np.where(detail, 0, cols.cur_fee)),
        oldest_open_due=np.where(detail, oldest, cols.oldest_open_due),
    )
    return new, np.where(detail, penalty_base, 0)


def group_sum(pos: I64, values: I64, n: int) -> I64:
    out = np.zeros(n, dtype=np.int64)
    np.add.at(out, pos, values.astype(np.int64))  # exact in int64; bincount would go through float
    return out


def group_max(pos: I64, values: I64, n: int) -> I64:
    out = np.zeros(n, dtype=np.int64)
    np.maximum.at(out, pos, values)
    return out


def first_row_per_group(pos: I64, mask: BOOL, n: int) -> I64:
    """Index of the first row with mask set in each group (rows sorted by group), else -1."""
    out = np.full(n, -1, dtype=np.int64)
    idx = np.flatnonzero(mask)
    groups, first = np.unique(pos[idx], return_index=True)
    out[groups] = idx[first]
    return out


# --- conversions between loans and columns (tests, the store's save path) -----------------------


def cursor_of(loan: Loan, day: date) -> dict[str, int]:
    """The cursor of a loan for EOD of `day` or later: the same quantities refresh computes."""
    d = day.toordinal()
    insts = loan.installments
    running = next((i for i in insts if i.due_date.toordinal() >= d), None)
    before = [i for i in insts if i.due_date.toordinal() < d]
    last_due = max((i.due_date.toordinal() for i in insts), default=d)
    oldest = min((i.due_date.toordinal() for i in insts if i.is_open), default=int(NO_DATE))
    if running is not None:
        same_day = [i for i in insts if i.due_date == running.due_date and i is not running]
        check(all(i.interest_minor == 0 and i.period_start == i.due_date for i in same_day), loan.loan_id)
    return {
        "base_interest": sum(i.interest_minor for i in before),
        "base_fee": sum(i.fee_minor for i in before),
        "cur_start": running.period_start.toordinal() if running else last_due,
        "cur_due": running.due_date.toordinal() if running else last_due,
        "cur_interest": running.interest_minor if running else 0,
        "cur_fee": sum(i.fee_minor for i in insts if running and i.due_date == running.due_date),
        "oldest_open_due": oldest,
    }


def loan_row(loan: Loan) -> dict[str, int]:
    """One loan as a LoanColumns row (ints), cursor positioned for its next EOD day."""
    if loan.accrued_through is None or not loan.is_live:
        raise InvariantError("a live loan accrued through a date")
    t = loan.terms
    return {
        "status": STATUS_CODES[loan.status],
        "accrued_through": loan.accrued_through.toordinal(),
        "grace_days": t.grace_days,
        "penalty_ppm": t.penalty_rate_ppm,
        "penalty_on_interest": int(t.penalty_on_interest),
        "year_days": t.day_count.year_days,
        "rounding": ROUNDING_CODES[t.rounding],
        "interest_accrued": loan.interest_accrued_minor,
        "fee_charged": loan.fee_charged_minor,
        "penalty_accrued": loan.penalty_accrued_minor,
        "penalty_receivable": loan.penalty_receivable_minor,
        "suspense": loan.suspense_minor,
        "dpd": loan.days_past_due,
        "bucket": BUCKETS.index(loan.bucket),
        "five_tier": FIVE_TIERS.index(loan.five_tier),
        "non_accrual": int(loan.non_accrual),
        "obs_floor": FIVE_TIERS.index(loan.observation_floor),
        "obs_end": loan.observation_end.toordinal() if loan.observation_end else int(NO_DATE),
        "obs_missed": int(loan.observation_missed),
        **cursor_of(loan, loan.accrued_through.fromordinal(loan.accrued_through.toordinal() + 1)),
    }


def columns_of(rows: list[dict[str, int]]) -> LoanColumns:
    names = [f.name for f in fields(LoanColumns)]
    data: dict[str, Any] = {n: np.array([r[n] for r in rows], dtype=np.int64) for n in names}
    for name in BOOL_COLUMNS:
        data[name] = data[name].astype(np.bool_)
    return LoanColumns(**data)


def installment_columns_of(loans: list[Loan]) -> InstallmentColumns:
    rows = [(pos, i) for pos, loan in enumerate(loans) for i in loan.installments]
    rows.sort(key=lambda r: (r[0], r[1].due_date, r[1].seq))

    def col(get: Any) -> I64:
        return np.array([get(p, i) for p, i in rows], dtype=np.int64)

    return InstallmentColumns(
        loan_pos=col(lambda p, i: p),
        start=col(lambda p, i: i.period_start.toordinal()),
        due=col(lambda p, i: i.due_date.toordinal()),
        principal=col(lambda p, i: i.principal_minor),
        interest=col(lambda p, i: i.interest_minor),
        fee=col(lambda p, i: i.fee_minor),
        principal_paid=col(lambda p, i: i.principal_paid_minor),
        interest_paid=col(lambda p, i: i.interest_paid_minor),
        fee_paid=col(lambda p, i: i.fee_paid_minor),
        capitalized=np.array([i.capitalized for _, i in rows], dtype=np.bool_),
    )


def apply_to_loan(loan: Loan, cols: LoanColumns, k: int) -> Loan:
    """Write row k of EOD's output back onto the loan value (the store does this in SQL)."""
    dpd = int(cols.dpd[k])
    return loan.evolve(
        accrued_through=date.fromordinal(int(cols.accrued_through[k])),
        interest_accrued_minor=int(cols.interest_accrued[k]),
        fee_charged_minor=int(cols.fee_charged[k]),
        penalty_accrued_minor=int(cols.penalty_accrued[k]),
        days_past_due=dpd,
        bucket=BUCKETS[int(cols.bucket[k])],
        five_tier=FIVE_TIERS[int(cols.five_tier[k])],
        status=list(LoanStatus)[int(cols.status[k])],
        observation_floor=FIVE_TIERS[int(cols.obs_floor[k])],
        observation_missed=bool(cols.obs_missed[k]),
    )


# --- a whole book in memory: the columnar path end to end (tests; small books) ------------------


def eod_book(loans: list[Loan], day: date, aging: AgingPolicy = DEFAULT_AGING) -> list[Outcome]:
    """EOD for every loan due for `day`, columnar, with outcomes shaped like `eod_one`'s."""
    d = day.toordinal()
    due = [k for k, loan in enumerate(loans) if loan.is_live and loan.accrued_through == day - timedelta(days=1)]
    outcomes = [Outcome(loan) for loan in loans]
    if not due:
        return outcomes
    cols = columns_of([loan_row(loans[k]) for k in due])
    by_reference = needs_reference(cols, d, aging)
    for i in np.flatnonzero(by_reference).tolist():
        outcomes[due[i]] = eod_one(loans[due[i]], day, aging)
    rest = [due[int(j)] for j in np.flatnonzero(~by_reference)]
    cols = cols.take(~by_reference)
    detail = needs_detail(cols, d)
    detail_loans = [loans[k] if detail[j] else replace(loans[k], installments=()) for j, k in enumerate(rest)]
    new_cols, deltas = eod_columnar(cols, installment_columns_of(detail_loans), day, aging)
    for row, k in enumerate(rest):
        outcomes[k] = outcome_of_row(loans[k], new_cols, deltas, row, day)
    return outcomes


def outcome_of_row(loan: Loan, cols: LoanColumns, deltas: EodDeltas, j: int, day: date) -> Outcome:
    new = apply_to_loan(loan, cols, j)
    i, f, p = int(deltas.interest[j]), int(deltas.fee[j]), int(deltas.penalty[j])
    pairs = interest_pairs(loan, i) + fee_pairs(f) + penalty_pairs(loan, p)
    entries = entry(new, eod_entry_id(loan.loan_id, day), EntryKind.EOD, day, pairs)
    events: tuple[DomainEvent, ...] = ()
    if new.status is LoanStatus.OVERDUE and loan.status is LoanStatus.ACTIVE:
        events = (event(new, f"{loan.loan_id}/overdue/{day.isoformat()}", "loan.overdue", day),)
    return Outcome(new, entries, events)
