"""Macro stress tests (宏观压力测试) over the book: scenarios as data, projected 12 months ahead.

Pure functions: a loans frame (shaped like the `loans` table, optionally with `segment`,
`collateral`, `pd_origination` and `lgd` columns) and a frame of scheduled principal per loan and
month in, plain dicts out. The service layer (`lendstack.services.stress`) reads the tables.

How a scenario reaches the book (the sensitivities are data, see `scenarios/default.yaml`):

- PD. Each performing loan (DPD <= 90) starts from its annual 12-month PD by bucket (the ECL
  tables, so the baseline uses the same PDs as the book's ECL). A scenario shifts its log-odds by
  a sum of sensitivities × shocks (revenue fall by segment, unemployment, policy rate), phased in
  linearly over `phase_in_months`. The annual PD of month m becomes a monthly hazard
  h = 1 − (1 − PD)^(1/12) (constant within the year).
- LGD. The collateral share of the recovery falls with collateral prices:
  LGD' = 1 − (1 − LGD)(1 − share × fall). Recoveries come after a workout, so a default in any
  month is recovered at the trough price: the full fall applies from month 1 (a downturn LGD).
- Exposure. EAD at the start of month m is today's EAD less the principal scheduled to fall due
  before it (performing loans repay as scheduled); interest accruing after today is not projected.
- Defaults and losses are expected values over the loans: survival S_m = Π(1 − h_k), defaults in
  month m = S_{m−1} − S_m, loss = defaults × LGD' × EAD_m. Losses are rounded once per loan on the
  cumulative amount (half up, to the minor unit) and monthly losses are differences of those
  integers, so every total is an exact sum of integers. Because EAD only falls over time and
  LGD' is constant, a scenario at least as severe in every shock never gives lower losses.
- ECL at month 12: surviving loans at their month-12 EAD; stage 2 when the loan is stage 2 today
  or its month-12 PD is at least `sicr_pd_ratio` (2) × its PD at origination (today's PD when
  none is stored); stage 1 uses the stressed 12-month PD, stage 2 the stressed lifetime PD;
  loans already in default (stage 3) keep PD 1 at the stressed LGD.
- Capital need = the Basel IRB capital requirement for "other retail" exposures
  (8 % × RWA, RWA = 12.5 × K × EAD, K from the month-12 stressed PD and LGD with the retail asset
  correlation 3 %..16 %) on the surviving book, plus the stress losses and the allowance build
  that today's allowance (ECL now) does not cover: max(0, losses + ECL_12 − ECL_0).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lendstack.documents import DocumentError, load_document, validate_document
from lendstack.errors import ErrorKind, LendstackError
from lendstack.monitoring.portfolio import live, require_columns, with_exposure
from lendstack.risk.ecl import EclConfig, ecl_by_currency, loan_ecl, stage_expr

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

HORIZON_MONTHS = 12
BASELINE = "baseline"
SCENARIOS_MAX = 32
CHUNK_LOANS = 100_000  # loans projected at once: bounds memory at ~12 float arrays of CHUNK × 13
DEFAULT_SCENARIOS = Path(__file__).with_name("scenarios") / "default.yaml"
OTHER = "default"  # the segment / collateral entry used for anything not listed
IRB_PD_FLOOR = 0.0005  # Basel III floor for retail PDs (0.05 %)
IRB_CONFIDENCE = 0.999
CAPITAL_RATIO_PCT = 8
_NORMAL = NormalDist()
SCHEDULE_COLUMNS = ("loan_id", "month", "principal_due_minor")


class StressError(LendstackError):
    """An invalid scenario document or book; names the field."""


class ScenarioFileError(DocumentError, StressError):
    """A scenario document that cannot be read or is invalid: a DocumentError (any bad config file) and a
    StressError naming the dotted field (`scenarios` for the file itself), whose message starts with the
    place (`file:line: reason`), as stress errors always named the file in the message."""

    path_field = "scenarios"
    shape = "a mapping with version, transmission, scenarios"

    def __init__(self, source: str, line: int, field: str, message: str, *, column: int = 0,
                 kind: ErrorKind | None = None) -> None:
        super().__init__(source, line, field, message, column=column, kind=kind)
        self.message = f"{self.where}: {message}"


# --------------------------------------------------------------------------- scenarios as data
#
# Numbers are Decimal, exact from the document's text; the projection, which is numerical (NumPy),
# converts each to float where it uses it. Decimal → float rounds correctly, so every float is the one
# parsing the text as a float gives: results are the same as when the scenarios were read as floats.


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Shocks(_Doc):
    revenue_fall_pct: dict[str, Decimal] = Field(default_factory=lambda: {OTHER: Decimal(0)})
    unemployment_change_pp: Decimal = Field(Decimal(0), ge=-20, le=30)
    policy_rate_rise_bp: Decimal = Field(Decimal(0), ge=-1_000, le=2_000)
    collateral_price_fall_pct: Decimal = Field(Decimal(0), ge=-50, le=100)

    @field_validator("revenue_fall_pct")
    @classmethod
    def _revenue_in_range(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for segment, pct in value.items():
            if not pct.is_finite() or not -100 <= pct <= 100:
                raise ValueError(f"segment {segment!r}: a fall in [-100, 100] %, got {pct}")
        return value

    def revenue_fall(self, segment: str) -> Decimal:
        return self.revenue_fall_pct.get(segment, self.revenue_fall_pct.get(OTHER, Decimal(0)))

    def is_zero(self) -> bool:
        return (all(v == 0 for v in self.revenue_fall_pct.values()) and self.unemployment_change_pp == 0
                and self.policy_rate_rise_bp == 0 and self.collateral_price_fall_pct == 0)

    def to_json(self) -> dict[str, Any]:
        """The shocks as the results show them: numbers as floats (what model_dump gave when they were)."""
        return {"revenue_fall_pct": {segment: float(pct) for segment, pct in self.revenue_fall_pct.items()},
                "unemployment_change_pp": float(self.unemployment_change_pp),
                "policy_rate_rise_bp": float(self.policy_rate_rise_bp),
                "collateral_price_fall_pct": float(self.collateral_price_fall_pct)}


class Scenario(_Doc):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    name_zh: str = Field(min_length=1)
    description: str = ""
    description_zh: str = ""
    phase_in_months: int = Field(4, ge=1, le=HORIZON_MONTHS)
    shocks: Shocks = Field(default_factory=Shocks)


class Sensitivity(_Doc):
    revenue: Decimal = Field(Decimal(1), ge=0, le=10)
    unemployment: Decimal = Field(Decimal(1), ge=0, le=10)


class Transmission(_Doc):
    """Sensitivities are non-negative, so a larger shock never lowers a PD (monotone by design)."""

    revenue_logit_per_pct: Decimal = Field(ge=0, le=1)
    unemployment_logit_per_pp: Decimal = Field(ge=0, le=2)
    rate_logit_per_100bp: Decimal = Field(ge=0, le=2)
    segments: dict[str, Sensitivity] = Field(default_factory=dict)
    collateral_recovery_share: dict[str, Decimal] = Field(default_factory=lambda: {"none": Decimal(0)})
    segment_by_product: dict[str, str] = Field(default_factory=dict)
    collateral_by_product: dict[str, str] = Field(default_factory=dict)

    @field_validator("collateral_recovery_share")
    @classmethod
    def _shares_in_unit_interval(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for collateral, share in value.items():
            if not 0 <= share <= 1:
                raise ValueError(f"collateral {collateral!r}: a share in [0, 1], got {share}")
        return value

    def sensitivity(self, segment: str) -> Sensitivity:
        return self.segments.get(segment) or self.segments.get(OTHER) or Sensitivity()

    def collateral_share(self, collateral: str) -> float:
        """The collateral's share of the recovery (the `default` entry for one not listed), as a float."""
        return float(self.collateral_recovery_share.get(collateral, self.collateral_recovery_share.get(OTHER, 0)))


