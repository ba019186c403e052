"""The shell of the stress test: read the book (loans, their schedules, the decisions they came
from) into frames and run the pure projection of `lendstack.risk.stress`.

`run_stress` returns one JSON-able document, a stable shape the stress report renders:

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

METHOD = {
    "pd": "annual PD by bucket (ECL tables), log-odds shifted by the scenario's shocks × sensitivities, phased in "
          "linearly; monthly hazard 1 − (1 − PD)^(1/12)",
    "lgd": "1 − (1 − LGD)(1 − collateral share of recovery × collateral price fall), downturn (full fall) from "
           "month 1",
    "exposure": "EAD today less the principal scheduled to fall due; performing loans repay as scheduled",
    "ecl": "month 12, stage 2 if stage 2 today or PD_12 >= 2 × origination PD; stage 3 stock at PD 1",
    "capital": f"Basel IRB other retail: {CAPITAL_RATIO_PCT} % × RWA on the surviving book at month 12, plus "
               "max(0, losses + ECL_12 − ECL_now)",
}


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
               config: EclConfig | None = None) -> dict[str, Any]:
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
    return {
        "as_of": day.isoformat(), "book_date": closed.isoformat() if closed else None,
        "scenario_set": scenario_set.version, "horizon_months": HORIZON_MONTHS, "currencies": book.currencies,
        "loans": book.size, "method": METHOD, "scenarios": project(book, scenario_set, config),
    }
