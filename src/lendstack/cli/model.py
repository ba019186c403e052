"""`lendstack model`: train, evaluate, explain, list and promote credit-risk models on any tabular file."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from lendstack.cli.output import console, fail, print_json, print_pairs, print_table
from lendstack.scoring import (
    ArtifactError,
    CreditModel,
    DataError,
    Registry,
    TrainOptions,
    evaluate_credit_model,
    load_artifact,
    read_table,
    save_artifact,
    train_credit_model,
)
from lendstack.scoring.report import render_html

T = TypeVar("T")
_HEADLINE = ("auc", "gini", "ks", "brier", "ece", "psi", "rows", "bad_rate", "mean_pd")

model_app = typer.Typer(name="model", help="Train, evaluate, explain and manage PD models.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(model_app, name="model")


def _guard(action: Callable[[], T], *, as_json: bool) -> T:
    """User errors (bad data, bad artifacts) exit 2 naming the column or file."""
    try:
        return action()
    except DataError as exc:
        fail(exc.column, exc.message, as_json=as_json)
    except ArtifactError as exc:
        fail("model", str(exc), as_json=as_json)
    except (ValueError, OSError) as exc:
        fail("input", str(exc), as_json=as_json)


def _progress(as_json: bool) -> Callable[[str], None]:
    err = console(stderr=True)
    return (lambda _m: None) if as_json else (lambda message: err.print(f"[dim]… {message}[/dim]"))


def _sim_frame(rows: int, seed: int) -> Any:
    try:
        from lendstack.sim import FIELDS, generate_applications
    except ImportError:
        raise DataError("sim", "the simulator (lendstack.sim.generate_applications) is not available yet") from None
    frame = generate_applications(rows, seed)
    # Only what is known at application time: keys, hidden truth and other outcomes would leak.
    keep = [name for name in frame.columns if FIELDS[name].role == "feature" or name == "default_12m"]
    return frame.select(keep)


@model_app.command("train")
def train_command(
    out: Annotated[Path, typer.Option(help="Directory to write the model artifact to")],
    data: Annotated[Path | None, typer.Option(help="Training data: .csv or .parquet")] = None,
    target: Annotated[str | None, typer.Option(help="Target column (binary)")] = None,
    bad_value: Annotated[str | None, typer.Option(help="The target value that means 'bad'")] = None,
    kind: Annotated[str, typer.Option(help="scorecard|gbm")] = "gbm",
    calibration: Annotated[str, typer.Option(help="sigmoid (Platt)|isotonic")] = "sigmoid",
    sim: Annotated[int | None, typer.Option(help="Train on N simulated applications instead of --data")] = None,
    seed: Annotated[int, typer.Option(help="Random seed (split, model, simulator)")] = 0,
    registry: Annotated[Path | None, typer.Option(help="Also save a new version in this registry")] = None,
    allow_leaks: Annotated[bool, typer.Option("--allow-leaks", help="Keep near-perfect single features")] = False,
    threads: Annotated[int, typer.Option(help="LightGBM threads (1 is faster on small data)", min=1)] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document")] = False,
) -> None:
    """Train a PD model on any tabular file with a binary target; write a verified artifact."""
    if kind not in ("scorecard", "gbm"):
        fail("kind", f"must be scorecard or gbm, not {kind!r}", as_json=as_json)
    if calibration not in ("sigmoid", "isotonic"):
        fail("calibration", f"must be sigmoid or isotonic, not {calibration!r}", as_json=as_json)
    if (data is None) == (sim is None):
        fail("data", "give exactly one of --data FILE or --sim N", as_json=as_json)
    if sim is None and target is None:
        fail("target", "give the target column with --target", as_json=as_json)
    frame = _guard(lambda: _sim_frame(sim, seed) if sim is not None else read_table(data or ""), as_json=as_json)
    column = target or "default_12m"
    options = TrainOptions(kind=kind, bad_value=bad_value, allow_leaks=allow_leaks,  # type: ignore[arg-type]
                           calibration=calibration, seed=seed, gbm_params={"n_jobs": threads})  # type: ignore[arg-type]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # library chatter; our own data warnings come back as notes
        credit, notes = _guard(lambda: train_credit_model(frame, column, options, _progress(as_json)), as_json=as_json)
    html = render_html(f"lendstack {kind} model: {column}", credit.metrics, None)
    manifest = _guard(lambda: save_artifact(credit, out, report_html=html), as_json=as_json)
    version = _guard(lambda: Registry(registry).save(credit, html), as_json=as_json) if registry else None
    _print_trained(credit, manifest, notes, version, as_json=as_json)


def _print_trained(credit: CreditModel, manifest: dict[str, Any], notes: list[str], version: str | None,
                   *, as_json: bool) -> None:
    headline = {key: credit.metrics[key] for key in _HEADLINE if key in credit.metrics}
    if as_json:
        print_json({**headline, "kind": credit.kind, "features": credit.spec.names, "warnings": notes,
                    "content_sha256": manifest["content_sha256"], "data_fingerprint": manifest["data_fingerprint"],
                    "registry_version": version, "calibration_fit": credit.metrics.get("calibration_fit")})
        return
    for note in notes:
        console(stderr=True).print(f"[yellow]warning: {note}[/yellow]", highlight=False)
    print_pairs([(key, f"{value:.4f}" if isinstance(value, float) else str(value)) for key, value in headline.items()])
    print_pairs([("features", str(len(credit.spec.names))), ("sha256", manifest["content_sha256"]),
                 ("registry version", version or "-")])


@model_app.command("evaluate")
def evaluate_command(
    model: Annotated[Path, typer.Option(help="Model artifact directory")],
    data: Annotated[Path, typer.Option(help="Labelled data: .csv or .parquet")],
    target: Annotated[str, typer.Option(help="Target column")],
    bad_value: Annotated[str | None, typer.Option(help="The target value that means 'bad'")] = None,
    report: Annotated[Path | None, typer.Option(help="Write an HTML report here")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document")] = False,
) -> None:
    """Score a labelled file: AUC, Gini, KS, Brier, calibration, score bands, IV, PSI."""
    credit = _guard(lambda: load_artifact(model), as_json=as_json)
    frame = _guard(lambda: read_table(data), as_json=as_json)
    metrics = _guard(lambda: evaluate_credit_model(credit, frame, target, bad_value), as_json=as_json)
    if report is not None:
        report.write_text(render_html(f"lendstack model evaluation: {data.name}", metrics, None), encoding="utf-8")
    if as_json:
        print_json(metrics)
        return
    print_pairs([(key, f"{metrics[key]:.4f}") for key in _HEADLINE if key in metrics])


@model_app.command("explain")
def explain_command(
    model: Annotated[Path, typer.Option(help="Model artifact directory")],
    row: Annotated[int, typer.Option(help="Row number (0-based) to explain")] = 0,
    data: Annotated[Path | None, typer.Option(
        help="Applications (.csv or .parquet); default: the held-out sample saved in the artifact")] = None,
    top: Annotated[int, typer.Option(help="How many reasons")] = 4,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document")] = False,
) -> None:
    """PD, score and the top adverse reasons (English and Chinese) of one application."""
    credit = _guard(lambda: load_artifact(model), as_json=as_json)
    frame, training_rows = _explain_frame(credit, data, as_json=as_json)
    if not 0 <= row < frame.height:
        fail("row", f"must be between 0 and {frame.height - 1}", as_json=as_json)
    one = frame.slice(row, 1)
    pd = float(_guard(lambda: credit.predict_pd(one), as_json=as_json)[0])
    reasons = _guard(lambda: credit.explain(one, top), as_json=as_json)[0]
    source = str(data) if data is not None else "artifact held-out sample"
    training_row = training_rows[row] if training_rows else None
    if as_json:
        print_json({"row": row, "source": source, "training_row": training_row, "pd": pd,
                    "score": float(credit.scores([pd])[0]), "reasons": [r.__dict__ for r in reasons]})
        return
    print_pairs([("source", source), ("training row", "-" if training_row is None else str(training_row)),
                 ("PD", f"{pd:.4f}"), ("score", f"{credit.scores([pd])[0]:.0f}")])
    print_table("reasons", ("feature", "value", "impact", "English", "中文"),
                [(r.feature, r.value, f"{r.impact:.3f}", r.text_en, r.text_zh) for r in reasons], numeric_from=2)


def _explain_frame(credit: CreditModel, data: Path | None, *, as_json: bool) -> tuple[Any, list[int]]:
    """The rows to explain: `--data`, or the artifact's held-out sample (with training row numbers)."""
    if data is not None:
        return _guard(lambda: read_table(data), as_json=as_json), []
    if credit.explain_sample is None:
        fail("data", "this artifact has no saved sample (trained before samples were kept); give --data FILE",
             as_json=as_json)
    return credit.explain_sample, credit.explain_sample_rows