class ScenarioSet(_Doc):
    version: str = Field(min_length=1)
    transmission: Transmission
    scenarios: list[Scenario] = Field(min_length=1, max_length=SCENARIOS_MAX)

    @model_validator(mode="after")
    def _names(self) -> ScenarioSet:
        names = [s.name for s in self.scenarios]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"@scenarios: duplicate name(s) {duplicates}")
        if BASELINE not in names:
            raise ValueError(f"@scenarios: one scenario must be named {BASELINE!r} (the reference)")
        return self

    def get(self, name: str) -> Scenario:
        found = next((s for s in self.scenarios if s.name == name), None)
        if found is None:
            raise StressError("scenarios", f"no scenario {name!r}; known: {', '.join(s.name for s in self.scenarios)}")
        return found


def parse_scenarios(document: Any, source: str = "<scenarios>") -> ScenarioSet:
    """A scenario set from a parsed mapping; ScenarioFileError (a StressError) naming the dotted field."""
    data = dict(document) if isinstance(document, Mapping) else document
    return validate_document(data, ScenarioSet, source=source, error=ScenarioFileError)


def load_scenarios(path: str | Path | None = None) -> ScenarioSet:
    """The packaged scenarios (baseline, adverse, severe) or a YAML/JSON file of the same shape; errors name
    the file, the line and the field."""
    return load_document(DEFAULT_SCENARIOS if path is None else Path(path), ScenarioSet, error=ScenarioFileError)


