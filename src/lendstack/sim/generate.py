"""`generate_applications`: the seeded synthetic economy as one Polars frame, one row per application."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import polars as pl

from lendstack.sim.bureau import draw_bureau
from lendstack.sim.columns import Columns, float_column, label_column
from lendstack.sim.declared import draw_declared
from lendstack.sim.errors import SimArgumentError
from lendstack.sim.fields import FIELDS, schema
from lendstack.sim.flows import draw_flows, draw_packaged
from lendstack.sim.identity import draw_identity
from lendstack.sim.outcomes import Drivers, draw_outcomes
from lendstack.sim.population import Population, draw_population
from lendstack.sim.shift import BASELINE, Shift
from lendstack.sim.signals import draw_device, draw_telematics
from lendstack.sim.tables import APPLICANT_TYPES, GENDERS, REGIONS, SEGMENTS

N_MIN, N_MAX = 1, 5_000_000
SEED_MAX = 2**63 - 1
SHOCK_MIN, SHOCK_MAX = -1.0, 3.0
AS_OF_MIN, AS_OF_MAX = date(2000, 1, 1), date(2100, 1, 1)


def generate_applications(
    n: int,
    seed: int = 0,
    *,
    as_of: date = date(2026, 1, 1),
    shock: float = 0.0,
    shift: Shift | None = None,
) -> pl.DataFrame:
    """`n` loan applications with their data sources, hidden truth and 12-month outcomes.

    Pure and seeded: the same arguments give an identical frame. Columns and their meaning are in
    `FIELDS`. `shock` is a macro shock (0 = baseline; 0.5 raises PDs); `shift` drifts the population.
    """
    check_arguments(n, seed, as_of, shock, shift)
    used_shift = BASELINE if shift is None else shift
    people = draw_population(n, seed, as_of, used_shift)
    bureau, bureau_columns = draw_bureau(seed, people, used_shift)
    packaged = draw_packaged(seed, people, used_shift)
    flows, flow_columns = draw_flows(seed, people, packaged, used_shift)
    declared, declared_columns = draw_declared(seed, people, bureau, flows)
    telematics, telematics_columns = draw_telematics(seed, people, declared)
    drivers = Drivers(people, bureau, flows, declared, telematics)
    columns: Columns = {
        **_application_columns(seed, people),
        **draw_identity(seed, people),
        **bureau_columns,
        **flow_columns,
        **telematics_columns,
        **draw_device(seed, people, flows),
        **declared_columns,
        "latent_z": float_column("latent_z", people.z, decimals=6),
        "is_packaged": pl.Series("is_packaged", packaged, dtype=pl.Boolean),
        **draw_outcomes(seed, drivers, shock),
    }
    frame = pl.DataFrame([columns[name] for name in FIELDS])
    assert frame.schema == pl.Schema(schema()), "frame does not match the data dictionary"
    return frame


def check_arguments(n: int, seed: int, as_of: date, shock: float, shift: Shift | None) -> None:
    """Raise `SimArgumentError` (a ValueError) naming the first bad argument."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or not N_MIN <= n <= N_MAX:
        raise SimArgumentError("n", f"must be an integer in [{N_MIN:,}, {N_MAX:,}], got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed <= SEED_MAX:
        raise SimArgumentError("seed", f"must be an integer in [0, 2**63 - 1], got {seed!r}")
    if not isinstance(as_of, date) or not AS_OF_MIN <= _as_date(as_of) <= AS_OF_MAX:
        raise SimArgumentError("as_of", f"must be a date between {AS_OF_MIN} and {AS_OF_MAX}, got {as_of!r}")
    if isinstance(shock, bool) or not isinstance(shock, int | float) or not math.isfinite(shock):
        raise SimArgumentError("shock", f"must be a finite number, got {shock!r}")
    if not SHOCK_MIN <= shock <= SHOCK_MAX:
        raise SimArgumentError("shock", f"must be in [{SHOCK_MIN}, {SHOCK_MAX}], got {shock!r}")
    if shift is not None and not isinstance(shift, Shift):
        raise SimArgumentError("shift", f"must be a Shift or None, got {type(shift).__name__}")


def _as_date(value: date) -> date:
    """A datetime is a date too; compare it by its calendar day."""
    return date(value.year, value.month, value.day)


def _application_columns(seed: int, people: Population) -> Columns:
    ids = pl.select(
        (pl.lit(f"A{seed:04d}-") + pl.int_range(people.n, eager=False).cast(pl.String).str.zfill(7)).alias(
            "application_id"
        )
    ).to_series()
    return {
        "application_id": ids,
        "applied_on": pl.Series("applied_on", people.applied_day.astype(np.int32)).cast(pl.Date),
        "applicant_type": label_column("applicant_type", people.type_code, APPLICANT_TYPES),
        "segment": label_column("segment", people.segment_code, SEGMENTS),
        "region": label_column("region", people.region_code, REGIONS),
        "gender": label_column("gender", (~people.female).astype(np.int64), GENDERS),
        "age": pl.Series("age", people.age_years, dtype=pl.Int64),
    }
