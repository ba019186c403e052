"""`lendstack collections ...` with --json on a small book: run, queue, assign, contact, promise, cases, case,
messages; user errors exit 2 and name the field."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from test_collections_service import OVERDUE_DAY, book, close_days, collectors
from typer.testing import CliRunner

from lendstack.cli.main import app
from lendstack.cli.output import EXIT_CODES
from lendstack.errors import ErrorKind
from lendstack.store import make_engine, upgrade

runner = CliRunner()


def call(*args: str, code: int = 0) -> dict[str, Any]:
    result = runner.invoke(app, ["collections", *args, "--json"])
    assert result.exit_code == code, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def test_collections_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = make_engine(url)
    upgrade(engine)
    book(engine, {"L0": 12_000, "L1": 30_000})
    close_days(engine, OVERDUE_DAY)
    collectors(engine, "ann", "bob")
    engine.dispose()
    monkeypatch.setenv("LENDSTACK_DATABASE_URL", url)
    day = OVERDUE_DAY.isoformat()

    report = call("run", "--as-of", day)
    assert report["cases_opened"] == 2 and report["messages_sent"] > 0
    assert call("run", "--as-of", day)["messages_sent"] == 0
    assert call("run", "--as-of", "2026-02-30", code=2)["error"]["field"] == "as_of"
    # a day end of day has not closed is a conflict with the book's state, not bad input
    assert call("run", "--as-of", "2026-02-21", code=EXIT_CODES[ErrorKind.CONFLICT])["error"]["field"] == "as_of"

    queue = call("queue")["items"]
    assert [c["loan_id"] for c in queue] == ["L1", "L0"]
    top, other = queue[0]["case_id"], queue[1]["case_id"]
    assert call("assign", top, "--to", "ann", "--by", "lead")["collector"] == "ann"
    full = call("assign", other, "--to", "ann", "--by", "lead", "--capacity", "1", code=EXIT_CODES[ErrorKind.CONFLICT])
    assert full["error"]["field"] == "collector"
    assert call("assign", "--auto", "bob", "--by", "lead")["by_collector"] == {"bob": 1}
    assert [c["case_id"] for c in call("queue", "--collector", "ann")["items"]] == [top]

    contact = call("contact", top, "--outcome", "no_answer", "--by", "ann", "--at", f"{day}T09:00:00")
    assert contact["outcome"] == "no_answer"
    assert call("contact", top, "--outcome", "maybe", "--by", "ann", code=2)["error"]["field"] == "outcome"
    promised_for = (OVERDUE_DAY + timedelta(days=2)).isoformat()
    made = call("promise", top, "--amount", "500.00", "--date", promised_for, "--on", day, "--by", "ann")
    assert made["amount_minor"] == 50_000 and made["status"] == "pending"
    assert call("promise", other, "--amount", "-5", "--date", promised_for, "--on", day, "--by", "bob",
                code=2)["error"]["field"] == "amount_minor"
    assert call("promise", other, "--amount", "5", "--date", "2026-02-01", "--on", day, "--by", "bob",
                code=2)["error"]["field"] == "promised_for"
    assert call("promise", "C-NOPE", "--amount", "5", "--date", promised_for, "--on", day, "--by", "bob",
                code=EXIT_CODES[ErrorKind.NOT_FOUND])["error"]["field"] == "case_id"

    case = call("case", top)
    assert [h["kind"] for h in case["history"]] == ["opened", "step", "assigned", "contact", "promise"]
    assert len(case["contacts"]) == 2 and case["promises"][0]["promise_id"] == made["promise_id"]
    assert len(call("cases", "--status", "open")["items"]) == 2
    assert call("cases", "--status", "nope", code=2)["error"]["field"] == "status"
    messages = call("messages", "--as-of", day)["items"]
    assert messages and all(m["body"]["zh-CN"] and m["body"]["en"] for m in messages)
