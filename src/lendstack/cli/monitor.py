"""`lendstack monitor ingest|run|alerts|ack|assign|close`: post-loan data and early-warning alerts."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from lendstack.cli.context import open_engine, parse_day
from lendstack.cli.output import fail, print_json, print_pairs, print_table, run_or_fail

# Mirrors lendstack.monitoring.early_warning.ALERT_STATUSES: that module loads only when a command runs, so that
# `lendstack --help` starts at once; tests/cli/test_cli_startup.py checks that the two agree.
ALERT_STATUSES = ("open", "acknowledged", "assigned", "closed")
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document")]
ByOpt = Annotated[str, typer.Option("--by", help="Who does it (staff id)")]
NoteOpt = Annotated[str, typer.Option("--note", help="A note for the history")]
monitor_app = typer.Typer(help="Post-loan monitoring: data ingestion and early-warning alerts.", no_args_is_help=True)
_RECORD_KEYS = ("loan_id", "source", "as_of")


def register(app: typer.Typer) -> None:
    app.add_typer(monitor_app, name="monitor")


def read_records(path: Path) -> list[Any]:
    """Records from JSON lines, or CSV with loan_id, source, as_of and either a JSON `payload` column or the
    payload fields as columns (numbers parsed). Unreadable input is an EarlyWarningError naming the line."""
    from lendstack.monitoring.early_warning import EarlyWarningError

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise EarlyWarningError("file", f"cannot read {path}: {exc.strerror}") from None
    if path.suffix == ".jsonl":
        return [_json_line(line, n) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if path.suffix == ".csv":
        return [_csv_record(row, n) for n, row in enumerate(csv.DictReader(text.splitlines()), start=2)]
    raise EarlyWarningError("file", f"expected a .jsonl or .csv file, got {path.name!r}")


def _json_line(line: str, number: int) -> Any:
    from lendstack.monitoring.early_warning import EarlyWarningError

    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise EarlyWarningError(f"line {number}", f"not JSON: {exc.msg}") from None


def _csv_record(row: dict[str, str], number: int) -> dict[str, Any]:
    record: dict[str, Any] = {key: row.get(key) for key in _RECORD_KEYS}
    if "payload" in row:
        record["payload"] = _json_line(row["payload"] or "", number)
    else:
        record["payload"] = {k: _scalar(v) for k, v in row.items() if k not in _RECORD_KEYS and v not in (None, "")}
    return record


def _scalar(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


@monitor_app.command("ingest")
def ingest_cmd(file: Annotated[Path, typer.Argument(help="FILE.jsonl or FILE.csv")], as_json: JsonOpt = False) -> None:
    """Store a batch of post-loan data (POS, tax, bureau, telematics, device): all of it or nothing."""
    from lendstack.services import early_warning as svc

    counts = run_or_fail(lambda: svc.ingest_batch(open_engine(), read_records(file)).to_json(), as_json=as_json)
    _show(counts, as_json)


@monitor_app.command("run")
def run_cmd(as_of: Annotated[str, typer.Option("--as-of", help="YYYY-MM-DD")], as_json: JsonOpt = False) -> None:
    """Evaluate the early-warning indicators over the whole book; re-running a date adds nothing."""
    from lendstack.services import early_warning as svc

    day = run_or_fail(lambda: parse_day(as_of, "as_of"), as_json=as_json)
    _show(run_or_fail(lambda: svc.run_book(open_engine(), day).to_json(), as_json=as_json), as_json)


@monitor_app.command("alerts")
def alerts_cmd(
    status: Annotated[str | None, typer.Option("--status", help="|".join(ALERT_STATUSES))] = None,
    loan_id: Annotated[str | None, typer.Option("--loan")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The alerts, newest first."""
    from lendstack.services import early_warning as svc

    if status is not None and status not in ALERT_STATUSES:
        fail("status", f"unknown status {status!r}; known: {', '.join(ALERT_STATUSES)}", as_json=as_json)
    items = [a.to_json() for a in svc.alerts(open_engine(), status=status, loan_id=loan_id)]
    if as_json:
        print_json({"items": items})
        return
    print_table("early-warning alerts", ["alert", "as of", "loan", "indicator", "severity", "status", "assignee"],
                [[a["alert_id"], a["as_of"], a["loan_id"], a["indicator"], a["severity"], a["status"], a["assignee"]]
                 for a in items])


@monitor_app.command("ack")
def ack_cmd(alert_id: str, by: ByOpt, note: NoteOpt = "", as_json: JsonOpt = False) -> None:
    """Acknowledge an open alert."""
    from lendstack.services import early_warning as svc

    _show(run_or_fail(lambda: svc.act_on(open_engine(), alert_id, "acknowledge", by, note=note).to_json(),
                      as_json=as_json), as_json)


@monitor_app.command("assign")
def assign_cmd(alert_id: str, by: ByOpt, to: Annotated[str, typer.Option("--to", help="The assignee")],
               note: NoteOpt = "", as_json: JsonOpt = False) -> None:
    """Assign an alert to someone."""
    from lendstack.services import early_warning as svc

    _show(run_or_fail(lambda: svc.act_on(open_engine(), alert_id, "assign", by, assignee=to, note=note).to_json(),
                      as_json=as_json), as_json)


@monitor_app.command("close")
def close_cmd(alert_id: str, by: ByOpt, note: NoteOpt = "", as_json: JsonOpt = False) -> None:
    """Close an alert (its history is kept)."""
    from lendstack.services import early_warning as svc

    _show(run_or_fail(lambda: svc.act_on(open_engine(), alert_id, "close", by, note=note).to_json(),
                      as_json=as_json), as_json)


def _show(document: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(document)
    else:
        print_pairs([(k, json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else str(v))
                     for k, v in document.items()])
