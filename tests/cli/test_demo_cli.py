"""`lendstack demo`: builds a book on an empty SQLite file (atomically), prints one JSON summary with
--json, reuses the book on a second run, refuses bad options naming the field without creating
anything, and serves the site with the staff logins and a partner key printed first."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from lendstack.api.keys import authenticate
from lendstack.cli.main import app
from lendstack.scoring import Registry, TrainOptions
from lendstack.services.demo import DEMO_PARTNER
from lendstack.services.models import train_default_model
from lendstack.store import make_engine

runner = CliRunner()
SMALL = ["--days", "35", "--seed", "3", "--per-day-start", "1.5", "--per-day-end", "2"]
FAST_GBM = {"n_estimators": 60, "learning_rate": 0.1, "early_stopping_rounds": 10, "n_jobs": 1}


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry whose champion is a small model, so the demo does not train the full one."""
    root = tmp_path_factory.mktemp("registry")
    credit = train_default_model(rows=2000, seed=5, options=TrainOptions(kind="gbm", seed=5, gbm_params=FAST_GBM))
    found = Registry(root)
    found.promote(found.save(credit))
    return root


@pytest.fixture(scope="module")
def built(registry: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    """One demo book built through the CLI, and the JSON it printed."""
    path = tmp_path_factory.mktemp("demo") / "lendstack.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LENDSTACK_MODEL_REGISTRY", str(registry))
        mp.setenv("LENDSTACK_DATABASE_URL", f"sqlite:///{path}")
        result = runner.invoke(app, ["demo", *SMALL, "--json", "--no-serve"])
    assert result.exit_code == 0, result.output
    yield path, json.loads(result.output)


@pytest.fixture
def env(built: tuple[Path, dict[str, Any]], registry: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LENDSTACK_MODEL_REGISTRY", str(registry))
    monkeypatch.setenv("LENDSTACK_DATABASE_URL", f"sqlite:///{built[0]}")
    return built[0]


def test_the_first_run_builds_the_book(built: tuple[Path, dict[str, Any]]) -> None:
    path, summary = built
    assert summary["reused"] is False and summary["ledger_verified"] is True and summary["ledger_problems"] == []
    report = summary["report"]
    assert report["days"] == 35 and report["applications"] == sum(summary["decisions"].values()) > 0
    assert report["loans_disbursed"] > 0 and report["repayments"] > 0
    assert summary["trial_balance"]["balanced"] is True
    assert {s["username"] for s in summary["staff"]} >= {"admin", "officer"}
    assert "api_key" not in summary, "no key is made when nothing is served"
    assert path.exists() and not list(path.parent.glob("*.building*")), "built aside, then renamed into place"


def test_a_second_run_reuses_the_book(env: Path, built: tuple[Path, dict[str, Any]]) -> None:
    result = runner.invoke(app, ["demo", "--json", "--no-serve"])
    assert result.exit_code == 0, result.output
    again = json.loads(result.output)
    assert again["reused"] is True and again["report"] is None and again["ledger_verified"] is True
    assert again["trial_balance"] == built[1]["trial_balance"] and again["decisions"] == built[1]["decisions"]
    text = runner.invoke(app, ["demo", "--no-serve"])
    assert text.exit_code == 0 and "reusing the book" in text.output
    assert "officer-demo-pass" in text.output and "员工登录" in text.output


def test_serving_prints_logins_and_a_partner_key_first(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda site, **options: served.update(site=site, **options))
    result = runner.invoke(app, ["demo", "--port", "8123", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert served["host"] == "127.0.0.1" and served["port"] == 8123 and summary["url"] == "http://127.0.0.1:8123"
    assert {route.path for route in served["site"].routes} >= {"/v1/openapi.json", "/login"}
    key = summary["api_key"]
    engine = make_engine(f"sqlite:///{env}")
    principal = authenticate(engine, key["key"])
    engine.dispose()
    assert principal is not None and principal.role == "partner" and principal.partner_id == key["partner_id"]
    client = TestClient(served["site"])
    seen = client.get("/v1/applications?limit=50", headers={"Authorization": f"Bearer {key['key']}"})
    assert seen.status_code == 200 and seen.json()["items"], "the partner sees the applications it brought"
    assert {item["partner_id"] for item in seen.json()["items"]} == {DEMO_PARTNER}
    # A second serve issues a new key and revokes the first: demo credentials do not pile up.
    again = json.loads(runner.invoke(app, ["demo", "--port", "8123", "--json"]).output)["api_key"]
    engine = make_engine(f"sqlite:///{env}")
    try:
        assert again["key"] != key["key"]
        assert authenticate(engine, key["key"]) is None
        assert authenticate(engine, again["key"]) is not None
    finally:
        engine.dispose()


@pytest.mark.parametrize(("args", "field"), [
    (["--days", "0"], "days"), (["--per-day-end", "-2"], "per_day_end"), (["--port", "0"], "port"),
])
def test_bad_options_name_the_field_and_create_nothing(args: list[str], field: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "never.db"
    monkeypatch.setenv("LENDSTACK_DATABASE_URL", f"sqlite:///{path}")
    result = runner.invoke(app, ["demo", *args, "--json", "--no-serve"])
    assert result.exit_code == 2 and json.loads(result.output)["error"]["field"] == field
    assert not path.exists()
