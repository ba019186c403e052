"""`lendstack staff create|list` (JSON output, errors naming the field, exit code 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lendstack.cli.main import app


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LENDSTACK_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")


def test_staff_create_and_list(db: None) -> None:
    runner = CliRunner()
    made = runner.invoke(app, ["staff", "create", "--username", "alice", "--role", "risk_manager",
                               "--password-stdin", "--json"], input="correct horse battery\n")
    assert made.exit_code == 0, made.output
    assert json.loads(made.output)["role"] == "risk_manager"
    listed = runner.invoke(app, ["staff", "list", "--json"])
    assert [u["username"] for u in json.loads(listed.output)["items"]] == ["alice"]
    assert "argon2" not in listed.output


@pytest.mark.parametrize(("args", "password", "field"), [
    (["--username", "bob", "--role", "admin"], "too short\n", "password"),
    (["--username", "bob", "--role", "partner"], "correct horse battery\n", "role"),
    (["--username", "B!", "--role", "admin"], "correct horse battery\n", "username"),
])
def test_staff_create_errors_name_the_field(db: None, args: list[str], password: str, field: str) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["staff", "create", *args, "--password-stdin", "--json"], input=password)
    assert result.exit_code == 2 and json.loads(result.output)["error"]["field"] == field
    assert json.loads(runner.invoke(app, ["staff", "list", "--json"]).output)["items"] == []
