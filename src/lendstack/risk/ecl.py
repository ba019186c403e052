"""Expected credit loss, IFRS 9 / CAS 22 style (预期信用损失), over a loans frame.

- Stage 1: DPD <= 30 and no significant increase in credit risk (SICR): 12-month ECL.
- Stage 2: DPD 31-90, or SICR (restructured, or a PD at least `sicr_pd_ratio` × the PD at
  origination when both are known): lifetime ECL.
- Stage 3: DPD > 90 (credit-impaired): lifetime ECL with PD = 1.

ECL = PD × LGD × EAD. PD comes from a table by stage and bucket (data, with defaults: a lender
replaces it with its own model's calibrated PDs); LGD is one number (default 0.45, the Basel
foundation LGD for senior unsecured claims). EAD = principal outstanding + interest, fee and
penalty receivable, from the loans' counters (equal to the ledger's receivables per loan).

Money stays integer: PD × LGD is turned into parts per million once, and each loan's ECL is
EAD × ppm rounded half up to the minor unit, so the totals are exact sums of integers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import polars as pl

from lendstack.ledger import AccountCode, EntryKind, JournalEntry, Posting
from lendstack.monitoring.portfolio import PortfolioInputError, live, with_exposure
from lendstack.servicing.aging import BUCKETS

PPM = 1_000_000
# Illustrative defaults by bucket M0..M7+. 12-month PDs for stage 1; lifetime PDs for stage 2.
DEFAULT_PD_12M = {"M0": 0.02, "M1": 0.08, "M2": 0.25, "M3": 0.45, "M4": 1.0, "M5": 1.0, "M6": 1.0, "M7+": 1.0}
DEFAULT_PD_LIFETIME = {"M0": 0.06, "M1": 0.20, "M2": 0.40, "M3": 0.60, "M4": 1.0, "M5": 1.0, "M6": 1.0, "M7+": 1.0}
# The expense side of the provision: the chart's 6701, used as 信用减值损失 (credit impairment loss).
IMPAIRMENT_EXPENSE = AccountCode.WRITE_OFF_EXPENSE


@dataclass(frozen=True)
class EclConfig:
    pd_12m_by_bucket: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_PD_12M))
    pd_lifetime_by_bucket: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_PD_LIFETIME))
    lgd: float = 0.45
    stage2_dpd_min: int = 31
    stage3_dpd_min: int = 91
    sicr_pd_ratio: float = 2.0

    def __post_init__(self) -> None:
        for name in ("pd_12m_by_bucket", "pd_lifetime_by_bucket"):
            table = getattr(self, name)
            missing = [b for b in BUCKETS if b not in table]
            if missing:
                raise PortfolioInputError(f"ecl.{name}", f"no PD for bucket(s) {missing}")
            for bucket, pd in table.items():
                _unit_interval(f"ecl.{name}.{bucket}", pd)
        _unit_interval("ecl.lgd", self.lgd)
        if not 0 < self.stage2_dpd_min < self.stage3_dpd_min:
            raise PortfolioInputError("ecl.stage3_dpd_min", "need 0 < stage2_dpd_min < stage3_dpd_min")
        if self.sicr_pd_ratio <= 1.0:
            raise PortfolioInputError("ecl.sicr_pd_ratio", "must be > 1")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> EclConfig:
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise PortfolioInputError(f"ecl.{unknown[0]}", "unknown setting")
        return cls(**data)


def _unit_interval(field_name: str, value: float) -> None:
    if not isinstance(value, int | float) or not 0.0 <= float(value) <= 1.0:
        raise PortfolioInputError(field_name, f"must be a number in [0, 1], got {value!r}")


def stage_expr(config: EclConfig, columns: list[str]) -> pl.Expr:
    """Stage 1/2/3 per loan; SICR uses the optional pd_origination and pd_current columns."""
    dpd = pl.col("days_past_due")
    sicr = pl.col("restructure_count") > 0
    if "pd_origination" in columns and "pd_current" in columns:
        ratio_hit = pl.col("pd_current") >= pl.col("pd_origination") * config.sicr_pd_ratio
        sicr = sicr | ratio_hit.fill_null(False)
    return (pl.when(dpd >= config.stage3_dpd_min).then(3)
            .when((dpd >= config.stage2_dpd_min) | sicr).then(2)
            .otherwise(1).cast(pl.Int8))


def loan_ecl(loans: pl.DataFrame, config: EclConfig | None = None) -> pl.DataFrame:
    """Live loans with stage, pd, lgd, ead_minor and ecl_minor (one row per loan)."""
    cfg = config or EclConfig()
    book = live(with_exposure(loans)).with_columns(stage_expr(cfg, loans.columns).alias("stage"))
    pd_12m = pl.col("bucket").replace_strict(dict(cfg.pd_12m_by_bucket), return_dtype=pl.Float64)
    pd_life = pl.col("bucket").replace_strict(dict(cfg.pd_lifetime_by_bucket), return_dtype=pl.Float64)
    pd = pl.when(pl.col("stage") == 3).then(1.0).when(pl.col("stage") == 2).then(pd_life).otherwise(pd_12m)
    book = book.with_columns(pd.alias("pd"), pl.lit(cfg.lgd).alias("lgd"))
    rate_ppm = (pl.col("pd") * pl.col("lgd") * PPM).round(0).cast(pl.Int64)
    ead = pl.col("ead_minor").clip(lower_bound=0)  # an overpaid loan has no exposure
    ecl = (ead * rate_ppm + PPM // 2) // PPM
    return book.with_columns(ecl.cast(pl.Int64).alias("ecl_minor")).select(
        "loan_id", "currency", "bucket", "days_past_due", "stage", "pd", "lgd", "ead_minor", "ecl_minor")


def ecl_summary(per_loan: pl.DataFrame) -> list[dict[str, Any]]:
    """Per currency and stage: loans, EAD and ECL, with the coverage ratio ECL / EAD."""
    grouped = per_loan.group_by("currency", "stage").agg(
        pl.len().alias("loans"), pl.col("ead_minor").sum(), pl.col("ecl_minor").sum()).sort("currency", "stage")
    rows = grouped.to_dicts()
    return [{**r, "stage": int(r["stage"]), "loans": int(r["loans"]), "ead_minor": int(r["ead_minor"]),
             "ecl_minor": int(r["ecl_minor"]),
             "coverage": (r["ecl_minor"] / r["ead_minor"] if r["ead_minor"] else 0.0)} for r in rows]


def ecl_by_currency(per_loan: pl.DataFrame) -> dict[str, int]:
    grouped = per_loan.group_by("currency").agg(pl.col("ecl_minor").sum()).sort("currency")
    return {str(c): int(v) for c, v in grouped.iter_rows()}


AllowanceKey = tuple[str, str, str]  # (currency, funder_id, loan_id); loan '' = a book-level allowance


def provision_entry_id(key: AllowanceKey, as_of: date, run: int) -> str:
    """Unique per loan, date and provision run (a second run the same day posts only what moved)."""
    currency, _funder, loan_id = key
    return f"{loan_id or 'book-' + currency}/provision/{as_of.isoformat()}/{run}"


def provision_memo(charge: bool, as_of: date) -> str:
    return f"ECL provision {'charge' if charge else 'release'} 信用减值损失 as of {as_of.isoformat()}"


def provision_entries(
    targets: Mapping[AllowanceKey, int], allowances: Mapping[AllowanceKey, int], as_of: date, run: int
) -> list[JournalEntry]:
    """Entries that bring every loan's loss allowance (1304, a positive credit amount) to its target
    ECL: one per loan whose allowance moves. Up: Dr impairment 6701 / Cr 1304; down: the reverse (a
    release). A loan that is no longer live (repaid, written off) has target 0: what is left of its
    allowance, or what a recovery put back, is released. Both sides carry the loan's dimensions, so
    6701 per loan is its credit cost."""
    entries = []
    for key in sorted(set(targets) | set(allowances)):
        target, held = targets.get(key, 0), allowances.get(key, 0)
        assert target >= 0, (key, target)
        change = target - held
        if change == 0:
            continue
        currency, funder_id, loan_id = key
        postings = (Posting(IMPAIRMENT_EXPENSE, currency, change, loan_id, funder_id),
                    Posting(AccountCode.LOSS_ALLOWANCE, currency, -change, loan_id, funder_id))
        entries.append(JournalEntry(
            entry_id=provision_entry_id(key, as_of, run), kind=EntryKind.PROVISION, effective_date=as_of,
            postings=postings, loan_id=loan_id, memo=provision_memo(change > 0, as_of),
            metadata={"allowance_before_minor": str(held), "allowance_after_minor": str(target)}))
    return entries
