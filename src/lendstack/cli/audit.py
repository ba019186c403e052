"""`lendstack audit fairness|drift`: audits that run on any CSV or Parquet file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lendstack.cli.output import fail, print_json, print_pairs, print_table, run_or_fail

if TYPE_CHECKING:  # only for annotations: the library loads inside the commands
    import polars as pl

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document")]
audit_app = typer.Typer(help="Fairness and drift audits on any CSV / Parquet file.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")


def read_table(path: Path, field: str, *, as_json: bool) -> pl.DataFrame:
    """A CSV or Parquet file as a frame; a missing or unreadable file is a user error naming `field`."""
    import polars as pl

    if not path.is_file():
        fail(field, f"no such file: {path}", as_json=as_json)
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pl.read_parquet(path)
        return pl.read_csv(path, infer_schema_length=10_000)
    except (pl.exceptions.PolarsError, OSError) as exc:
        fail(field, f"cannot read {path}: {exc}", as_json=as_json)


@audit_app.command("fairness")
def fairness_command(
    data: Annotated[Path, typer.Option("--data", help="CSV or Parquet file, one row per application")],
    decision: Annotated[str, typer.Option("--decision", help="Column with the decision (binary)")],
    group: Annotated[str, typer.Option("--group", help="Column with the sensitive attribute")],
    outcome: Annotated[str | None, typer.Option("--outcome", help="Column with the outcome, 1 = bad")] = None,
    price: Annotated[str | None, typer.Option("--price", help="Column with the price (rate) of approved")] = None,
    positive_decision: Annotated[str | None, typer.Option("--positive-decision", help="Value that approves")] = None,
    reference_group: Annotated[str | None, typer.Option("--reference-group", help="Default: the largest")] = None,
    seed: Annotated[int, typer.Option(help="Bootstrap seed")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Approval, bad rate and price by group; disparate impact (four-fifths rule) and equal
    opportunity, with 95% confidence intervals."""
    from lendstack.monitoring.fairness import AuditColumns, audit

    frame = read_table(data, "data", as_json=as_json)
    cols = AuditColumns(decision, group, outcome, price, positive_decision, reference_group)
    report = run_or_fail(lambda: audit(frame, cols, seed=seed), as_json=as_json)
    if as_json:
        print_json(report)
        return
    _print_fairness(report)


@audit_app.command("drift")
def drift_command(
    reference: Annotated[Path, typer.Option("--reference", help="Development sample, CSV or Parquet")],
    current: Annotated[Path, typer.Option("--current", help="Current sample, CSV or Parquet")],
    score: Annotated[str | None, typer.Option("--score", help="Score / PD column (PSI)")] = None,
    outcome: Annotated[str | None, typer.Option("--outcome", help="Matured outcome, 1 = bad (AUC/KS)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """PSI of the score and CSI of every shared feature (stable / watch / alert); with --outcome,
    realized AUC, KS and calibration against the reference."""
    ref = read_table(reference, "reference", as_json=as_json)
    cur = read_table(current, "current", as_json=as_json)
    report = run_or_fail(lambda: _drift(ref, cur, score, outcome), as_json=as_json)
    if as_json:
        print_json(report)
        return
    print_table("Characteristic stability (CSI)", ["column", "index", "status"],
                [[r["column"], f"{r['index']:.4f}", r["status"]] for r in report["features"]], numeric_from=1)
    if report["score"]:
        print_pairs([("score PSI", f"{report['score']['index']:.4f} ({report['score']['status']})")])


def _drift(ref: pl.DataFrame, cur: pl.DataFrame, score: str | None, outcome: str | None) -> dict[str, Any]:
    from lendstack.monitoring.drift import DriftInputError, performance_drift, stability, stability_report, status_of

    skip = {c for c in (score, outcome) if c}
    features = [c for c in ref.columns if c in cur.columns and c not in skip]
    out: dict[str, Any] = {"reference_rows": ref.height, "current_rows": cur.height,
                           "features": [_as_dict(s) for s in stability_report(ref, cur, features)]}
    out["score"] = None
    if score:
        for label, frame in (("reference", ref), ("current", cur)):
            if score not in frame.columns:
                raise DriftInputError(f"{label}.{score}", "no such column")
        index = stability(ref[score], cur[score])
        out["score"] = {"column": score, "index": index, "status": status_of(index)}
        if outcome:
            out["performance"] = performance_drift(ref, cur, outcome, score)
    out["alerts"] = [f["column"] for f in out["features"] if f["status"] == "alert"]
    return out


def _as_dict(s: Any) -> dict[str, Any]:
    return {"column": s.column, "index": s.index, "status": s.status}


def _print_fairness(report: dict[str, Any]) -> None:
    print_pairs([("rows", str(report["rows"])), ("reference group", str(report["reference_group"])),
                 ("flagged (four-fifths)", ", ".join(report["flagged_groups"]) or "none")])
    rows = []
    for g in report["groups"]:
        di = g["disparate_impact"]
        rows.append([g["group"], str(g["rows"]), f"{g['approval_rate']:.1%}", "-" if di is None else f"{di:.3f}",
                     _fmt(g.get("bad_rate_approved")), _fmt(g.get("equal_opportunity_difference"))])
    print_table("Fairness by group", ["group", "rows", "approval", "DI ratio", "bad rate (approved)", "EO diff"],
                rows, numeric_from=1)
    for warning in report["warnings"]:
        typer.echo(f"warning: {warning}", err=True)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
