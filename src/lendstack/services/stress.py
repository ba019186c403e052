"""The shell of the stress test: read the book (loans, their schedules, the decisions they came
from) into frames and run the pure projection of `lendstack.risk.stress`.

`run_stress` returns a typed `StressResult`; its `to_json()` is the stable shape the stress report renders:

    {"as_of", "book_date", "scenario_set", "horizon_months", "currencies", "loans",
     "method": {...},
     "scenarios": [{"name", "name_zh", "description", "description_zh", "phase_in_months", "shocks",
                    "months": [{"month", "currency", "exposure_minor", "defaults", "default_rate",
                                "pd_annual", "lgd", "losses_minor", "cumulative_losses_minor"}],
                    "totals": {currency: {"performing_loans", "defaulted_loans_now",
                               "exposure_start_minor", "exposure_month12_minor", "defaults",
                               "default_rate", "losses_minor", "losses_by_segment_minor",
                               "ecl_now_minor", "ecl_month12_minor", "stage2_loans_month12",
                               "rwa_minor", "capital_requirement_minor", "capital_need_minor"}},
                    "vs_baseline": {currency: {"defaults_delta", "default_rate_delta",
                                    "losses_delta_minor", "ecl_month12_delta_minor", "rwa_delta_minor",
                                    "capital_requirement_delta_minor", "capital_need_delta_minor"}}}]}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from lendstack.risk.ecl import EclConfig
from lendstack.risk.stress import (
    CAPITAL_RATIO_PCT,
    HORIZON_MONTHS,
    ScenarioSet,
    StressError,
    load_scenarios,
    prepare_book,
    project,
    scheduled_principal,
)
from lendstack.services.monitoring import book_date, read_loans
from lendstack.services.naming import loan_id_for, loan_ids_of
from lendstack.store import Connection, Engine
from lendstack.store.stress_repo import StressRepository


@dataclass(frozen=True, slots=True)
class StressMethod:
    pd: str
    lgd: str
    exposure: str
    ecl: str
    capital: str

    def to_json(self) -> dict[str, Any]:
        return {"pd": self.pd, "lgd": self.lgd, "exposure": self.exposure, "ecl": self.ecl, "capital": self.capital}


@dataclass(frozen=True, slots=True)
class StressMonth:
    month: int
    currency: str
    exposure_minor: int
    defaults: float
    default_rate: float
    pd_annual: float
    lgd: float
    losses_minor: int
    cumulative_losses_minor: int

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> StressMonth:
        return cls(row["month"], row["currency"], row["exposure_minor"], row["defaults"], row["default_rate"],
                   row["pd_annual"], row["lgd"], row["losses_minor"], row["cumulative_losses_minor"])

    def to_json(self) -> dict[str, Any]:
        return {"month": self.month, "currency": self.currency, "exposure_minor": self.exposure_minor,
                "defaults": self.defaults, "default_rate": self.default_rate, "pd_annual": self.pd_annual,
                "lgd": self.lgd, "losses_minor": self.losses_minor,
                "cumulative_losses_minor": self.cumulative_losses_minor}


@dataclass(frozen=True, slots=True)
class SegmentLoss:
    segment: str
    losses_minor: int


@dataclass(frozen=True, slots=True)
class StressTotals:
    """One currency's totals of a scenario; `currency` is the key of the `totals` document."""

    currency: str
    performing_loans: int
    defaulted_loans_now: int
    exposure_start_minor: int
    exposure_month12_minor: int
    defaults: float
    default_rate: float
    losses_minor: int
    losses_by_segment_minor: tuple[SegmentLoss, ...]
    ecl_now_minor: int
    ecl_month12_minor: int
    stage2_loans_month12: float
    rwa_minor: int
    capital_requirement_minor: int
    capital_need_minor: int

    @classmethod
    def from_json(cls, currency: str, t: Mapping[str, Any]) -> StressTotals:
        return cls(currency, t["performing_loans"], t["defaulted_loans_now"], t["exposure_start_minor"],
                   t["exposure_month12_minor"], t["defaults"], t["default_rate"], t["losses_minor"],
                   tuple(SegmentLoss(s, v) for s, v in t["losses_by_segment_minor"].items()), t["ecl_now_minor"],
                   t["ecl_month12_minor"], t["stage2_loans_month12"], t["rwa_minor"],
                   t["capital_requirement_minor"], t["capital_need_minor"])

    def to_json(self) -> dict[str, Any]:
        return {
            "performing_loans": self.performing_loans, "defaulted_loans_now": self.defaulted_loans_now,
            "exposure_start_minor": self.exposure_start_minor, "exposure_month12_minor": self.exposure_month12_minor,
            "defaults": self.defaults, "default_rate": self.default_rate, "losses_minor": self.losses_minor,
            "losses_by_segment_minor": {s.segment: s.losses_minor for s in self.losses_by_segment_minor},
            "ecl_now_minor": self.ecl_now_minor, "ecl_month12_minor": self.ecl_month12_minor,
            "stage2_loans_month12": self.stage2_loans_month12, "rwa_minor": self.rwa_minor,
            "capital_requirement_minor": self.capital_requirement_minor,
            "capital_need_minor": self.capital_need_minor,
        }


