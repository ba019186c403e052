"""A Shift drifts the population measurably (PSI) while the same seed still gives the same frame."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl
import pytest

from lendstack.sim import Shift, SimArgumentError, generate_applications

N = 20_000
PSI_MAJOR = 0.25  # the usual threshold for a shift worth acting on


def psi(expected: npt.NDArray[np.float64], actual: npt.NDArray[np.float64], bins: int = 10) -> float:
    """Population stability index over the expected sample's deciles."""
    edges = np.unique(np.quantile(expected, np.linspace(0, 1, bins + 1)))
    edges[0], edges[-1] = -np.inf, np.inf
    e = np.histogram(expected, edges)[0] / len(expected) + 1e-6
    a = np.histogram(actual, edges)[0] / len(actual) + 1e-6
    return float(np.sum((a - e) * np.log(a / e)))


def _column(frame: pl.DataFrame, name: str) -> npt.NDArray[np.float64]:
    return frame[name].drop_nulls().cast(pl.Float64).to_numpy()


def test_shift_moves_features_and_keeps_determinism() -> None:
    shift = Shift(income_scale=1.6, inquiries_add=2.0, segment_tilt={"farming": 4.0})
    base, drifted = generate_applications(N, 3), generate_applications(N, 3, shift=shift)
    assert drifted.equals(generate_applications(N, 3, shift=shift))
    assert psi(_column(base, "monthly_income_minor"), _column(drifted, "monthly_income_minor")) > PSI_MAJOR
    assert psi(_column(base, "inquiries_6m"), _column(drifted, "inquiries_6m")) > PSI_MAJOR
    farming = (drifted["segment"] == "farming").mean(), (base["segment"] == "farming").mean()
    assert farming[0] > 2 * farming[1]  # type: ignore[operator]


def test_no_shift_has_small_psi_between_seeds() -> None:
    first, second = generate_applications(N, 3), generate_applications(N, 4)
    assert psi(_column(first, "monthly_income_minor"), _column(second, "monthly_income_minor")) < 0.02


def test_worse_population_defaults_more() -> None:
    base = generate_applications(N, 3)["default_12m"].mean()
    worse = generate_applications(N, 3, shift=Shift(latent_mean=-0.5))["default_12m"].mean()
    assert worse > base  # type: ignore[operator]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"income_scale": 0.0}, "shift.income_scale"),
        ({"inquiries_add": float("inf")}, "shift.inquiries_add"),
        ({"segment_tilt": {"bakery": 2.0}}, "shift.segment_tilt"),
        ({"region_weights": {"east": 0.0}}, "shift.region_weights"),
        ({"packaged_share": 0.9}, "shift.packaged_share"),
    ],
)
def test_bad_shift_names_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(SimArgumentError) as caught:
        Shift(**kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field
