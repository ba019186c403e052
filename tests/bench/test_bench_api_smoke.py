"""`lendstack bench api` at toy sizes: a real uvicorn server and real locust processes, a few seconds
each; every key is there, requests succeeded, and every 201 is a stored decision (run() checks)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import api
from lendstack.scoring import TrainOptions
from lendstack.services.models import ensure_default_model

FAST_GBM = {"n_estimators": 60, "learning_rate": 0.1, "early_stopping_rounds": 10, "n_jobs": 1}
KEYS = ("rps_at_saturation", "ms_p50_at_20rps", "ms_p99_at_20rps", "ms_p50_at_saturation", "ms_p99_at_saturation",
        "errors_at_20rps", "errors_at_saturation", "rps_achieved_at_20rps", "requests_at_20rps", "decisions_stored",
        "server_cpu_ms_per_request", "load_average_1m", "cpus", "ms_p99_under_login_flood",
        "p99_ratio_under_login_flood", "p99_ratio_target_under_login_flood", "login_flood_attempts")


def test_bench_api_runs_small(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    registry = tmp_path / "models"
    ensure_default_model(registry, options=TrainOptions(kind="gbm", seed=5, gbm_params=FAST_GBM),
                         rows=2000)
    monkeypatch.setenv("LENDSTACK_MODEL_REGISTRY", str(registry))
    monkeypatch.setenv("LENDSTACK_BENCH_API_RPS", "20")
    monkeypatch.setenv("LENDSTACK_BENCH_API_SECONDS", "2")
    monkeypatch.setenv("LENDSTACK_BENCH_API_SATURATION_SECONDS", "2")
    monkeypatch.setenv("LENDSTACK_BENCH_API_FLOOD_SECONDS", "2")
    monkeypatch.setenv("LENDSTACK_BENCH_API_FLOOD_LOOPS", "2")
    monkeypatch.setenv("LENDSTACK_BENCH_API_USERS", "4")
    monkeypatch.setenv("LENDSTACK_BENCH_API_WARMUP", "5")
    result = api.run(progress=False)
    missing = [key for key in KEYS if key not in result]
    assert not missing, missing
    assert result["errors_at_20rps"] == 0 and result["errors_at_saturation"] == 0
    assert result["requests_at_20rps"] >= 10 and result["ok_at_saturation"] >= 4
    assert 0 < result["ms_p50_at_20rps"] <= result["ms_p99_at_20rps"]
    assert result["rps_at_saturation"] > 0 and result["rps_achieved_at_20rps"] > 0
    # The server really did the work: a decision costs CPU, and not absurdly much of it.
    assert 0.1 < result["server_cpu_ms_per_request"] < 1000, result["server_cpu_ms_per_request"]
    assert result["server"] == "uvicorn, 1 worker"
    # The login flood ran against the console while the paced load was served without an error.
    assert result["errors_under_login_flood"] == 0 and result["ok_under_login_flood"] >= 10
    assert result["login_flood_attempts"] > 0 and result["p99_ratio_target_under_login_flood"] == 3.0
    assert result["p99_ratio_under_login_flood"] > 0