# --------------------------------------------------------------------------- transmission (pure, vectorised)


def shift_pd(pd: FloatArray, logit_shift: FloatArray) -> FloatArray:
    """PD with its log-odds moved by `logit_shift`: p·e^s / (1 − p + p·e^s). Exact at s = 0, and
    clamped on the side of the shift, so rounding never moves a PD against its shock."""
    pd, logit_shift = np.broadcast_arrays(np.asarray(pd, np.float64), np.asarray(logit_shift, np.float64))
    assert np.all((pd >= 0) & (pd <= 1)), "PDs lie in [0, 1]"
    factor = np.exp(logit_shift)
    moved = pd * factor / (1.0 - pd + pd * factor)
    return np.asarray(np.where(logit_shift > 0, np.maximum(pd, moved),
                               np.where(logit_shift < 0, np.minimum(pd, moved), pd)), np.float64)


def monthly_hazard(pd_annual: FloatArray) -> FloatArray:
    """Constant monthly hazard of an annual PD: 1 − (1 − PD)^(1/12)."""
    with np.errstate(divide="ignore"):  # PD 1: log1p(-1) = -inf, hazard exactly 1
        return np.asarray(-np.expm1(np.log1p(-np.minimum(pd_annual, 1.0)) / 12.0), np.float64)


def stressed_lgd(lgd: FloatArray, collateral_share: FloatArray, fall_pct: float) -> FloatArray:
    """1 − (1 − LGD)(1 − share × fall): only the collateral part of the recovery moves."""
    if fall_pct == 0:
        return np.asarray(lgd, np.float64)
    recovery = (1.0 - lgd) * (1.0 - collateral_share * fall_pct / 100.0)
    moved = np.clip(1.0 - recovery, 0.0, 1.0)
    return np.asarray(np.maximum(lgd, moved) if fall_pct > 0 else np.minimum(lgd, moved), np.float64)


def phase(scenario: Scenario) -> FloatArray:
    """Share of the full shock in months 1..12: linear to 1 at `phase_in_months`, then held."""
    months = np.arange(1, HORIZON_MONTHS + 1, dtype=np.float64)
    return np.asarray(np.minimum(1.0, months / scenario.phase_in_months), np.float64)


def logit_shift(transmission: Transmission, shocks: Shocks, segments: Sequence[str]) -> FloatArray:
    """The full-size log-odds shift for each segment name given."""
    out = np.empty(len(segments), dtype=np.float64)
    for k, segment in enumerate(segments):
        sens = transmission.sensitivity(segment)
        out[k] = (float(transmission.revenue_logit_per_pct) * float(shocks.revenue_fall(segment)) * float(sens.revenue)
                  + float(transmission.unemployment_logit_per_pp) * float(shocks.unemployment_change_pp)
                  * float(sens.unemployment)
                  + float(transmission.rate_logit_per_100bp) * float(shocks.policy_rate_rise_bp) / 100.0)
    return out


def irb_retail_k(pd: FloatArray, lgd: FloatArray) -> FloatArray:
    """Basel IRB capital requirement per unit of EAD for "other retail" exposures:
    K = LGD × (N((G(PD) + √R·G(0.999)) / √(1 − R)) − PD), R from 3 % (high PD) to 16 % (low PD)."""
    p = np.clip(np.asarray(pd, np.float64), IRB_PD_FLOOR, 1.0 - 1e-12)
    # A book has few distinct PDs (bucket × segment shift): the normal quantiles run once per value.
    distinct, inverse = np.unique(p, return_inverse=True)
    weight = -np.expm1(-35.0 * distinct) / -math.expm1(-35.0)
    correlation = 0.03 * weight + 0.16 * (1.0 - weight)
    quantile = np.array([_NORMAL.inv_cdf(float(v)) for v in distinct])
    tail = (quantile + np.sqrt(correlation) * _NORMAL.inv_cdf(IRB_CONFIDENCE)) / np.sqrt(1.0 - correlation)
    k_per_lgd = np.array([_NORMAL.cdf(float(v)) for v in tail]) - distinct
    return np.asarray(np.maximum(lgd * k_per_lgd[inverse.reshape(p.shape)], 0.0), np.float64)


