"""The pure decision core: determinism, source failures, knockouts, fraud severities, bad input,
columnar == online, champion/challenger split."""

from __future__ import annotations

import dataclasses
from typing import Any

import polars as pl
import pytest
from decisioning_helpers import App, Bundle, Failed, StubFlag

from lendstack.decisioning import DecisionInputError, Experiment, ScoringModel, assign, decide, load_policy
from lendstack.decisioning.backtest import backtest, decide_frame, score_frame
from lendstack.decisioning.champion import compare

POLICY = load_policy("consumer_v1")


def _row(sample: pl.DataFrame, i: int = 0, **changes: Any) -> dict[str, Any]:
    return {**sample.row(i, named=True), **changes}


def _approvable(sample: pl.DataFrame, model: ScoringModel) -> dict[str, Any]:
    for i in range(sample.height):
        row = _row(sample, i)
        if decide(App(row["application_id"]), Bundle(), [], row, POLICY, model).outcome == "approve":
            return row
    raise AssertionError("no approvable application in the sample")


def test_decide_is_deterministic(sample: pl.DataFrame, small_model: ScoringModel) -> None:
    row = _approvable(sample, small_model)
    first = decide(App(row["application_id"]), Bundle(), [], row, POLICY, small_model)
    again = decide(App(row["application_id"]), Bundle(), [], dict(row), POLICY, small_model)
    assert first == again and first.to_dict() == again.to_dict()
    assert first.offer is not None and first.offer.amount_minor <= first.limit_minor
    assert first.policy_hash == POLICY.content_hash and first.model_version == "test-v1"
    assert first.fingerprints == (("bureau", "ab" * 32),)
    assert [r.source for r in first.reasons if r.source == "model"], "model reason codes are given"
    assert all(r.en and r.zh for r in first.reasons)
    components = dict(first.pricing)
    assert components["rate_annual"] == str(first.rate_annual)


@pytest.mark.parametrize(("source", "outcome"), [("bureau", "refer"), ("pos", "approve")])
def test_source_failure_follows_the_policy(sample: pl.DataFrame, small_model: ScoringModel, source: str,
                                           outcome: str) -> None:
    row = _approvable(sample, small_model)
    decision = decide(App(row["application_id"]), Bundle(failures=(Failed(source, "timeout"),)), [], row, POLICY,
                      small_model)
    assert decision.outcome == outcome
    code = f"SOURCE_{source.upper()}_TIMEOUT"
    assert code in [r.code for r in decision.reasons]


def test_source_failure_can_decline(sample: pl.DataFrame, small_model: ScoringModel) -> None:
    row = _approvable(sample, small_model)
    document = POLICY.document.model_copy(update={"source_failures": {"bureau": "decline"}})
    strict = dataclasses.replace(POLICY, document=document)
    decision = decide(App(row["application_id"]), Bundle(failures=(Failed("bureau", "error"),)), [], row, strict,
                      small_model)
    assert decision.outcome == "decline" and decision.reasons[0].code == "SOURCE_BUREAU_ERROR"


def test_knockouts_decline_with_their_code(sample: pl.DataFrame, small_model: ScoringModel) -> None:
    row = _approvable(sample, small_model) | {"age": 70}
    decision = decide(App(row["application_id"]), Bundle(), [], row, POLICY, small_model)
    assert decision.outcome == "decline" and decision.offer is None
    assert ("AGE_OUT_OF_RANGE", "knockout") in [(r.code, r.source) for r in decision.reasons]


@pytest.mark.parametrize(("severity", "outcome"), [("warn", "approve"), ("high", "refer"), ("critical", "decline")])
def test_fraud_flags_by_severity(sample: pl.DataFrame, small_model: ScoringModel, severity: str, outcome: str) -> None:
    row = _approvable(sample, small_model)
    decision = decide(App(row["application_id"]), Bundle(), [StubFlag("DEVICE_BURST", severity, evidence={"n": 5})],
                      row, POLICY, small_model)
    assert decision.outcome == outcome
    assert decision.flags[0].code == "DEVICE_BURST" and '"n":5' in decision.flags[0].evidence_json


def test_unknown_product_is_a_clear_error(sample: pl.DataFrame, small_model: ScoringModel) -> None:
    with pytest.raises(DecisionInputError) as caught:
        decide(App("X1", product_id="no_such_product"), Bundle(), [], _row(sample), POLICY, small_model)
    assert caught.value.field == "product_id"


def test_columnar_and_online_decisions_are_identical(sample: pl.DataFrame, small_model: ScoringModel) -> None:
    for name in ("consumer_v1", "consumer_v2", "micro_business_v1"):
        policy = load_policy(name)
        batch = decide_frame(sample, policy, score_frame(sample, small_model))
        outcomes = set()
        for i in range(0, sample.height, 2):  # 300 rows per policy
            row = sample.row(i, named=True)
            online = decide(App(row["application_id"]), Bundle(), [], row, policy, small_model)
            want = batch.row(i, named=True)
            got = (online.outcome, online.grade, online.pd, float(online.rate_annual), online.limit_minor)
            assert got == (want["outcome"], want["grade"], want["pd"], want["rate_annual"], want["limit_minor"]), i
            if online.offer is not None:
                assert online.offer.amount_minor == want["amount_minor"]
            outcomes.add(online.outcome)
        assert outcomes == {"approve", "refer", "decline"}, name


def test_backtest_reports_side_by_side(sample: pl.DataFrame, small_model: ScoringModel) -> None:
    report = backtest(sample, load_policy("consumer_v1"), small_model, load_policy("consumer_v2"))
    v1, v2 = report["policies"]["consumer@1"], report["policies"]["consumer@2"]
    for kpis in (v1["overall"], v2["overall"]):
        assert 0 < kpis["approval_rate"] < 1 and kpis["volume_minor"] > 0
        assert kpis["realized_bad_rate"] is not None and kpis["expected_bad_rate"] > 0
    assert "farming" in v1["by_segment"]
    assert sum(sum(row.values()) for row in report["disagreement"].values()) == sample.height


def test_champion_challenger_split_is_deterministic_and_near_the_share() -> None:
    experiment = Experiment("exp1", challenger_share=0.2)
    ids = [f"A{i:07d}" for i in range(20_000)]
    arms = [assign(experiment, i) for i in ids]
    assert arms == [assign(experiment, i) for i in ids]
    share = arms.count("challenger") / len(arms)
    assert 0.19 < share < 0.21
    assert all(assign(Experiment("s", 0.5, mode="shadow"), i) == "champion" for i in ids[:100])
    with pytest.raises(ValueError, match="challenger_share"):
        Experiment("bad", 1.5)


def test_shadow_comparison_report(sample: pl.DataFrame, small_model: ScoringModel) -> None:
    v1, v2 = load_policy("consumer_v1"), load_policy("consumer_v2")
    pairs = []
    for i in range(60):
        row = sample.row(i, named=True)
        pairs.append((decide(App(row["application_id"]), Bundle(), [], row, v1, small_model),
                      decide(App(row["application_id"]), Bundle(), [], row, v2, small_model)))
    report = compare(pairs)
    assert report["applications"] == 60
    assert sum(sum(r.values()) for r in report["disagreement"].values()) == 60  # type: ignore[attr-defined]
