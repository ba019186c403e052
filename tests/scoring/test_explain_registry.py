from __future__ import annotations

import json
from pathlib import Path

import pytest

from lendstack.scoring import ArtifactError, CreditModel, Registry, load_artifact, save_artifact


@pytest.mark.parametrize("kind", ["gbm", "scorecard"])
def test_planted_driver_is_top_reason(kind: str, request: pytest.FixtureRequest, frame) -> None:  # type: ignore[no-untyped-def]
    credit: CreditModel = request.getfixturevalue(kind)
    risky = frame.filter(frame["debt_ratio"] > 0.9).head(30)
    reasons = credit.explain(risky, k=3)
    tops = [r[0].feature for r in reasons if r]
    assert tops.count("debt_ratio") >= 0.8 * len(risky)
    first = reasons[0][0]
    assert first.text_en and first.text_zh and "debt_ratio" in first.text_zh and "偏高" in first.text_zh
    assert next(iter(credit.importance(frame.head(300)))) == "debt_ratio"


def test_round_trip_hash_and_tamper(gbm: CreditModel, tmp_path: Path, frame) -> None:  # type: ignore[no-untyped-def]
    manifest = save_artifact(gbm, tmp_path / "m")
    loaded = load_artifact(tmp_path / "m")
    assert (loaded.predict_pd(frame.head(50)) == gbm.predict_pd(frame.head(50))).all()
    assert len(manifest["content_sha256"]) == 64 and manifest["data_fingerprint"] == gbm.data_fingerprint
    with (tmp_path / "m" / "model.joblib").open("ab") as handle:
        handle.write(b"x")
    with pytest.raises(ArtifactError, match="sha256"):
        load_artifact(tmp_path / "m")


def test_registry_promote_rollback(gbm: CreditModel, scorecard: CreditModel, tmp_path: Path) -> None:
    registry = Registry(tmp_path / "reg")
    first, second = registry.save(gbm), registry.save(scorecard)
    assert (first, second) == ("v0001", "v0002")
    registry.promote(first)
    registry.promote(second)
    assert registry.load().kind == "scorecard"
    assert registry.rollback() == first and registry.champion() == first
    assert [row["champion"] for row in registry.list()] == [True, False]
    assert json.loads((tmp_path / "reg" / "champion.json").read_text())["champion"] == first
    assert not list((tmp_path / "reg" / "versions").glob(".*"))  # no temp dirs left
