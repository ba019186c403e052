"""`lendstack webhooks dispatch|dead|redeliver --json` on a SQLite file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from lendstack.cli.main import app
from lendstack.cli.output import EXIT_CODES
from lendstack.errors import ErrorKind
from lendstack.store.db import make_engine, upgrade
from lendstack.store.tables_webhooks import webhook_deliveries
from lendstack.webhooks import service as wh
from tests.webhooks.test_webhooks import emit

runner = CliRunner()


def run(*args: str, code: int = 0) -> Any:
    result = runner.invoke(app, ["webhooks", *args, "--json"])
    assert result.exit_code == code, result.output
    return json.loads(result.output)


def test_dispatch_dead_redeliver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("LENDSTACK_DATABASE_URL", url)
    engine = make_engine(url)
    upgrade(engine)
    # Port 9 (discard) on loopback: nothing listens, so the attempt fails fast and is retried later.
    wh.create_subscription(engine, url="http://127.0.0.1:9/hook", event_types=["loan.repaid"])
    emit(engine, "loan.repaid", "L1")
    first = run("dispatch")
    assert first["events_published"] == 1 and first["failed"] == 1
    with engine.begin() as conn:
        conn.execute(update(webhook_deliveries).values(status=wh.DEAD))
    (dead,) = run("dead")["items"]
    assert run("redeliver", dead["delivery_id"])["status"] == "pending"
    assert run("dead")["items"] == []
    # An unknown id exits with the NOT_FOUND code of the CLI's one table (2 before issue 14's error kinds).
    assert run("redeliver", "wd_missing", code=EXIT_CODES[ErrorKind.NOT_FOUND])["error"]["field"] == "delivery_id"
    engine.dispose()