@dataclass(frozen=True, slots=True)
class StressDelta:
    """One currency's scenario minus baseline; `currency` is the key of the `vs_baseline` document."""

    currency: str
    defaults_delta: float
    default_rate_delta: float
    losses_delta_minor: int
    ecl_month12_delta_minor: int
    rwa_delta_minor: int
    capital_requirement_delta_minor: int
    capital_need_delta_minor: int

    @classmethod
    def from_json(cls, currency: str, d: Mapping[str, Any]) -> StressDelta:
        return cls(currency, d["defaults_delta"], d["default_rate_delta"], d["losses_delta_minor"],
                   d["ecl_month12_delta_minor"], d["rwa_delta_minor"], d["capital_requirement_delta_minor"],
                   d["capital_need_delta_minor"])

    def to_json(self) -> dict[str, Any]:
        return {"defaults_delta": self.defaults_delta, "default_rate_delta": self.default_rate_delta,
                "losses_delta_minor": self.losses_delta_minor, "ecl_month12_delta_minor": self.ecl_month12_delta_minor,
                "rwa_delta_minor": self.rwa_delta_minor,
                "capital_requirement_delta_minor": self.capital_requirement_delta_minor,
                "capital_need_delta_minor": self.capital_need_delta_minor}


@dataclass(frozen=True, slots=True)
class StressShocks:
    revenue_fall_pct: tuple[tuple[str, float], ...]
    unemployment_change_pp: float
    policy_rate_rise_bp: float
    collateral_price_fall_pct: float

    @classmethod
    def from_json(cls, s: Mapping[str, Any]) -> StressShocks:
        return cls(tuple(s["revenue_fall_pct"].items()), s["unemployment_change_pp"], s["policy_rate_rise_bp"],
                   s["collateral_price_fall_pct"])

    def to_json(self) -> dict[str, Any]:
        return {"revenue_fall_pct": dict(self.revenue_fall_pct), "unemployment_change_pp": self.unemployment_change_pp,
                "policy_rate_rise_bp": self.policy_rate_rise_bp,
                "collateral_price_fall_pct": self.collateral_price_fall_pct}


@dataclass(frozen=True, slots=True)
class StressScenario:
    name: str
    name_zh: str
    description: str
    description_zh: str
    phase_in_months: int
    shocks: StressShocks
    months: tuple[StressMonth, ...]
    totals: tuple[StressTotals, ...]
    vs_baseline: tuple[StressDelta, ...]

    @classmethod
    def from_json(cls, r: Mapping[str, Any]) -> StressScenario:
        return cls(r["name"], r["name_zh"], r["description"], r["description_zh"], r["phase_in_months"],
                   StressShocks.from_json(r["shocks"]), tuple(StressMonth.from_json(m) for m in r["months"]),
                   tuple(StressTotals.from_json(c, t) for c, t in r["totals"].items()),
                   tuple(StressDelta.from_json(c, d) for c, d in r["vs_baseline"].items()))

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "name_zh": self.name_zh, "description": self.description,
                "description_zh": self.description_zh, "phase_in_months": self.phase_in_months,
                "shocks": self.shocks.to_json(), "months": [m.to_json() for m in self.months],
                "totals": {t.currency: t.to_json() for t in self.totals},
                "vs_baseline": {d.currency: d.to_json() for d in self.vs_baseline}}


