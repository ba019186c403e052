"""Portfolio analytics over columnar frames shaped like the `loans` and `installments` tables.

Pure functions: polars frames in, polars frames (or plain dicts) out, no I/O. The service layer
(`lendstack.services.monitoring`) reads the tables into frames; the benchmark builds the same
frames synthetically.

What is exact and what is approximate:

- Current DPD, bucket, five-tier class and outstanding amounts come straight from the loans
  table (servicing keeps them exact at the last end of day): the distributions, NPL ratio and
  concentration are exact.
- History (vintage curves, DPD at a past date, roll rates) needs the date each installment was
  paid off, which the tables do not store. `installment_paid_dates` derives it from the
  repayment cash flows (the ledger's REPAY/PREPAY credits to principal, interest and fee per
  loan, by effective date), applied oldest installment first against the *current* schedule.
  This is exact for loans repaid in due-date order with no restructure or reschedule; a
  prepayment that re-amortises the schedule, a restructure (capitalised installments) or an
  allocation order that pays a later installment's fee first makes it approximate.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import polars as pl

from lendstack.errors import LendstackError
from lendstack.servicing.aging import BUCKETS, DEFAULT_AGING, FIVE_TIER_ZH, FIVE_TIERS, AgingPolicy
from lendstack.servicing.loan import LIVE_STATUSES

LIVE = [s.value for s in LIVE_STATUSES]
NPL_TIERS = ("substandard", "doubtful", "loss")  # 次级 + 可疑 + 损失
DPD_EDGES_DAYS = (0, 30, 60, 90, 180)  # distribution bands: 0, 1-30, 31-60, 61-90, 91-180, 181+
EVER_DPD_THRESHOLDS_DAYS = (30, 90)  # "30+" means DPD > 30 (bucket M2+), "90+" DPD > 90 (M4+)
_AMOUNT_BITS = 40  # cumulative amounts per loan below 2**40 minor units (~1.1e10 in major units)

LOAN_COLUMNS = (
    "loan_id", "product_id", "currency", "funder_id", "status", "disbursed_on", "days_past_due", "bucket",
    "five_tier", "restructure_count", "principal_disbursed_minor", "principal_capitalized_minor",
    "principal_repaid_minor", "principal_written_off_minor", "interest_accrued_minor", "interest_paid_minor",
    "interest_written_off_minor", "interest_capitalized_minor", "fee_charged_minor", "fee_paid_minor",
    "fee_written_off_minor", "fee_capitalized_minor", "penalty_accrued_minor", "penalty_paid_minor",
    "penalty_written_off_minor", "penalty_capitalized_minor",
)
INSTALLMENT_COLUMNS = ("loan_id", "seq", "due_date", "principal_minor", "interest_minor", "fee_minor", "capitalized")
PAYMENT_COLUMNS = ("loan_id", "paid_on", "amount_minor")


class PortfolioInputError(LendstackError):
    """A user error naming the field (see lendstack.errors)."""


def require_columns(frame: pl.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise PortfolioInputError(f"{what}.{missing[0]}", f"missing column(s) {missing}")


def with_exposure(loans: pl.DataFrame) -> pl.DataFrame:
    """Add principal_outstanding_minor, receivable_minor (what the balance sheet carries of interest,
    fee and penalty) and ead_minor (the exposure on the balance sheet).

    The optional columns non_accrual and unearned_minor (the loans table has them) make the exposure
    the on-balance one: a loan in non-accrual carries its unpaid interest and penalty on memo
    accounts, not as receivables; unearned capitalised interest is netted from its principal. A
    frame without them is read as all accruing, nothing unearned."""
    require_columns(loans, LOAN_COLUMNS, "loans")
    c = pl.col
    principal = (c("principal_disbursed_minor") + c("principal_capitalized_minor")
                 - c("principal_repaid_minor") - c("principal_written_off_minor"))

    def owed(part: str, accrued: str) -> pl.Expr:
        return c(accrued) - c(f"{part}_paid_minor") - c(f"{part}_written_off_minor") - c(f"{part}_capitalized_minor")

    memo = c("non_accrual").cast(pl.Boolean) if "non_accrual" in loans.columns else pl.lit(False)
    interest_penalty = owed("interest", "interest_accrued_minor") + owed("penalty", "penalty_accrued_minor")
    receivable = owed("fee", "fee_charged_minor") + pl.when(memo).then(0).otherwise(interest_penalty)
    unearned = c("unearned_minor") if "unearned_minor" in loans.columns else pl.lit(0, pl.Int64)
    return loans.with_columns(
        principal.cast(pl.Int64).alias("principal_outstanding_minor"),
        receivable.cast(pl.Int64).alias("receivable_minor"),
        unearned.cast(pl.Int64).alias("unearned_exposure_minor"),
    ).with_columns(
        (c("principal_outstanding_minor") - c("unearned_exposure_minor") + c("receivable_minor")).alias("ead_minor")
    ).drop("unearned_exposure_minor")


def live(loans: pl.DataFrame) -> pl.DataFrame:
    return loans.filter(pl.col("status").is_in(LIVE))


def dpd_distribution(loans: pl.DataFrame, edges_days: tuple[int, ...] = DPD_EDGES_DAYS) -> list[dict[str, Any]]:
    """Live loans by DPD band per currency: count and outstanding principal."""
    book = live(with_exposure(loans))
    labels = [_band_label(edges_days, i) for i in range(len(edges_days) + 1)]
    band: pl.Expr = pl.lit(labels[-1])
    for edge, label in reversed(list(zip(edges_days, labels, strict=False))):
        band = pl.when(pl.col("days_past_due") <= edge).then(pl.lit(label)).otherwise(band)
    return _distribution(book.with_columns(band.alias("name")), labels)


def bucket_distribution(loans: pl.DataFrame) -> list[dict[str, Any]]:
    return _distribution(live(with_exposure(loans)).with_columns(pl.col("bucket").alias("name")), list(BUCKETS))


def five_tier_distribution(loans: pl.DataFrame) -> list[dict[str, Any]]:
    rows = _distribution(live(with_exposure(loans)).with_columns(pl.col("five_tier").alias("name")),
                         [t.value for t in FIVE_TIERS])
    names_zh = {t.value: zh for t, zh in FIVE_TIER_ZH.items()}
    return [{**row, "name_zh": names_zh[row["name"]]} for row in rows]


def npl_ratio(loans: pl.DataFrame) -> dict[str, float]:
    """Per currency: outstanding principal of 次级 + 可疑 + 损失 / all live outstanding principal."""
    book = live(with_exposure(loans))
    out = book.group_by("currency").agg(
        pl.col("principal_outstanding_minor").filter(pl.col("five_tier").is_in(NPL_TIERS)).sum().alias("bad"),
        pl.col("principal_outstanding_minor").sum().alias("total"),
    ).sort("currency")
    return {r["currency"]: (r["bad"] / r["total"] if r["total"] else 0.0) for r in out.iter_rows(named=True)}


def charge_offs(loans: pl.DataFrame) -> dict[str, dict[str, int]]:
    """Per currency: principal charged off (核销本金), the whole claim written off (principal, interest,
    fee, penalty), recovered since (核销后收回) and the net charge-off = principal charged off −
    recovered. A frame without recovered_minor is read as nothing recovered."""
    require_columns(loans, LOAN_COLUMNS, "loans")
    c = pl.col
    recovered = c("recovered_minor") if "recovered_minor" in loans.columns else pl.lit(0, pl.Int64)
    claim = (c("principal_written_off_minor") + c("interest_written_off_minor") + c("fee_written_off_minor")
             + c("penalty_written_off_minor"))
    out = loans.group_by("currency").agg(
        c("principal_written_off_minor").sum().alias("charged_off"), claim.sum().alias("claim"),
        recovered.sum().alias("recovered")).sort("currency")
    return {str(r["currency"]): {"charged_off_minor": int(r["charged_off"]), "claim_written_off_minor": int(r["claim"]),
                                 "recovered_minor": int(r["recovered"]),
                                 "net_charge_off_minor": int(r["charged_off"]) - int(r["recovered"])}
            for r in out.iter_rows(named=True)}


def concentration(loans: pl.DataFrame, by: str) -> list[dict[str, Any]]:
    """Share of live outstanding principal per value of `by` within each currency, with the
    Herfindahl-Hirschman index (Σ share², 1 = everything in one name) repeated on each row."""
    if by not in loans.columns:
        raise PortfolioInputError(f"loans.{by}", "no such column to measure concentration by")
    book = live(with_exposure(loans))
    grouped = book.group_by("currency", by).agg(
        pl.len().alias("loans"), pl.col("principal_outstanding_minor").sum().alias("principal_minor"))
    shares = grouped.with_columns(
        (pl.col("principal_minor") / pl.col("principal_minor").sum().over("currency")).fill_nan(0.0).alias("share"))
    shares = shares.with_columns((pl.col("share") ** 2).sum().over("currency").alias("hhi"))
    return shares.rename({by: "name"}).sort("currency", "principal_minor", descending=[False, True]).to_dicts()


def installment_paid_dates(installments: pl.DataFrame, payments: pl.DataFrame) -> pl.DataFrame:
    """Each installment with `paid_on`: the first payment date by which the loan's cumulative
    payments covered it and every earlier installment (null: not yet covered). Oldest first,
    as servicing allocates; see the module docstring for when this is approximate."""
    require_columns(installments, INSTALLMENT_COLUMNS, "installments")
    require_columns(payments, PAYMENT_COLUMNS, "payments")
    due = (
        installments.filter(~pl.col("capitalized"))  # capitalised parts moved into principal
        .sort("loan_id", "due_date", "seq")
        .with_columns((pl.col("principal_minor") + pl.col("interest_minor") + pl.col("fee_minor"))
                      .cum_sum().over("loan_id").alias("cum_due_minor"))
    )
    paid = (
        # Several payments on one day need no grouping: the first row reaching an amount has the same date.
        payments.sort("loan_id", "paid_on")
        .with_columns(pl.col("amount_minor").cum_sum().over("loan_id").alias("cum_paid_minor"))
    )
    return _first_covering_payment(due, paid)  # keeps the (loan, due date, seq) order of `due`


def _first_covering_payment(due: pl.DataFrame, paid: pl.DataFrame) -> pl.DataFrame:
    """For each installment row the first payment row of the same loan whose cumulative amount
    reaches the installment's: a binary search on one int64 key, loan rank × 2**40 + cumulative
    amount. Both frames arrive sorted by loan, then by the cumulative amount, so the keys are
    sorted too; a polars join_asof grouped by a string id is ~10x slower at a million loans."""
    ranks = pl.concat([due.select("loan_id"), paid.select("loan_id")]).unique().sort("loan_id").with_row_index("rank")
    left = due.join(ranks, on="loan_id", how="left", maintain_order="left")
    right = paid.join(ranks, on="loan_id", how="left", maintain_order="left")
    scale = 2**_AMOUNT_BITS
    assert ranks.height < 2 ** (62 - _AMOUNT_BITS), "too many loans for one call: split the book"
    largest = max(left.select(pl.col("cum_due_minor").max()).item() or 0,
                  right.select(pl.col("cum_paid_minor").max()).item() or 0)
    assert largest < scale, f"cumulative amount {largest} too large for the search key"
    left_rank = left["rank"].to_numpy().astype(np.int64)
    right_rank = right["rank"].to_numpy().astype(np.int64)
    if right.height == 0:
        return left.drop("rank").with_columns(pl.lit(None, pl.Date).alias("paid_on"))
    right_key = right_rank * scale + right["cum_paid_minor"].to_numpy()
    found = np.searchsorted(right_key, left_rank * scale + left["cum_due_minor"].to_numpy(), side="left")
    clipped = np.minimum(found, right.height - 1)
    same_loan = (found < right.height) & (right_rank[clipped] == left_rank)
    paid_on = right["paid_on"].gather(pl.Series(clipped))
    return left.drop("rank").with_columns(
        pl.when(pl.Series(same_loan)).then(paid_on).otherwise(None).cast(pl.Date).alias("paid_on"))


def dpd_at(paid_dates: pl.DataFrame, on: date) -> pl.DataFrame:
    """DPD per loan on a past date: days since the oldest installment due before `on` and not
    covered by then (servicing's definition: due date D is 1 DPD on D+1). Loans with nothing
    overdue on `on` get 0; loans with no installment in `paid_dates` are absent."""
    overdue = (pl.col("due_date") < on) & (pl.col("paid_on").is_null() | (pl.col("paid_on") > on))
    oldest = pl.col("due_date").filter(overdue).min()
    return paid_dates.group_by("loan_id").agg(oldest.alias("oldest_open_due")).with_columns(
        pl.when(pl.col("oldest_open_due").is_null()).then(0)
        .otherwise((pl.lit(on) - pl.col("oldest_open_due")).dt.total_days())
        .cast(pl.Int64).alias("days_past_due")
    ).drop("oldest_open_due")


def roll_rates(
    paid_dates: pl.DataFrame, loans: pl.DataFrame, start: date, end: date, aging: AgingPolicy = DEFAULT_AGING,
) -> dict[str, Any]:
    """Transition matrix between buckets from `start` to `end`: rows are the bucket on `start`
    (loans disbursed and still open then), columns the bucket on `end`, plus `closed` (paid off or written
    off by `end`). Counts and row shares."""
    assert start < end, (start, end)
    base = loans.filter(pl.col("disbursed_on").is_not_null() & (pl.col("disbursed_on") <= start))
    open_at_start = _gone_by(paid_dates, loans, start).filter(~pl.col("gone")).select("loan_id")
    before = dpd_at(paid_dates, start).join(base.select("loan_id"), on="loan_id").join(open_at_start, on="loan_id")
    after = dpd_at(paid_dates, end).rename({"days_past_due": "dpd_end"})
    pair = before.join(after, on="loan_id", how="left").join(_gone_by(paid_dates, loans, end), on="loan_id",
                                                             how="left")
    labels = [*BUCKETS, "closed"]
    row = aging.bucket_index_array(pair["days_past_due"].to_numpy().astype(np.int64))
    col = aging.bucket_index_array(pair["dpd_end"].fill_null(0).to_numpy().astype(np.int64))
    col = np.where(pair["gone"].fill_null(False).to_numpy(), len(BUCKETS), col)
    cells = np.bincount(row * len(labels) + col, minlength=len(BUCKETS) * len(labels))
    counts = cells.reshape(len(BUCKETS), len(labels)).tolist()
    shares = [[n / sum(r) if sum(r) else 0.0 for n in r] for r in counts]
    return {"start": start.isoformat(), "end": end.isoformat(), "from": list(BUCKETS), "to": labels,
            "counts": counts, "shares": shares}


def _gone_by(paid_dates: pl.DataFrame, loans: pl.DataFrame, end: date) -> pl.DataFrame:
    """Loans closed by `end`: every installment covered by then, or written off (the written-off
    status has no date in the table, so a written-off loan counts as gone at any later date:
    approximate for matrices that end before the write-off)."""
    covered = paid_dates.group_by("loan_id").agg(
        (pl.col("paid_on").is_not_null() & (pl.col("paid_on") <= end)).all().alias("covered"))
    written_off = loans.select("loan_id", (pl.col("status") == "written_off").alias("written_off"))
    return covered.join(written_off, on="loan_id", how="left").select(
        "loan_id", (pl.col("covered") | pl.col("written_off").fill_null(False)).alias("gone"))


def vintage_curves(
    paid_dates: pl.DataFrame, loans: pl.DataFrame, as_of: date,
    thresholds_days: tuple[int, ...] = EVER_DPD_THRESHOLDS_DAYS,
) -> list[dict[str, Any]]:
    """Per disbursement month and months on book (MOB 1, 2, ...): the share of loans (and of
    disbursed principal) that were ever more than 30 / 90 DPD by that MOB. Only MOBs fully
    observed by `as_of` are reported. A loan first crosses DPD > t on the day
    due + t + 1 of the earliest installment not covered by then; that date is exact given the
    payment dates (see the module docstring)."""
    base = loans.filter(pl.col("disbursed_on").is_not_null() & (pl.col("disbursed_on") <= as_of)).select(
        "loan_id", "disbursed_on", "principal_disbursed_minor",
        pl.col("disbursed_on").dt.truncate("1mo").dt.strftime("%Y-%m").alias("vintage"))
    firsts = [_first_crossing(paid_dates, t) for t in thresholds_days]
    frame = base
    for t, first in zip(thresholds_days, firsts, strict=True):
        frame = frame.join(first, on="loan_id", how="left").with_columns(
            _months_between(pl.col("disbursed_on"), pl.col(f"first_dpd{t}")).alias(f"mob_dpd{t}"))
    frame = frame.with_columns(_months_between(pl.col("disbursed_on"), pl.lit(as_of)).alias("mob_observed"))
    return _curve_rows(frame, thresholds_days)


def ever_past_due(paid_dates: pl.DataFrame, threshold_days: int, as_of: date) -> pl.DataFrame:
    """Loans (column loan_id) more than `threshold_days` past due on some day up to `as_of`, cured
    since or not: the usual "ever 90+" bad definition of a performance window."""
    assert threshold_days >= 0, threshold_days
    name = f"first_dpd{threshold_days}"
    return _first_crossing(paid_dates, threshold_days).filter(pl.col(name) <= as_of).select("loan_id")


def _first_crossing(paid_dates: pl.DataFrame, threshold_days: int) -> pl.DataFrame:
    crossing = pl.col("due_date") + pl.duration(days=threshold_days + 1)
    late = pl.col("paid_on").is_null() | (pl.col("paid_on") > crossing)  # paid that day: never closed 31+
    return paid_dates.filter(late).group_by("loan_id").agg(crossing.min().alias(f"first_dpd{threshold_days}"))


def _months_between(start: pl.Expr, end: pl.Expr) -> pl.Expr:
    """Whole months from start to end, counting a partial month as reached (MOB 1 = first month)."""
    months = (end.dt.year() - start.dt.year()) * 12 + end.dt.month() - start.dt.month()
    return months.cast(pl.Int64) + (end.dt.day() > start.dt.day()).cast(pl.Int64)


def _curve_rows(frame: pl.DataFrame, thresholds_days: tuple[int, ...]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for (vintage,), group in sorted(frame.group_by("vintage"), key=lambda kv: str(kv[0][0])):
        max_mob = int(group.select(pl.col("mob_observed").min()).item() or 0)  # reached by every loan
        for mob in range(1, max_mob + 1):
            row: dict[str, Any] = {"vintage": vintage, "mob": mob, "loans": group.height}
            for t in thresholds_days:
                hit = group.filter(pl.col(f"mob_dpd{t}").is_not_null() & (pl.col(f"mob_dpd{t}") <= mob))
                row[f"ever_dpd{t}_share"] = hit.height / group.height
                total = int(group["principal_disbursed_minor"].sum())
                row[f"ever_dpd{t}_balance_share"] = (int(hit["principal_disbursed_minor"].sum()) / total
                                                     if total else 0.0)
            rows.append(row)
    return rows


def _band_label(edges_days: tuple[int, ...], index: int) -> str:
    if index == 0:
        return f"{edges_days[0]}"
    low = edges_days[index - 1] + 1
    return f"{low}+" if index == len(edges_days) else f"{low}-{edges_days[index]}"


def _distribution(book: pl.DataFrame, order: list[str]) -> list[dict[str, Any]]:
    grouped = book.group_by("currency", "name").agg(
        pl.len().alias("loans"), pl.col("principal_outstanding_minor").sum().alias("principal_minor"))
    grouped = grouped.with_columns(
        (pl.col("principal_minor") / pl.col("principal_minor").sum().over("currency")).fill_nan(0.0).alias("share"))
    rows = grouped.to_dicts()
    rows.sort(key=lambda r: (r["currency"], order.index(r["name"])))
    return [{**r, "loans": int(r["loans"]), "principal_minor": int(r["principal_minor"])} for r in rows]
