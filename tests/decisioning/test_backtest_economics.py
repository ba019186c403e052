"""Backtests that read history as the schema says (dates from CSV, named errors), refuse or refer a
term outside the product, check affordability after the new loan, and report the economics: expected
profit under stated assumptions, approvals priced below cost, and swap sets between two policies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from decisioning_helpers import App, Bundle
from typer.testing import CliRunner

from lendstack.cli.main import app
from lendstack.decisioning import ScoringModel, decide, load_policy
from lendstack.decisioning.backtest import (
    BacktestError,
    Economics,
    backtest,
    balance_years,
    decide_frame,
    history_frame,
    score_frame,
)
from lendstack.decisioning.expr import compile_expression
from lendstack.decisioning.names import NAME_TYPES
from lendstack.scoring import read_table

runner = CliRunner()
POLICIES = ("consumer_v1", "consumer_v2", "micro_business_v1")


def test_a_csv_history_with_dates_backtests_like_the_frame(tmp_path: Path, sample: pl.DataFrame,
                                                           small_model: ScoringModel) -> None:
    file = tmp_path / "history.csv"
    sample.write_csv(file)
    from_csv = read_table(file)
    assert from_csv.get_column("applied_on").dtype == pl.String  # as a CSV gives it
    policy = load_policy("consumer_v1")
    assert backtest(from_csv, policy, small_model) == backtest(sample, policy, small_model)


@pytest.mark.parametrize(("column", "value", "needle"), [
    ("applied_on", "2024-02-30", "is not a date written YYYY-MM-DD (row 3: '2024-02-30')"),
    ("age", "forty", "is not a whole number"),
    ("age", "150", "outside [18, 100]"),
    ("debt_to_income", "NaN", "outside [0, 1000] or not a number"),
    ("requested_amount_minor", "", "missing where a value is required"),
])
def test_a_bad_history_value_names_the_column_and_the_row(sample: pl.DataFrame, column: str, value: str,
                                                          needle: str) -> None:
    frame = sample.head(5).with_columns(pl.col(column).cast(pl.String))
    frame = frame.with_columns(pl.when(pl.int_range(pl.len()) == 2).then(pl.lit(value or None))
                               .otherwise(pl.col(column)).alias(column))
    with pytest.raises(BacktestError) as caught:
        history_frame(frame)
    assert caught.value.field == column and needle in caught.value.message


def test_backtest_cli_reads_dates_and_names_a_bad_one(tmp_path: Path, sample: pl.DataFrame, small_model: ScoringModel,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("lendstack.services.models.scoring_model", lambda **_kwargs: small_model)
    file = tmp_path / "history.csv"
    sample.write_csv(file)
    result = runner.invoke(app, ["backtest", "--policy", "consumer_v1", "--against", "consumer_v2", "--data", str(file),
                                 "--funding-rate", "0.03", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["economics_assumptions"]["funding_rate_annual"] == 0.03
    assert report["policies"]["consumer@1"]["economics_assumptions"]["funding_from"] == "option"
    assert "swap_sets" in report and "disagreement" in report
    text = runner.invoke(app, ["backtest", "--policy", "consumer_v1", "--data", str(file)])
    assert text.exit_code == 0 and "expected profit" in text.output and "预期利润" in text.output
    bad = tmp_path / "bad.csv"
    sample.with_columns(pl.col("applied_on").cast(pl.String).str.replace(r"-\d\d$", "-32")).write_csv(bad)
    failed = runner.invoke(app, ["backtest", "--policy", "consumer_v1", "--data", str(bad), "--json"])
    assert failed.exit_code == 2 and json.loads(failed.output)["error"]["field"] == "applied_on"
    wrong = runner.invoke(app, ["backtest", "--policy", "consumer_v1", "--data", str(file), "--ead-share", "0",
                                "--json"])
    assert wrong.exit_code == 2 and json.loads(wrong.output)["error"]["field"] == "ead_share"


def _row(sample: pl.DataFrame, **changes: Any) -> dict[str, Any]:
    for i in range(sample.height):
        row = sample.row(i, named=True)
        if row["applicant_type"] == "individual" and 6 <= row["requested_term_months"] <= 24:
            return {**row, **changes}
    raise AssertionError("no individual with an in-range term")


@pytest.mark.parametrize(("term", "code"), [(3, "TERM_BELOW_MINIMUM"), (36, "TERM_ABOVE_MAXIMUM")])
def test_a_term_outside_the_product_is_referred_not_lengthened(sample: pl.DataFrame, small_model: ScoringModel,
                                                               term: int, code: str) -> None:
    policy = load_policy("consumer_v1")
    row = _row(sample, requested_term_months=term)
    decision = decide(App(row["application_id"]), Bundle(), [], row, policy, small_model)
    reasons = {r.code: r for r in decision.reasons}
    assert code in reasons and reasons[code].action == "refer" and decision.outcome != "approve"
    assert decision.offer is None and f"{term} months" in reasons[code].en and reasons[code].zh
    batch = decide_frame(pl.DataFrame([row], schema=sample.schema), policy,
                         score_frame(pl.DataFrame([row], schema=sample.schema), small_model))
    assert batch.item(0, "outcome") == decision.outcome and batch.item(0, "term_outside_product")
    strict = policy.document.model_copy(update={"decision": policy.document.decision.model_copy(
        update={"term_outside_product": "decline"})})
    declined = decide(App(row["application_id"]), Bundle(), [], row, _with(policy, strict), small_model)
    assert declined.outcome == "decline"


def _with(policy: Any, document: Any) -> Any:
    import dataclasses

    return dataclasses.replace(policy, document=document)


@pytest.mark.parametrize(("name", "share", "income"), [
    ("consumer_v1", 0.6, "coalesce(monthly_income_minor, revenue_mean_12m_minor * 0.5)"),
    ("consumer_v2", 0.7, "coalesce(monthly_income_minor, revenue_mean_12m_minor * 0.5)"),
    ("micro_business_v1", 0.4,
     "coalesce(revenue_mean_12m_minor, invoice_revenue_12m_minor / 12, monthly_income_minor)"),
])
def test_no_approval_ends_above_the_policy_debt_service_threshold(sample: pl.DataFrame, small_model: ScoringModel,
                                                                   name: str, share: float, income: str) -> None:
    policy = load_policy(name)
    assert "debt_service_after_loan" in [rule.name for rule, _ in policy.rules]
    decided = decide_frame(sample, policy, score_frame(sample, small_model))
    measure = compile_expression(f"coalesce(debt_to_income * monthly_income_minor, 0) + new_instalment_minor "
                                 f"> {share} * {income}", types=NAME_TYPES, result="bool")
    frame = history_frame(sample).with_columns(decided.get_column("new_instalment_minor"))
    above = frame.select(measure.to_polars().fill_null(False)).to_series()
    approved = decided.get_column("outcome") == "approve"
    assert approved.sum() > 0.2 * sample.height  # volumes stay sensible
    assert not (above & approved).any()
    # The limit counts the debt already carried: more existing debt, a smaller limit (below the caps).
    limits = []
    for i in range(40):
        row = {**sample.row(i, named=True), "debt_to_income": 0.05}
        light = decide(App(row["application_id"]), Bundle(), [], row, policy, small_model).limit_minor
        heavy = decide(App(row["application_id"]), Bundle(), [], {**row, "debt_to_income": 0.3}, policy,
                       small_model).limit_minor
        assert heavy <= light
        limits.append((light, heavy))
    assert sum(heavy < light for light, heavy in limits) >= 10


def test_economics_add_up_and_state_their_assumptions(sample: pl.DataFrame, small_model: ScoringModel) -> None:
    report = backtest(sample, load_policy("consumer_v1"), small_model, economics=Economics(cost_per_loan_minor=500))
    overall = report["policies"]["consumer@1"]["overall"]
    money = overall["economics"]
    assert money["expected_profit_minor"] == pytest.approx(
        money["interest_income_minor"] - money["expected_loss_minor"] - money["funding_cost_minor"]
        - money["operating_cost_minor"], abs=3)
    assert money["expected_loss_minor"] == pytest.approx(overall["expected_loss_minor"], abs=1)  # ead_share 1
    assert money["interest_income_minor"] > money["funding_cost_minor"] > 0
    assumptions = report["policies"]["consumer@1"]["economics_assumptions"]
    assert assumptions["funding_rate_annual"] == 0.025 and assumptions["funding_from"] == "policy pricing"
    assert assumptions["cost_per_loan_minor"] == 500 and "PD" in assumptions["loss"]
    with pytest.raises(ValueError, match="annual share"):
        Economics(funding_rate_annual=3.0)


def test_balance_years_match_the_schedules() -> None:
    amount, rate, term = np.array([1200.0] * 3), np.array([0.12] * 3), np.array([12.0] * 3)
    years = balance_years(amount, rate, term, np.array(["equal_installment", "equal_principal", "interest_only"]))
    monthly = 0.01
    payment = 1200 * monthly / (1 - (1 + monthly) ** -12)
    assert years[0] * 0.12 == pytest.approx(12 * payment - 1200)  # interest of the annuity
    assert years[1] == pytest.approx(1200 * 13 / 24) and years[2] == pytest.approx(1200.0)


def test_approvals_priced_below_cost_are_counted(sample: pl.DataFrame, small_model: ScoringModel) -> None:
    policy = load_policy("consumer_v2")
    decided = decide_frame(sample, policy, score_frame(sample, small_model))
    below = decided.filter(pl.col("priced_below_cost"))
    assert below.height > 0
    assert (below.get_column("rate_unclamped_annual") > below.get_column("rate_annual")).all()
    assert (decided.filter(~pl.col("priced_below_cost")).get_column("rate_unclamped_annual")
            <= 0.18 + 1e-12).all()  # consumer product maximum
    kpis = backtest(sample, policy, small_model)["policies"]["consumer@2"]["overall"]["priced_below_cost"]
    approved = decided.filter(pl.col("outcome") == "approve")
    assert kpis["count"] == approved.get_column("priced_below_cost").sum() > 0
    assert kpis["average_rate_gap_annual"] > 0


def test_swap_sets_partition_the_approvals(sample: pl.DataFrame, small_model: ScoringModel) -> None:
    report = backtest(sample, load_policy("consumer_v1"), small_model, load_policy("micro_business_v1"))
    swaps = report["swap_sets"]
    first, second = report["policies"]["consumer@1"]["overall"], report["policies"]["micro_business@1"]["overall"]
    only_first, only_second = swaps["approved_by_consumer@1_only"], swaps["approved_by_micro_business@1_only"]
    both = swaps["approved_by_both"]["count"]
    assert only_first["count"] + both == first["approved"] and only_second["count"] + both == second["approved"]
    assert only_first["count"] > 0 and only_second["count"] > 0
    assert only_first["declined_by_other"] + only_first["referred_by_other"] == only_first["count"]
    matrix = report["disagreement"]
    assert only_first["declined_by_other"] == matrix["approve"]["decline"]
    realised = sample.join(
        decide_frame(sample, load_policy("consumer_v1"), score_frame(sample, small_model)).select(
            "application_id", "outcome"), on="application_id")
    assert only_first["realized_bad_rate"] is not None and 0 <= only_first["realized_bad_rate"] <= 1
    assert realised.height == sample.height