@dataclass(frozen=True, slots=True)
class StressResult:
    as_of: str
    book_date: str | None
    scenario_set: str
    horizon_months: int
    currencies: tuple[str, ...]
    loans: int
    method: StressMethod
    scenarios: tuple[StressScenario, ...]

    def to_json(self) -> dict[str, Any]:
        return {"as_of": self.as_of, "book_date": self.book_date, "scenario_set": self.scenario_set,
                "horizon_months": self.horizon_months, "currencies": list(self.currencies), "loans": self.loans,
                "method": self.method.to_json(), "scenarios": [s.to_json() for s in self.scenarios]}


METHOD = StressMethod(
    pd="annual PD by bucket (ECL tables), log-odds shifted by the scenario's shocks × sensitivities, phased in "
          "linearly; monthly hazard 1 − (1 − PD)^(1/12)",
    lgd="1 − (1 − LGD)(1 − collateral share of recovery × collateral price fall), downturn (full fall) from "
           "month 1",
    exposure="EAD today less the principal scheduled to fall due; performing loans repay as scheduled",
    ecl="month 12, stage 2 if stage 2 today or PD_12 >= 2 × origination PD; stage 3 stock at PD 1",
    capital=f"Basel IRB other retail: {CAPITAL_RATIO_PCT} % × RWA on the surviving book at month 12, plus "
               "max(0, losses + ECL_12 − ECL_now)",
)


def read_schedule(conn: Connection) -> pl.DataFrame:
    return StressRepository(conn).schedule()


def read_origination(conn: Connection) -> pl.DataFrame:
    """Per booked loan: its acting decision's PD, segment and declared collateral (where stored)."""
    approvals = StressRepository(conn).approvals()
    # Loans booked from an accepted offer are found through their application (services.naming).
    loan_of = loan_ids_of(conn, (a.application_id for a in approvals))
    data = [(loan_of.get(a.application_id) or loan_id_for(a.application_id, ""), _pd(a.pd), a.segment or "",
             _collateral(a.input)) for a in approvals]
    return pl.DataFrame(data, schema={"loan_id": pl.String, "pd_origination": pl.Float64, "segment": pl.String,
                                      "collateral": pl.String}, orient="row")


def _pd(text: Any) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if 0.0 <= value <= 1.0 else None


def _collateral(document: Any) -> str:
    features = document.get("features") if isinstance(document, dict) else None
    value = features.get("collateral") if isinstance(features, dict) else None
    return str(value) if value else ""


def run_stress(engine: Engine, as_of: date | None = None, scenarios: ScenarioSet | str | Path | None = None,
               config: EclConfig | None = None) -> StressResult:
    """Every scenario over the live book, 12 months from `as_of` (default: the last closed day)."""
    scenario_set = scenarios if isinstance(scenarios, ScenarioSet) else load_scenarios(scenarios)
    with engine.connect() as conn:
        loans, schedule, origination = read_loans(conn), read_schedule(conn), read_origination(conn)
        closed = book_date(conn)
    day = as_of or closed or date.today()
    if closed is not None and day < closed:
        raise StressError("as_of", f"{day} is before the book's last closed day {closed}; the book is current state")
    book = prepare_book(loans.join(origination, on="loan_id", how="left"), scheduled_principal(schedule, day),
                        scenario_set.transmission, config)
    return StressResult(
        as_of=day.isoformat(), book_date=closed.isoformat() if closed else None,
        scenario_set=scenario_set.version, horizon_months=HORIZON_MONTHS, currencies=tuple(book.currencies),
        loans=book.size, method=METHOD,
        scenarios=tuple(StressScenario.from_json(r) for r in project(book, scenario_set, config)),
    )
