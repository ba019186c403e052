"""`lendstack repair apply|list|show --json` on SQLite; errors exit 2 naming the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.services.test_credit_repair_service import due_date, loan_with_history
from typer.testing import CliRunner

from lendstack.cli.main import app
from lendstack.store import make_engine, upgrade

runner = CliRunner()


def call(*args: str, code: int = 0) -> Any:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == code, result.output
    return json.loads(result.output)


def test_repair_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'repair.db'}"
    engine = make_engine(url)
    upgrade(engine)
    loan_with_history(engine, "C1", paid=13, late=frozenset({2}))
    engine.dispose()
    monkeypatch.setenv("LENDSTACK_DATABASE_URL", url)
    on = due_date(13).isoformat()
    refused = call("repair", "apply", "--loan", "C1", "--on", on, "--key", "a1")
    assert refused["status"] == "refused" and refused["reasons"][0]["code"] == "not_enough_on_time_months"
    program = tmp_path / "program.yaml"
    program.write_text("months_on_time: 11\n", encoding="utf-8")
    granted = call("repair", "apply", "--loan", "C1", "--on", on, "--key", "a2", "--program", str(program))
    assert granted["status"] == "granted" and granted["grant"]["record_id"] == "C1#2"
    listed = call("repair", "list", "--borrower", "loan:C1")["applications"]
    assert sorted(a["status"] for a in listed) == ["granted", "refused"]
    assert call("repair", "list", "--borrower", "loan:OTHER")["applications"] == []
    assert call("repair", "show", granted["application_id"]) == granted
    view = call("repair", "show", "--loan", "C1")
    assert view["unrepaired_overdue_records"] == 0 and view["records"][0]["repaired"] is True
    assert "信用" not in view["program"]["text"]["en"] and view["program"]["text"]["zh"]
    text = runner.invoke(app, ["repair", "show", "--loan", "C1"])
    assert text.exit_code == 0 and "C1#2" in text.output
    assert call("repair", "apply", "--loan", "NOPE", "--on", on, "--key", "a3", code=2)["error"]["field"] == "loan_id"
    bad_day = call("repair", "apply", "--loan", "C1", "--on", "13/01/2026", "--key", "a3", code=2)
    assert bad_day["error"]["field"] == "on"
    program.write_text("max_records: 0\n", encoding="utf-8")
    assert call("repair", "apply", "--loan", "C1", "--on", on, "--key", "a4", "--program", str(program),
                code=2)["error"]["field"] == "program.max_records"
    assert call("repair", "show", "CR-missing", code=2)["error"]["field"] == "application_id"
    assert call("repair", "list", "--status", "maybe", code=2)["error"]["field"] == "status"
    assert len(call("repair", "list")["applications"]) == 2
