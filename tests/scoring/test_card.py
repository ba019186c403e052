"""The model card: Markdown and self-contained HTML for a freshly trained model, and for an
artifact written before the training audit existed ("not recorded", never a crash)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lendstack.cli.main import app
from lendstack.scoring import CreditModel, load_artifact, save_artifact
from lendstack.scoring.card import NOT_RECORDED, REJECT_INFERENCE, card_data, render_html, render_markdown
from lendstack.scoring.registry import read_manifest

runner = CliRunner()
HEADINGS = ("Purpose 用途", "Target 目标变量", "Data lineage 数据来源", "Exclusions 排除的列", "Parameters 参数",
            "Performance (held-out) 验证集表现", "Calibration 校准", "Fairness and proxies 公平性与代理变量",
            "Stability 稳定性", "Limitations 局限性", "Version and hash 版本与哈希")
NEW_METRICS = ("auc_ci95", "gains", "calibration_bands", "calibration_flagged")


@pytest.fixture(scope="module")
def artifact(gbm: CreditModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("card") / "gbm"
    save_artifact(gbm, folder)
    return folder


def test_card_of_a_fresh_model(artifact: Path) -> None:
    credit, manifest = load_artifact(artifact), read_manifest(artifact)
    data = card_data(credit, manifest)
    lo, hi = credit.metrics["auc_ci95"]
    assert data["performance"]["auc_ci95"] == [lo, hi] and lo < credit.metrics["auc"] < hi
    assert data["model"]["content_sha256"] == manifest["content_sha256"]
    assert data["target"] == {**data["target"], "column": "target", "bad_value": "bad"}
    assert len(data["gains"]) == 10 and len(data["calibration"]) == 10
    text = render_markdown(data)
    for heading in HEADINGS:
        assert f"## {heading}" in text, heading
    assert f"[{lo:.4f}, {hi:.4f}]" in text and manifest["content_sha256"] in text and REJECT_INFERENCE in text
    assert "debt_ratio" in text and "+1 (PD rises)" in text  # the fixture's monotone constraint
    json.dumps(data)  # JSON-ready as it is


def test_html_card_is_escaped_and_self_contained(artifact: Path) -> None:
    purpose = "<script>alert('x')</script> scoring & pricing"
    page = render_html(card_data(load_artifact(artifact), read_manifest(artifact), purpose))
    assert "<script" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; scoring &amp; pricing" in page
    assert "http://" not in page and "https://" not in page and "<link" not in page and "<img" not in page
    assert page.count("<h2>") == 13 and "Jeffreys" in page


def test_card_of_an_artifact_without_audit(gbm: CreditModel, tmp_path: Path) -> None:
    """An artifact from before this issue: no audit (`__setstate__` gives {}), and held-out
    metrics without the interval, gains and Jeffreys tables."""
    old = CreditModel(gbm.kind, gbm.target, gbm.bad_value, gbm.pipeline, gbm.model, params=dict(gbm.params),
                      metrics={k: v for k, v in gbm.metrics.items() if k not in NEW_METRICS},
                      data_fingerprint=gbm.data_fingerprint, dev_score_edges=gbm.dev_score_edges,
                      dev_score_shares=gbm.dev_score_shares)
    del old.__dict__["audit"]  # as unpickled from an old file, before __setstate__ fills it in
    data = card_data(old, {"version": "v0001", "content_sha256": "ab" * 32})
    assert data["excluded"] is None and data["fairness"] is None and data["performance"]["auc_ci95"] is None
    assert data["data"]["fingerprint"] == gbm.data_fingerprint and data["target"]["bad_rate"] is None
    text = render_markdown(data)
    assert f"Excluded columns: {NOT_RECORDED}" in text and f"Fairness audit: {NOT_RECORDED}" in text
    assert f"AUC 95% CI (DeLong)**: {NOT_RECORDED}" in text and f"Jeffreys test: {NOT_RECORDED}" in text
    assert "Trained before the training audit was recorded" in text
    assert "<script" not in render_html(data)


def test_card_command(artifact: Path, tmp_path: Path) -> None:
    out = tmp_path / "card.html"
    result = runner.invoke(app, ["model", "card", "--model", str(artifact), "--format", "html", "--out", str(out),
                                 "--purpose", "Consumer loans 消费贷款", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["purpose"] == "Consumer loans 消费贷款" and document["written_to"] == str(out)
    assert "Consumer loans 消费贷款" in out.read_text(encoding="utf-8")
    result = runner.invoke(app, ["model", "card", "--model", str(artifact)])
    assert result.exit_code == 0 and "# Model card" in result.stdout
    result = runner.invoke(app, ["model", "card", "--model", str(artifact), "--format", "pdf", "--json"])
    assert result.exit_code == 2 and json.loads(result.stdout)["error"]["field"] == "format"
    result = runner.invoke(app, ["model", "card", "--model", str(tmp_path / "nowhere"), "--json"])
    assert result.exit_code == 2 and json.loads(result.stdout)["error"]["field"] == "model"
