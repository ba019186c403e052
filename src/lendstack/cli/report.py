"""`lendstack report portfolio|models|fairness|stress|audit --out FILE`: a self-contained HTML
report (inline SVG charts), or PDF with --pdf or a .pdf file name.

Everything is checked before anything is written: the kind, the output folder, the inputs; the
file is written to a temporary name beside the target and renamed into place, so a failure
leaves no file (and never half of one)."""

from __future__ import annotations

import os
import tempfile
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lendstack.cli.context import open_engine, parse_day
from lendstack.cli.output import fail, print_json, print_pairs, run_or_fail

if TYPE_CHECKING:  # only for annotations: the library loads inside the commands
    from lendstack.monitoring.fairness import AuditColumns

# Mirrors lendstack.reporting.REPORT_KINDS: that module loads only when a command runs, so that
# `lendstack --help` starts at once; tests/cli/test_cli_startup.py checks that the two agree.
REPORT_KINDS = ("portfolio", "models", "fairness", "stress", "audit")
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document (the report's data and the file)")]


def register(app: typer.Typer) -> None:
    app.command("report")(report_command)


def report_command(
    kind: Annotated[str, typer.Argument(help=f"One of: {', '.join(REPORT_KINDS)}")],
    out: Annotated[Path, typer.Option("--out", help="The file to write (.html, or .pdf for PDF)")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="YYYY-MM-DD (default: the last closed day)")] = None,
    pdf: Annotated[bool, typer.Option("--pdf", help="Write PDF (also implied by a .pdf file name)")] = False,
    registry: Annotated[Path | None, typer.Option("--registry", help="Model registry (models, audit)")] = None,
    quarter: Annotated[str | None, typer.Option("--quarter", help="audit: the quarter, e.g. 2026Q1")] = None,
    group: Annotated[str, typer.Option("--group", help="fairness: gender, age_band, segment, region, "
                                                       "applicant_type; with --data: a column")] = "gender",
    data: Annotated[Path | None, typer.Option("--data", help="fairness: audit this CSV / Parquet instead")] = None,
    decision: Annotated[str | None, typer.Option("--decision", help="--data: the decision column")] = None,
    outcome: Annotated[str | None, typer.Option("--outcome", help="--data: outcome column, 1 = bad")] = None,
    price: Annotated[str | None, typer.Option("--price", help="--data: price column of approved")] = None,
    positive_decision: Annotated[str | None, typer.Option("--positive-decision",
                                                          help="--data: the approving value")] = None,
    reference_group: Annotated[str | None, typer.Option("--reference-group", help="Default: the largest")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Portfolio, model monitoring, fairness, stress or quarterly audit report, in English and 中文."""
    from lendstack.cli.audit import read_table
    from lendstack.reporting import render_html, render_pdf
    from lendstack.services import report_data

    if kind not in REPORT_KINDS:
        fail("kind", f"must be one of {', '.join(REPORT_KINDS)}, got {kind!r}", as_json=as_json)
    as_pdf = pdf or out.suffix.lower() == ".pdf"
    _check_out(out, as_json=as_json)
    day = run_or_fail(lambda: parse_day(as_of, "as_of"), as_json=as_json) if as_of else None
    if kind == "fairness" and data is not None:
        cols = _data_columns(decision, group, outcome, price, positive_decision, reference_group, as_json=as_json)
        frame = read_table(data, "data", as_json=as_json)
        found = run_or_fail(lambda: report_data.fairness_from_frame(frame, cols, source=str(data)).to_json(),
                            as_json=as_json)
    else:
        found = run_or_fail(lambda: _gather(kind, day, registry, quarter, group, reference_group), as_json=as_json)
    page = run_or_fail(lambda: render_html(kind, found), as_json=as_json)
    body = render_pdf(page) if as_pdf else page.encode("utf-8")
    _write(out, body, as_json=as_json)
    summary = {"report": kind, "out": str(out), "format": "pdf" if as_pdf else "html", "bytes": len(body),
               "status": found.get("status")}
    if as_json:
        print_json({**summary, "data": found})
        return
    print_pairs([(k, str(v)) for k, v in summary.items() if v is not None])


def _gather(kind: str, day: date | None, registry: Path | None, quarter: str | None, group: str,
            reference_group: str | None) -> dict[str, Any]:
    from lendstack.services import report_data
    from lendstack.services.audit_bundle import audit_bundle

    engine = open_engine()
    if kind == "portfolio":
        return report_data.portfolio_data(engine, day).to_json()
    if kind == "models":
        return report_data.models_data(engine, day, registry)
    if kind == "fairness":
        return report_data.fairness_data(engine, day, group, reference_group=reference_group).to_json()
    if kind == "stress":
        return report_data.stress_data(engine, day).to_json()
    assert kind == "audit", kind
    return audit_bundle(engine, day, quarter=quarter, registry_dir=registry).to_json()


def _data_columns(decision: str | None, group: str, outcome: str | None, price: str | None,
                  positive: str | None, reference: str | None, *, as_json: bool) -> AuditColumns:
    from lendstack.monitoring.fairness import AuditColumns

    if not decision:
        fail("decision", "--data needs --decision (the column with the decision)", as_json=as_json)
    return AuditColumns(decision, group, outcome, price, positive, reference)


def _check_out(out: Path, *, as_json: bool) -> None:
    """The target's folder exists and is writable, and the target is not a folder: checked first,
    so a report that cannot be written costs no work."""
    folder = out.parent if str(out.parent) else Path(".")
    if out.is_dir():
        fail("out", f"{out} is a folder; give a file name", as_json=as_json)
    if not folder.is_dir():
        fail("out", f"folder {folder} does not exist", as_json=as_json)
    if not os.access(folder, os.W_OK | os.X_OK):
        fail("out", f"folder {folder} is not writable", as_json=as_json)


def _write(out: Path, body: bytes, *, as_json: bool) -> None:
    """Write beside the target, then rename into place: a reader never sees half a report."""
    folder = out.parent if str(out.parent) else Path(".")
    temp = ""
    try:
        fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{out.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(body)
        os.replace(temp, out)
    except OSError as exc:
        if temp and os.path.exists(temp):
            os.unlink(temp)
        fail("out", f"cannot write {out}: {exc.strerror or exc}", as_json=as_json)