@model_app.command("list")
def list_command(
    registry: Annotated[Path, typer.Option(help="Registry directory")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document")] = False,
) -> None:
    """The registry's versions with kind, AUC, data fingerprint and which is champion."""
    rows = _guard(lambda: Registry(registry).list(), as_json=as_json)
    if as_json:
        print_json({"versions": rows})
        return
    print_table("models", ("version", "kind", "champion", "auc", "created", "sha256"), [
        (r["version"], r["kind"], "*" if r["champion"] else "", f"{r['metrics'].get('auc', 0):.4f}",
         r["created_at"], r["content_sha256"][:12]) for r in rows])


@model_app.command("promote")
def promote_command(
    registry: Annotated[Path, typer.Option(help="Registry directory")],
    version: Annotated[str | None, typer.Argument(help="Version to make champion")] = None,
    rollback: Annotated[bool, typer.Option("--rollback", help="Return to the previous champion")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document")] = False,
) -> None:
    """Make a version the champion (or --rollback to the previous one)."""
    store = Registry(registry)
    if rollback:
        champion = _guard(store.rollback, as_json=as_json)
    elif version is None:
        fail("version", "give a version to promote, or --rollback", as_json=as_json)
    else:
        _guard(lambda: store.promote(version), as_json=as_json)
        champion = version
    if as_json:
        print_json({"champion": champion})
    else:
        print_pairs([("champion", champion)])
