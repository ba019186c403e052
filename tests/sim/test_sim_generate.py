"""generate_applications: determinism, schema per FIELDS, nulls where the data dictionary says, bounds."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest
from tests.sim.conftest import N_ROWS, SEED

from lendstack.sim import FIELDS, SimArgumentError, generate_applications


def test_same_seed_same_frame() -> None:
    assert generate_applications(3_000, 5).equals(generate_applications(3_000, 5))


def test_other_seed_other_frame() -> None:
    first, second = generate_applications(3_000, 5), generate_applications(3_000, 6)
    assert not first.equals(second)
    assert first["application_id"][0] == "A0005-0000000" and second["application_id"][0] == "A0006-0000000"


def test_schema_follows_the_data_dictionary(frame: pl.DataFrame) -> None:
    assert frame.columns == list(FIELDS)
    assert frame.height == N_ROWS
    for name, doc in FIELDS.items():
        assert frame.schema[name] == doc.dtype, name
        if not doc.nullable:
            assert frame[name].null_count() == 0, name


def test_no_nan_anywhere(frame: pl.DataFrame) -> None:
    floats = [name for name, doc in FIELDS.items() if doc.dtype == pl.Float64]
    assert frame.select(pl.col(floats).is_nan().sum()).sum_horizontal().item() == 0


def test_source_nulls_follow_who_has_the_source(frame: pl.DataFrame) -> None:
    individual = frame["applicant_type"] == "individual"
    salaried = frame["segment"] == "salaried"
    assert frame.filter(individual)["annual_tax_paid_minor"].null_count() == individual.sum()
    assert frame.filter(~individual)["annual_tax_paid_minor"].null_count() == 0
    assert frame.filter(salaried)["revenue_m01_minor"].null_count() == salaried.sum()
    assert frame.filter(~salaried)["declared_monthly_revenue_minor"].null_count() == 0
    vehicle = frame.filter(pl.col("vehicle_value_minor").is_not_null())
    assert vehicle.height > 0 and set(vehicle["segment"]) <= {"ride_hailing", "logistics"}
    assert set(vehicle["collateral"]) == {"vehicle"}
    thin = frame["bureau_score"].is_null().mean()
    assert 0.04 < thin < 0.15  # type: ignore[operator]
    bureau = ["bureau_score", "inquiries_6m", "open_loans_elsewhere", "debt_to_income"]
    assert frame.select(pl.col(bureau).is_null().sum()).transpose()["column_0"].n_unique() == 1


def test_ids_dates_and_ranges(frame: pl.DataFrame) -> None:
    assert frame["application_id"].is_unique().all()
    assert frame["application_id"][N_ROWS - 1] == f"A{SEED:04d}-{N_ROWS - 1:07d}"
    as_of = date(2026, 1, 1)
    assert frame["applied_on"].min() >= as_of - timedelta(days=365)  # type: ignore[operator]
    assert frame["applied_on"].max() < as_of  # type: ignore[operator]
    assert frame["age"].min() >= 18 and frame["age"].max() <= 70  # type: ignore[operator]
    shares = ["night_edits_share", "night_driving_share", "recovery_rate", "pd_true"]
    assert frame.select((pl.col(shares).min() >= 0) & (pl.col(shares).max() <= 1)).row(0) == (True,) * 4
    assert set(frame["months_to_default"].drop_nulls()) <= set(range(1, 10))


def test_default_rate_in_band_and_shock_raises_it(frame: pl.DataFrame) -> None:
    baseline = frame["default_12m"].mean()
    assert 0.06 <= baseline <= 0.10  # type: ignore[operator]
    shocked = generate_applications(N_ROWS, SEED, shock=0.5)["default_12m"].mean()
    assert shocked > baseline + 0.02  # type: ignore[operator]
    assert frame["pd_true"].mean() == pytest.approx(baseline, abs=0.005)


def test_outcome_columns_agree(frame: pl.DataFrame) -> None:
    defaulted = frame["default_12m"] == 1
    assert frame.filter(defaulted)["months_to_default"].null_count() == 0
    assert frame.filter(~defaulted)["months_to_default"].null_count() == (~defaulted).sum()
    assert frame.filter(~defaulted)["recovery_rate"].null_count() == (~defaulted).sum()
    assert (frame["ead_minor"] > 0).all()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"n": 0}, "n"),
        ({"n": 5_000_001}, "n"),
        ({"n": 2.5}, "n"),
        ({"n": 10, "seed": -1}, "seed"),
        ({"n": 10, "seed": "7"}, "seed"),
        ({"n": 10, "shock": float("nan")}, "shock"),
        ({"n": 10, "shock": 50.0}, "shock"),
        ({"n": 10, "as_of": "2026-01-01"}, "as_of"),
        ({"n": 10, "shift": {"income_scale": 2}}, "shift"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(SimArgumentError, match=f"^{field}:") as caught:
        generate_applications(**kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert isinstance(caught.value, ValueError)


def test_tiny_frames_work() -> None:
    one = generate_applications(1, 3)
    assert one.height == 1 and one["ring_id"].null_count() == 1