# --------------------------------------------------------------------------- the book, prepared once


@dataclass(frozen=True)
class Book:
    """The live book as arrays, one row per loan; the projection reads nothing else."""

    loan_ids: list[str]
    currencies: list[str]  # distinct, sorted
    currency_index: IntArray
    segments: list[str]  # distinct, sorted
    segment_index: IntArray
    collaterals: list[str]
    collateral_index: IntArray
    performing: npt.NDArray[np.bool_]  # stage 1 or 2 today (DPD <= 90)
    stage2_now: npt.NDArray[np.bool_]
    pd_12m: FloatArray
    pd_lifetime: FloatArray
    pd_reference: FloatArray  # origination PD where known, else today's
    lgd: FloatArray
    ead_path_minor: IntArray  # (loans, 13): EAD at the start of months 1..12 and after month 12
    ecl_now_minor: dict[str, int]

    @property
    def size(self) -> int:
        return len(self.loan_ids)


def scheduled_principal(installments: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """Unpaid principal falling due per loan in months 1..12 after `as_of` (month m: due dates in
    (as_of + m−1 months, as_of + m months]); installments due by `as_of` are not amortisation."""
    require_columns(installments, ("loan_id", "due_date", "principal_minor", "principal_paid_minor", "capitalized"),
                    "installments")
    start = pl.lit(as_of)
    month = pl.lit(1, pl.Int64)
    for m in range(1, HORIZON_MONTHS):  # the first month m whose end the due date does not pass
        month = pl.when(pl.col("due_date") > start.dt.offset_by(f"{m}mo")).then(m + 1).otherwise(month)
    due = installments.filter(~pl.col("capitalized") & (pl.col("due_date") > as_of)
                              & (pl.col("due_date") <= start.dt.offset_by(f"{HORIZON_MONTHS}mo")))
    return due.with_columns(month.alias("month")).group_by("loan_id", "month").agg(
        (pl.col("principal_minor") - pl.col("principal_paid_minor")).clip(lower_bound=0).sum()
        .cast(pl.Int64).alias("principal_due_minor")).sort("loan_id", "month")


def prepare_book(loans: pl.DataFrame, schedule: pl.DataFrame, transmission: Transmission,
                 config: EclConfig | None = None) -> Book:
    cfg = config or EclConfig()
    require_columns(schedule, SCHEDULE_COLUMNS, "schedule")
    frame = live(with_exposure(loans)).with_columns(stage_expr(cfg, loans.columns).alias("stage")).sort("loan_id")
    ids = frame["loan_id"].to_list()
    segments = _per_loan(frame, "segment", transmission.segment_by_product)
    collaterals = _per_loan(frame, "collateral", transmission.collateral_by_product, fallback="none")
    stage = frame["stage"].to_numpy().astype(np.int64)
    pd_12m = frame["bucket"].replace_strict(dict(cfg.pd_12m_by_bucket), return_dtype=pl.Float64).to_numpy()
    pd_life = frame["bucket"].replace_strict(dict(cfg.pd_lifetime_by_bucket), return_dtype=pl.Float64).to_numpy()
    reference = pd_12m.copy()
    if "pd_origination" in frame.columns:
        origination = frame["pd_origination"].cast(pl.Float64).to_numpy()
        reference = np.where(np.isnan(origination), pd_12m, origination)
    lgd = np.full(len(ids), cfg.lgd) if "lgd" not in frame.columns else \
        frame["lgd"].cast(pl.Float64).fill_null(cfg.lgd).to_numpy()
    _check_unit_interval("loans.pd_origination", reference)
    _check_unit_interval("loans.lgd", lgd)
    ead0 = frame["ead_minor"].clip(lower_bound=0).to_numpy().astype(np.int64)
    currencies, currency_index = _codes(frame["currency"].to_list())
    segment_names, segment_index = _codes(segments)
    collateral_names, collateral_index = _codes(collaterals)
    return Book(
        loan_ids=ids, currencies=currencies, currency_index=currency_index,
        segments=segment_names, segment_index=segment_index, collaterals=collateral_names,
        collateral_index=collateral_index, performing=stage < 3, stage2_now=stage == 2, pd_12m=pd_12m,
        pd_lifetime=pd_life, pd_reference=reference, lgd=lgd, ead_path_minor=_ead_path(ids, ead0, schedule),
        ecl_now_minor=ecl_by_currency(loan_ecl(loans, cfg)),
    )


def _per_loan(frame: pl.DataFrame, column: str, by_product: Mapping[str, str], fallback: str = OTHER) -> list[str]:
    """The loan's own value (from its decision) where known, else its product's, else `fallback`."""
    products = frame["product_id"].to_list()
    own = frame[column].to_list() if column in frame.columns else [None] * frame.height
    return [str(v) if v else by_product.get(p, fallback) for v, p in zip(own, products, strict=True)]


def _codes(values: list[str]) -> tuple[list[str], IntArray]:
    names = sorted(set(values))
    position = {name: k for k, name in enumerate(names)}
    return names, np.array([position[v] for v in values], dtype=np.int64)


def _check_unit_interval(field: str, values: FloatArray) -> None:
    bad = np.flatnonzero(~((values >= 0) & (values <= 1)))
    if bad.size:
        raise StressError(field, f"must lie in [0, 1]; row {int(bad[0])} has {values[bad[0]]!r}")


def _ead_path(ids: list[str], ead0: IntArray, schedule: pl.DataFrame) -> IntArray:
    """(loans, 13) EAD at the start of each month: today's EAD less the principal due before it."""
    due = np.zeros((len(ids), HORIZON_MONTHS), dtype=np.int64)
    position = {loan_id: k for k, loan_id in enumerate(ids)}
    rows = schedule.filter(pl.col("loan_id").is_in(ids) & pl.col("month").is_between(1, HORIZON_MONTHS))
    if rows.height:
        k = np.array([position[i] for i in rows["loan_id"].to_list()], dtype=np.int64)
        amounts = rows["principal_due_minor"].to_numpy().astype(np.int64)
        if np.any(amounts < 0):
            raise StressError("schedule.principal_due_minor", "must be >= 0")
        np.add.at(due, (k, rows["month"].to_numpy().astype(np.int64) - 1), amounts)
    repaid_before = np.concatenate([np.zeros((len(ids), 1), np.int64), np.cumsum(due, axis=1)], axis=1)
    return np.asarray(np.maximum(ead0[:, None] - repaid_before, 0), np.int64)


# --------------------------------------------------------------------------- the projection


@dataclass
class _Sums:
    """Per-currency accumulators of one scenario; month arrays are (currencies, 12)."""

    performing: IntArray
    defaults: FloatArray
    exposure_minor: IntArray
    losses_cum_minor: IntArray
    pd_weighted: FloatArray
    ead_weight: FloatArray
    lgd_weighted: FloatArray
    losses_by_segment_minor: IntArray  # (currencies, segments)
    ecl12_minor: IntArray
    stage2_loans: FloatArray
    stage3_loans: IntArray
    rwa_minor: IntArray
    exposure12_minor: IntArray

    @classmethod
    def empty(cls, currencies: int, segments: int) -> _Sums:
        zeros_m, zeros_f = np.zeros((currencies, HORIZON_MONTHS), np.int64), np.zeros((currencies, HORIZON_MONTHS))
        return cls(np.zeros(currencies, np.int64), zeros_f.copy(), zeros_m.copy(), zeros_m.copy(), zeros_f.copy(),
                   zeros_f.copy(), zeros_f.copy(), np.zeros((currencies, segments), np.int64),
                   np.zeros(currencies, np.int64), np.zeros(currencies), np.zeros(currencies, np.int64),
                   np.zeros(currencies, np.int64), np.zeros(currencies, np.int64))


def project(book: Book, scenarios: ScenarioSet, config: EclConfig | None = None) -> list[dict[str, Any]]:
    """Every scenario of the set over the book; the baseline is the reference for `vs_baseline`."""
    cfg = config or EclConfig()
    results = [project_one(book, scenarios.transmission, s, cfg) for s in scenarios.scenarios]
    baseline = next(r for r in results if r["name"] == BASELINE)
    return [{**r, "vs_baseline": vs_baseline(r, baseline)} for r in results]


def project_one(book: Book, transmission: Transmission, scenario: Scenario, cfg: EclConfig) -> dict[str, Any]:
    sums = _Sums.empty(len(book.currencies), len(book.segments))
    shift_by_segment = logit_shift(transmission, scenario.shocks, book.segments)
    share_by_collateral = np.array([transmission.collateral_share(c) for c in book.collaterals], np.float64)
    for start in range(0, book.size, CHUNK_LOANS):  # bounded: size / CHUNK_LOANS iterations
        rows = np.arange(start, min(start + CHUNK_LOANS, book.size))
        _project_chunk(book, rows, shift_by_segment, share_by_collateral, scenario, cfg, sums)
    return _result(book, scenario, sums)


def _project_chunk(book: Book, rows: IntArray, shift_by_segment: FloatArray, share_by_collateral: FloatArray,
                   scenario: Scenario, cfg: EclConfig, sums: _Sums) -> None:
    cur, seg = book.currency_index[rows], book.segment_index[rows]
    performing = book.performing[rows]
    shift = shift_by_segment[seg][:, None] * phase(scenario)[None, :]  # (n, 12)
    pd_path = shift_pd(np.broadcast_to(book.pd_12m[rows][:, None], shift.shape), shift)
    hazard = np.where(performing[:, None], monthly_hazard(pd_path), 0.0)
    survival = np.concatenate([np.ones((rows.size, 1)), np.cumprod(1.0 - hazard, axis=1)], axis=1)
    defaults = survival[:, :-1] - survival[:, 1:]
    lgd = stressed_lgd(book.lgd[rows], share_by_collateral[book.collateral_index[rows]],
                       float(scenario.shocks.collateral_price_fall_pct))
    ead = book.ead_path_minor[rows].astype(np.float64)
    losses_cum = _half_up(np.cumsum(defaults * lgd[:, None] * ead[:, :-1], axis=1))
    assert np.all(losses_cum[:, -1] <= book.ead_path_minor[rows, 0]), "a loss never exceeds the exposure"
    n_cur = len(book.currencies)
    sums.performing += np.bincount(cur, weights=performing, minlength=n_cur).astype(np.int64)
    sums.losses_cum_minor += _by(cur, losses_cum, n_cur).astype(np.int64)
    sums.defaults += _by(cur, defaults, n_cur)
    live_ead = np.where(performing[:, None], survival[:, :-1] * ead[:, :-1], 0.0)
    sums.exposure_minor += _by(cur, _half_up(live_ead), n_cur).astype(np.int64)
    sums.pd_weighted += _by(cur, live_ead * np.where(performing[:, None], pd_path, 0.0), n_cur)
    sums.ead_weight += _by(cur, live_ead, n_cur)
    sums.lgd_weighted += _by(cur, live_ead * lgd[:, None], n_cur)
    flat = cur * len(book.segments) + seg
    sums.losses_by_segment_minor += np.bincount(flat, weights=losses_cum[:, -1], minlength=sums.losses_by_segment_minor
                                                .size).reshape(sums.losses_by_segment_minor.shape).astype(np.int64)
    _horizon(book, rows, pd_path[:, -1], shift[:, -1], survival[:, -1], lgd, cfg, sums)


def _horizon(book: Book, rows: IntArray, pd_12: FloatArray, shift_12: FloatArray, survival_12: FloatArray,
             lgd: FloatArray, cfg: EclConfig, sums: _Sums) -> None:
    """ECL, stage 2 count and RWA at month 12 on the surviving book; stage 3 stock at PD 1."""
    cur, performing = book.currency_index[rows], book.performing[rows]
    ead12 = book.ead_path_minor[rows, -1].astype(np.float64)
    stage2 = performing & (book.stage2_now[rows] | (pd_12 >= cfg.sicr_pd_ratio * book.pd_reference[rows]))
    pd_life = shift_pd(book.pd_lifetime[rows], shift_12)
    ecl_pd = np.where(stage2, pd_life, pd_12)
    weight = np.where(performing, survival_12, 0.0)
    ecl = np.where(performing, weight * ecl_pd * lgd * ead12, lgd * book.ead_path_minor[rows, 0])
    n_cur = len(book.currencies)
    sums.ecl12_minor += np.bincount(cur, weights=_half_up(ecl), minlength=n_cur).astype(np.int64)
    sums.stage2_loans += np.bincount(cur, weights=np.where(stage2, weight, 0.0), minlength=n_cur)
    sums.stage3_loans += np.bincount(cur, weights=~performing, minlength=n_cur).astype(np.int64)
    rwa = 12.5 * irb_retail_k(pd_12, lgd) * weight * ead12
    sums.rwa_minor += np.bincount(cur, weights=_half_up(rwa), minlength=n_cur).astype(np.int64)
    sums.exposure12_minor += np.bincount(cur, weights=_half_up(weight * ead12), minlength=n_cur).astype(np.int64)


def _half_up(values: FloatArray) -> FloatArray:
    """Expected amounts to whole minor units, half up; still floats (exact integers below 2**53)."""
    return np.floor(values + 0.5)


def _by(groups: IntArray, values: FloatArray, n_groups: int) -> FloatArray:
    """Column sums of a (loans, months) array per group: (groups, months)."""
    out = np.zeros((n_groups, values.shape[1]))
    np.add.at(out, groups, values)
    return out


def _result(book: Book, scenario: Scenario, sums: _Sums) -> dict[str, Any]:
    months, totals = [], {}
    for c, currency in enumerate(book.currencies):
        performing = int(sums.performing[c])
        cum = sums.losses_cum_minor[c]
        monthly = np.diff(np.concatenate([[0], cum]))
        weight = sums.ead_weight[c]
        for m in range(HORIZON_MONTHS):
            months.append({
                "month": m + 1, "currency": currency, "exposure_minor": int(sums.exposure_minor[c, m]),
                "defaults": float(sums.defaults[c, m]),
                "default_rate": float(sums.defaults[c, m] / performing) if performing else 0.0,
                "pd_annual": float(sums.pd_weighted[c, m] / weight[m]) if weight[m] else 0.0,
                "lgd": float(sums.lgd_weighted[c, m] / weight[m]) if weight[m] else 0.0,
                "losses_minor": int(monthly[m]), "cumulative_losses_minor": int(cum[m]),
            })
        totals[currency] = _totals(book, sums, c, currency, performing)
    months.sort(key=lambda r: (r["month"], r["currency"]))
    return {"name": scenario.name, "name_zh": scenario.name_zh, "description": scenario.description,
            "description_zh": scenario.description_zh, "phase_in_months": scenario.phase_in_months,
            "shocks": scenario.shocks.to_json(), "months": months, "totals": totals}


def _totals(book: Book, sums: _Sums, c: int, currency: str, performing: int) -> dict[str, Any]:
    defaults = float(sums.defaults[c].sum())
    losses = int(sums.losses_cum_minor[c, -1])
    ecl_now, ecl12 = book.ecl_now_minor.get(currency, 0), int(sums.ecl12_minor[c])
    rwa = int(sums.rwa_minor[c])
    capital = (rwa * CAPITAL_RATIO_PCT + 50) // 100
    return {
        "performing_loans": performing, "defaulted_loans_now": int(sums.stage3_loans[c]),
        "exposure_start_minor": int(sums.exposure_minor[c, 0]) + _stage3_ead(book, c),
        "exposure_month12_minor": int(sums.exposure12_minor[c]),
        "defaults": defaults, "default_rate": defaults / performing if performing else 0.0,
        "losses_minor": losses, "losses_by_segment_minor": {
            s: int(sums.losses_by_segment_minor[c, k]) for k, s in enumerate(book.segments)
            if np.any((book.currency_index == c) & (book.segment_index == k))},
        "ecl_now_minor": ecl_now, "ecl_month12_minor": ecl12, "stage2_loans_month12": float(sums.stage2_loans[c]),
        "rwa_minor": rwa, "capital_requirement_minor": capital,
        "capital_need_minor": capital + max(0, losses + ecl12 - ecl_now),
    }


def _stage3_ead(book: Book, c: int) -> int:
    mask = (book.currency_index == c) & ~book.performing
    return int(book.ead_path_minor[mask, 0].sum())


DELTA_KEYS = ("defaults", "default_rate", "losses_minor", "ecl_month12_minor", "rwa_minor",
              "capital_requirement_minor", "capital_need_minor")


def vs_baseline(result: dict[str, Any], baseline: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per currency: this scenario minus the baseline, for the headline numbers."""
    out: dict[str, dict[str, Any]] = {}
    for currency, totals in result["totals"].items():
        base = baseline["totals"][currency]
        out[currency] = {f"{key}_delta" if not key.endswith("_minor") else key.replace("_minor", "_delta_minor"):
                         totals[key] - base[key] for key in DELTA_KEYS}
    return out
