"""Stress projection: scenario documents validated by field, hand-checked arithmetic, and the
invariants as properties: zero shocks reproduce the unstressed numbers, a more severe scenario
never loses less, losses never exceed exposure, money stays integer."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.monitoring.books import loan, loans_frame

from lendstack.risk.ecl import DEFAULT_PD_12M, EclConfig, ecl_by_currency, loan_ecl
from lendstack.risk.stress import (
    HORIZON_MONTHS,
    ScenarioSet,
    StressError,
    irb_retail_k,
    load_scenarios,
    parse_scenarios,
    prepare_book,
    project,
    scheduled_principal,
    shift_pd,
)

AS_OF = date(2026, 1, 31)
SEGMENTS = ("salaried", "restaurant", "farming")
BUCKETS = ("M0", "M1", "M2", "M3", "M4")
DPD = {"M0": 0, "M1": 10, "M2": 45, "M3": 75, "M4": 100}


def document(**shocks: Any) -> dict[str, Any]:
    """A set with the baseline and one scenario `s` with the given shocks."""
    return {"version": "t", "transmission": {
        "revenue_logit_per_pct": 0.02, "unemployment_logit_per_pp": 0.12, "rate_logit_per_100bp": 0.1,
        "segments": {"salaried": {"revenue": 0.3, "unemployment": 1.6}},
        "collateral_recovery_share": {"none": 0.0, "property": 0.9}},
        "scenarios": [{"name": "baseline", "name_zh": "基准"},
                      {"name": "s", "name_zh": "情景", "phase_in_months": 3, "shocks": shocks}]}


def schedule(rows: list[tuple[str, int, int]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"loan_id": pl.String, "month": pl.Int64, "principal_due_minor": pl.Int64},
                        orient="row")


def run(frame: pl.DataFrame, sched: pl.DataFrame, doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    scenarios = parse_scenarios(doc)
    return {r["name"]: r for r in project(prepare_book(frame, sched, scenarios.transmission), scenarios)}


def test_the_packaged_set_has_baseline_adverse_and_severe() -> None:
    packaged = load_scenarios()
    assert [s.name for s in packaged.scenarios] == ["baseline", "adverse", "severe"]
    assert packaged.get("baseline").shocks.is_zero()
    assert packaged.get("severe").shocks.revenue_fall("restaurant") == 45
    assert packaged.get("severe").shocks.revenue_fall("unlisted") == 25  # the default entry
    assert all(s.name_zh for s in packaged.scenarios)


@pytest.mark.parametrize(("change", "field"), [
    (lambda d: d["scenarios"][1]["shocks"].update(unemployment_change_pp=99),
     "scenarios.1.shocks.unemployment_change_pp"),
    (lambda d: d["scenarios"][1]["shocks"].update(revenue_fall_pct={"retail": 150}),
     "scenarios.1.shocks.revenue_fall_pct"),
    (lambda d: d["scenarios"][1]["shocks"].update(colour=1), "scenarios.1.shocks.colour"),
    (lambda d: d["scenarios"][1].update(phase_in_months=0), "scenarios.1.phase_in_months"),
    (lambda d: d["scenarios"][1].update(name="Bad Name"), "scenarios.1.name"),
    (lambda d: d["scenarios"].pop(0), "scenarios"),
    (lambda d: d["scenarios"].append(dict(d["scenarios"][1])), "scenarios"),
    (lambda d: d["transmission"].update(rate_logit_per_100bp=-0.1), "transmission.rate_logit_per_100bp"),
    (lambda d: d["transmission"]["collateral_recovery_share"].update(property=1.5),
     "transmission.collateral_recovery_share"),
    (lambda d: d.pop("transmission"), "transmission"),
])
def test_a_bad_document_names_the_field(change: Any, field: str) -> None:
    doc = document()
    change(doc)
    with pytest.raises(StressError) as err:
        parse_scenarios(doc)
    assert err.value.field == field


def test_a_bad_file_names_the_field(tmp_path: Any) -> None:
    with pytest.raises(StressError) as err:
        load_scenarios(tmp_path / "missing.yaml")
    assert err.value.field == "scenarios"
    (tmp_path / "bad.yaml").write_text("scenarios: [\n", encoding="utf-8")
    with pytest.raises(StressError, match="not valid YAML"):
        load_scenarios(tmp_path / "bad.yaml")


def test_hand_checked_bullet_loan() -> None:
    """No amortisation, constant hazard: 12-month defaults = the annual PD, loss = PD × LGD × EAD."""
    frame = loans_frame(loan("A", principal_disbursed_minor=100_000))
    out = run(frame, schedule([]), document())["baseline"]
    totals = out["totals"]["CNY"]
    assert totals["defaults"] == pytest.approx(DEFAULT_PD_12M["M0"])
    assert totals["losses_minor"] == round(0.02 * 0.45 * 100_000) == 900
    assert sum(m["losses_minor"] for m in out["months"]) == 900
    assert totals["ecl_now_minor"] == ecl_by_currency(loan_ecl(frame))["CNY"] == 900
    # survivors (98 %) keep stage 1 at month 12: ECL = 0.98 × 0.02 × 0.45 × 100,000
    assert totals["ecl_month12_minor"] == 882
    assert out["vs_baseline"]["CNY"]["losses_delta_minor"] == 0


def test_amortisation_lowers_exposure_month_by_month() -> None:
    frame = loans_frame(loan("A", principal_disbursed_minor=120_000))
    sched = schedule([("A", m, 10_000) for m in range(1, 13)])
    out = run(frame, sched, document())["baseline"]
    exposures = [m["exposure_minor"] for m in out["months"]]
    assert exposures[0] == 120_000 and all(a > b for a, b in itertools.pairwise(exposures))
    assert out["totals"]["CNY"]["exposure_month12_minor"] == 0 and out["totals"]["CNY"]["ecl_month12_minor"] == 0
    assert out["totals"]["CNY"]["losses_minor"] < 900  # less exposure at risk than the bullet loan


def test_scheduled_principal_by_month() -> None:
    inst = pl.DataFrame({
        "loan_id": ["A"] * 4, "due_date": [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 1), date(2027, 2, 1)],
        "principal_minor": [100, 200, 300, 400], "principal_paid_minor": [100, 50, 0, 0],
        "capitalized": [False] * 4})
    got = scheduled_principal(inst, AS_OF).to_dicts()
    # due on as_of: not amortisation; 28 Feb is month 1 (31 Jan + 1 month = 28 Feb); 2027 is past month 12
    assert got == [{"loan_id": "A", "month": 1, "principal_due_minor": 150},
                   {"loan_id": "A", "month": 2, "principal_due_minor": 300}]


def test_collateral_fall_raises_lgd_only_for_secured_loans() -> None:
    frame = loans_frame(loan("U"), loan("S")).with_columns(pl.Series("collateral", ["none", "property"]))
    out = run(frame, schedule([]), document(collateral_price_fall_pct=50))
    base, stressed = out["baseline"]["totals"]["CNY"], out["s"]["totals"]["CNY"]
    assert base["losses_minor"] == 1_800
    # secured: LGD' = 1 − 0.55 × (1 − 0.9 × 0.5) = 0.6975; unsecured unchanged
    assert stressed["losses_minor"] == 900 + round(0.02 * 0.6975 * 100_000)
    assert stressed["defaults"] == pytest.approx(base["defaults"])  # PDs untouched by collateral


def test_doubling_pd_moves_loans_to_stage_2_and_raises_capital() -> None:
    frame = loans_frame(*(loan(f"L{k}") for k in range(3)))
    out = run(frame, schedule([]), document(unemployment_change_pp=10))
    base, stressed = out["baseline"]["totals"]["CNY"], out["s"]["totals"]["CNY"]
    assert base["stage2_loans_month12"] == 0
    assert stressed["stage2_loans_month12"] > 2.5  # shift 1.2 on every loan: PD 2 % → 6.4 %
    assert stressed["ecl_month12_minor"] > base["ecl_month12_minor"]
    assert stressed["capital_need_minor"] > base["capital_need_minor"] > 0
    assert stressed["capital_requirement_minor"] == (stressed["rwa_minor"] * 8 + 50) // 100


def test_irb_retail_capital_matches_the_basel_formula() -> None:
    # other retail, PD 1 %, LGD 45 %: K ≈ 3.66 %, risk weight ≈ 45.7 %
    k = float(irb_retail_k(np.array([0.01]), np.array([0.45]))[0])
    assert k == pytest.approx(0.0366, abs=3e-4)
    assert float(irb_retail_k(np.array([0.0]), np.array([0.45]))[0]) > 0  # floored at 0.05 %


def test_shift_pd_is_exact_at_zero_and_monotone() -> None:
    pds = np.array([0.0, 0.02, 0.45, 1.0])
    assert np.array_equal(shift_pd(pds, np.zeros(4)), pds)
    up, down = shift_pd(pds, np.full(4, 0.5)), shift_pd(pds, np.full(4, -0.5))
    assert np.all(up >= pds) and np.all(down <= pds) and up[0] == 0 and up[3] == 1


def test_defaulted_loans_are_stock_not_new_defaults() -> None:
    frame = loans_frame(loan("D", days_past_due=120, bucket="M4"), loan("W", status="written_off"))
    out = run(frame, schedule([]), document(collateral_price_fall_pct=20))
    totals = out["baseline"]["totals"]["CNY"]
    assert totals["performing_loans"] == 0 and totals["defaulted_loans_now"] == 1 and totals["losses_minor"] == 0
    assert totals["ecl_month12_minor"] == totals["ecl_now_minor"] == 45_000


# --------------------------------------------------------------------------- properties

shock_values = st.fixed_dictionaries({
    "revenue": st.floats(0, 50), "unemployment": st.floats(0, 10), "rate": st.floats(0, 500),
    "collateral": st.floats(0, 50)})


def shocks_of(values: dict[str, float]) -> dict[str, Any]:
    return {"revenue_fall_pct": {"default": values["revenue"], "restaurant": min(100.0, 1.6 * values["revenue"])},
            "unemployment_change_pp": values["unemployment"], "policy_rate_rise_bp": values["rate"],
            "collateral_price_fall_pct": values["collateral"]}


@st.composite
def books(draw: st.DrawFn) -> tuple[pl.DataFrame, pl.DataFrame]:
    n = draw(st.integers(1, 6))
    rows, sched = [], []
    for k in range(n):
        bucket = draw(st.sampled_from(BUCKETS))
        principal = draw(st.integers(0, 10**9))
        rows.append(loan(f"L{k}", bucket=bucket, days_past_due=DPD[bucket], principal_disbursed_minor=principal,
                         interest_accrued_minor=draw(st.integers(0, 10**6)),
                         currency=draw(st.sampled_from(["CNY", "USD"])),
                         product_id=draw(st.sampled_from(["p1", "p2"]))))
        for month in draw(st.lists(st.integers(1, HORIZON_MONTHS), max_size=4, unique=True)):
            sched.append((f"L{k}", month, draw(st.integers(0, principal // 4 + 1))))
    frame = loans_frame(*rows).with_columns(
        pl.Series("segment", [draw(st.sampled_from([*SEGMENTS, ""])) for _ in rows]),
        pl.Series("collateral", [draw(st.sampled_from(["none", "property", "unknown"])) for _ in rows]),
        pl.Series("pd_origination", [draw(st.one_of(st.none(), st.floats(0.001, 0.5))) for _ in rows]))
    return frame, schedule(sched)


def _integers(result: dict[str, Any]) -> None:
    for month in result["months"]:
        assert isinstance(month["losses_minor"], int) and month["losses_minor"] >= 0
    for totals in result["totals"].values():
        assert all(isinstance(v, int) for k, v in totals.items() if k.endswith("_minor") and not isinstance(v, dict))
        assert all(isinstance(v, int) for v in totals["losses_by_segment_minor"].values())


@settings(max_examples=60, deadline=None)
@given(book=books(), mild=shock_values, extra=shock_values)
def test_more_severe_never_loses_less_and_losses_stay_within_exposure(
        book: tuple[pl.DataFrame, pl.DataFrame], mild: dict[str, float], extra: dict[str, float]) -> None:
    frame, sched = book
    severe = {k: mild[k] + extra[k] for k in mild}
    doc = document(**shocks_of(mild))
    doc["scenarios"].append({"name": "t", "name_zh": "严重", "phase_in_months": 3, "shocks": shocks_of(severe)})
    out = run(frame, sched, doc)
    for currency, base in out["baseline"]["totals"].items():
        a, b = out["s"]["totals"][currency], out["t"]["totals"][currency]
        assert base["losses_minor"] <= a["losses_minor"] <= b["losses_minor"]
        assert base["defaults"] <= a["defaults"] + 1e-9 and a["defaults"] <= b["defaults"] + 1e-9
        assert b["losses_minor"] <= b["exposure_start_minor"]
        cumulative = [m["cumulative_losses_minor"] for m in out["t"]["months"] if m["currency"] == currency]
        assert cumulative == sorted(cumulative) and cumulative[-1] == b["losses_minor"]
    for result in out.values():
        _integers(result)


@settings(max_examples=40, deadline=None)
@given(book=books())
def test_zero_shocks_reproduce_the_unstressed_numbers(book: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    frame, sched = book
    out = run(frame, sched, document(revenue_fall_pct={"default": 0}))
    assert out["s"]["totals"] == out["baseline"]["totals"]
    assert all(v == 0 for d in out["s"]["vs_baseline"].values() for v in d.values())
    cfg = EclConfig()
    assert {c: t["ecl_now_minor"] for c, t in out["baseline"]["totals"].items()} == {
        c: v for c, v in ecl_by_currency(loan_ecl(frame, cfg)).items()}
    reference = _reference_losses(frame, sched)
    for currency, totals in out["baseline"]["totals"].items():  # one float summation order against another
        assert abs(totals["losses_minor"] - reference.get(currency, 0)) <= frame.height


def _reference_losses(frame: pl.DataFrame, sched: pl.DataFrame) -> dict[str, int]:
    """The unstressed losses recomputed loan by loan, month by month, in plain Python."""
    due: dict[tuple[str, int], int] = {}
    for r in sched.iter_rows(named=True):
        due[(r["loan_id"], r["month"])] = due.get((r["loan_id"], r["month"]), 0) + r["principal_due_minor"]
    expected: dict[str, int] = {}
    for r in frame.iter_rows(named=True):
        if r["status"] not in ("active", "overdue") or r["days_past_due"] > 90:
            continue
        pd = DEFAULT_PD_12M[r["bucket"]]
        hazard = 1 - (1 - pd) ** (1 / 12)
        ead = r["principal_disbursed_minor"] + r["interest_accrued_minor"]
        survival, loss = 1.0, 0.0
        for month in range(1, HORIZON_MONTHS + 1):
            loss += survival * hazard * 0.45 * ead
            survival *= 1 - hazard
            ead = max(0, ead - due.get((r["loan_id"], month), 0))
        expected[r["currency"]] = expected.get(r["currency"], 0) + round(loss)
    return expected


def test_scenarios_are_validated_once_loaded() -> None:
    assert isinstance(load_scenarios(), ScenarioSet)


def test_scenario_numbers_are_exact_decimals_and_results_show_floats(tmp_path: Any) -> None:
    """Issue 14 item 3: scenarios load through lendstack.documents, numbers as Decimal from their text;
    the projection converts them to the same floats as before, and the results still show floats."""
    from decimal import Decimal

    from lendstack.documents import DocumentError

    packaged = load_scenarios()
    assert packaged.transmission.revenue_logit_per_pct == Decimal("0.02")
    assert packaged.transmission.segments["salaried"].unemployment == Decimal("1.6")
    severe = packaged.get("severe")
    assert isinstance(severe.shocks.unemployment_change_pp, Decimal)
    shocks = severe.shocks.to_json()
    assert shocks == severe.shocks.model_dump(mode="json") | {
        key: float(value) for key, value in severe.shocks.model_dump().items() if not isinstance(value, dict)} | {
        "revenue_fall_pct": {k: float(v) for k, v in severe.shocks.revenue_fall_pct.items()}}
    assert all(type(v) is float for v in shocks["revenue_fall_pct"].values())
    assert list(shocks) == ["revenue_fall_pct", "unemployment_change_pp", "policy_rate_rise_bp",
                            "collateral_price_fall_pct"]
    bad = tmp_path / "s.yaml"
    bad.write_text("version: x\nversion: y\n", encoding="utf-8")
    with pytest.raises(DocumentError) as err:  # one error type for any bad config file
        load_scenarios(bad)
    assert isinstance(err.value, StressError) and err.value.field == "version" and err.value.line == 2
    assert err.value.message.startswith(f"{bad}:2: duplicate key")  # stress errors name the place in the message
