"""`lendstack model`: train, evaluate, explain, list and promote credit-risk models on any tabular file."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from lendstack.cli.output import console, fail, print_json, print_pairs, print_table

if TYPE_CHECKING:  # only for annotations: the scoring package loads inside the commands
    from lendstack.scoring import CreditModel

T = TypeVar("T")
_HEADLINE = ("auc", "gini", "ks", "brier", "ece", "psi", "rows", "bad_rate", "mean_pd")
EXPLAIN_TOP_MAX = 20  # reasons per application: a handful is what people read

model_app = typer.Typer(name="model", help="Train, evaluate, explain and manage PD models.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    # These modules add their commands to `model_app` when imported.
    from lendstack.cli import model_review, model_scorecard  # noqa: F401

    app.add_typer(model_app, name="model")


def _guard(action: Callable[[], T], *, as_json: bool) -> T:
    """User errors (bad data, bad artifacts) exit 2 naming the column or file."""
    from lendstack.scoring import ArtifactError, DataError

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
    from lendstack.scoring import DataError

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
    protected: Annotated[list[str] | None, typer.Option(
        "--protected", help="Exclude this column as a protected attribute (repeatable); sex, race, ethnicity, "
        "religion, nationality and marital status are detected by name and values")] = None,
    allow_protected: Annotated[list[str] | None, typer.Option(
        "--allow-protected", help="Keep this detected protected column as a feature (repeatable; recorded)")] = None,
    monotone: Annotated[list[str] | None, typer.Option(
        "--monotone", help="COL=+1 (PD rises with COL) or COL=-1 (PD falls), repeatable")] = None,
    time_column: Annotated[str | None, typer.Option(help="Date column for an out-of-time split")] = None,
    oot_from: Annotated[str | None, typer.Option(
        help="With --time-column: train before this date (YYYY-MM-DD), validate on and after it")] = None,
    missing_token: Annotated[list[str] | None, typer.Option(
        "--missing-token", help="A text that means missing (repeatable; default: empty, NA, NaN, null)")] = None,
    threads: Annotated[int, typer.Option(help="LightGBM threads (1 is faster on small data)", min=1)] = 2,
    dictionary: Annotated[Path | None, typer.Option(
        help="Data dictionary (.csv or .yaml: column, meaning_en, meaning_zh, unit) for readable reason codes; "
        "--sim uses the simulator's")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document")] = False,
) -> None:
    """Train a PD model on any tabular file with a binary target; write a verified artifact.

    Protected attributes are excluded (and audited on the held-out split), the leak check runs on all
    rows, and the split is random (stratified) or out of time (--time-column, --oot-from).
    """
    from lendstack.scoring import Registry, TrainOptions, read_table, save_artifact, train_credit_model
    from lendstack.scoring.dictionary import attach_dictionary, load_dictionary

    if kind not in ("scorecard", "gbm"):
        fail("kind", f"must be scorecard or gbm, not {kind!r}", as_json=as_json)
    if calibration not in ("sigmoid", "isotonic"):
        fail("calibration", f"must be sigmoid or isotonic, not {calibration!r}", as_json=as_json)
    if (data is None) == (sim is None):
        fail("data", "give exactly one of --data FILE or --sim N", as_json=as_json)
    if sim is None and target is None:
        fail("target", "give the target column with --target", as_json=as_json)
    constraints = _parse_monotone(monotone or [], as_json=as_json)
    if sim is not None and not constraints:
        from lendstack.services.models import SIM_MONOTONE  # the simulator's known directions

        constraints = dict(SIM_MONOTONE)
    words = _guard(lambda: load_dictionary(dictionary) if dictionary else _sim_words() if sim else None,
                   as_json=as_json)  # read before training: a malformed file fails fast
    tokens = tuple(missing_token) if missing_token else None
    frame = _guard(lambda: _sim_frame(sim, seed) if sim is not None else read_table(data or "", tokens),
                   as_json=as_json)
    column = target or "default_12m"
    options = TrainOptions(kind=kind, bad_value=bad_value, allow_leaks=allow_leaks,  # type: ignore[arg-type]
                           calibration=calibration, seed=seed, gbm_params={"n_jobs": threads},  # type: ignore[arg-type]
                           monotone=constraints, protected=tuple(protected or ()),
                           allow_protected=tuple(allow_protected or ()), time_column=time_column, oot_from=oot_from,
                           missing_tokens=tokens)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # library chatter; our own data warnings come back as notes
        credit, notes = _guard(lambda: train_credit_model(frame, column, options, _progress(as_json)), as_json=as_json)
    if words is not None:
        attach_dictionary(credit, words)  # before saving: the content hash covers it
    def html(identity: dict[str, str]) -> str:
        from lendstack.scoring.report import render_html

        target_info = credit.audit.get("target", {})
        info = {**identity, "kind": credit.kind, "target": column, "bad_value": credit.bad_value,
                "bad_rate": target_info.get("bad_rate"), "data_fingerprint": credit.data_fingerprint,
                "split": credit.audit.get("split", {}).get("kind")}
        return render_html(f"lendstack {kind} model: {column}", credit.metrics, None, model_info=info)

    manifest = _guard(lambda: save_artifact(credit, out, report_html=html), as_json=as_json)
    version = _guard(lambda: Registry(registry).save(credit, html), as_json=as_json) if registry else None
    _print_trained(credit, manifest, notes, version, as_json=as_json)


def _sim_words() -> Any:
    from lendstack.scoring.dictionary import sim_dictionary
    from lendstack.sim import FIELDS

    return sim_dictionary(FIELDS)


_MONOTONE_SIGNS = {"+1": 1, "1": 1, "-1": -1}


def _parse_monotone(specs: list[str], *, as_json: bool) -> dict[str, int]:
    """`COL=+1`, `COL=1` or `COL=-1` → {COL: ±1}; anything else exits 2 naming `monotone`."""
    constraints: dict[str, int] = {}
    for spec in specs:
        column, equals, sign = spec.rpartition("=")
        if not equals or not column.strip() or sign.strip() not in _MONOTONE_SIGNS:
            fail("monotone", f"{spec!r}: write COL=+1 (PD rises with COL) or COL=-1 (PD falls)", as_json=as_json)
        if column.strip() in constraints:
            fail("monotone", f"{column.strip()!r} is given twice", as_json=as_json)
        constraints[column.strip()] = _MONOTONE_SIGNS[sign.strip()]
    return constraints


def _print_trained(credit: CreditModel, manifest: dict[str, Any], notes: list[str], version: str | None,
                   *, as_json: bool) -> None:
    headline = {key: credit.metrics[key] for key in _HEADLINE if key in credit.metrics}
    audit = credit.audit
    target = {key: audit.get("target", {}).get(key) for key in ("column", "bad_value", "bad_rate")}
    if as_json:
        print_json({**headline, "kind": credit.kind, "target": target, "excluded": audit.get("excluded", []),
                    "protected": audit.get("protected", []), "split": audit.get("split"),
                    "features": credit.spec.names, "warnings": notes,
                    "content_sha256": manifest["content_sha256"], "data_fingerprint": manifest["data_fingerprint"],
                    "registry_version": version, "calibration_fit": credit.metrics.get("calibration_fit"),
                    "audit": audit})
        return
    for note in notes:
        console(stderr=True).print(f"[yellow]warning: {note}[/yellow]", highlight=False)
    print_pairs([("target / 目标", _target_text(target) if target["bad_rate"] is not None else credit.target)])
    print_pairs([(key, f"{value:.4f}" if isinstance(value, float) else str(value)) for key, value in headline.items()])
    print_pairs([("split / 样本划分", _split_text(audit.get("split", {}))), ("features", str(len(credit.spec.names))),
                 ("sha256", manifest["content_sha256"]), ("registry version", version or "-")])
    if audit.get("excluded"):
        print_table("excluded columns / 排除的列", ("column", "category", "reason"),
                    [(item["column"], item["category"], item["reason"]) for item in audit["excluded"]])


def _target_text(target: dict[str, Any]) -> str:
    return (f"{target['column']}: bad = {target['bad_value']!r}, bad rate {target['bad_rate']:.2%} / "
            f"坏样本取值 {target['bad_value']!r}，坏账率 {target['bad_rate']:.2%}")


def _split_text(split: dict[str, Any]) -> str:
    if split.get("kind") == "out_of_time":
        return (f"out of time on {split['time_column']}: train {' to '.join(split['train_period'])} "
                f"({split['train_rows']} rows), held out {' to '.join(split['test_period'])} "
                f"({split['test_rows']} rows)")
    if split.get("kind") == "random":
        return f"random, stratified: {split['train_rows']} train, {split['test_rows']} held out (seed {split['seed']})"
    return "-"


@model_app.command("evaluate")
def evaluate_command(
    model: Annotated[Path, typer.Option(help="Model artifact directory")],
    data: Annotated[Path, typer.Option(help="Labelled data: .csv or .parquet")],
    target: Annotated[str, typer.Option(help="Target column")],
    bad_value: Annotated[str | None, typer.Option(help="The target value that means 'bad'")] = None,
    report: Annotated[Path | None, typer.Option(help="Write an HTML report here")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document")] = False,
) -> None:
    """Score a labelled file: AUC with its DeLong 95 % interval, Gini, KS and the gains table, Brier,
    calibration by band with the Jeffreys test, score bands, IV, PSI; the report names the model's
    version and content hash."""
    from lendstack.scoring import evaluate_credit_model, load_artifact, read_table
    from lendstack.scoring.registry import read_manifest
    from lendstack.scoring.report import render_html

    credit = _guard(lambda: load_artifact(model), as_json=as_json)
    manifest = _guard(lambda: read_manifest(model), as_json=as_json)
    frame = _guard(lambda: read_table(data), as_json=as_json)
    metrics = _guard(lambda: evaluate_credit_model(credit, frame, target, bad_value), as_json=as_json)
    model_info = {key: manifest.get(key) for key in ("version", "kind", "target", "bad_value", "content_sha256",
                                                     "data_fingerprint", "created_at")}
    if report is not None:
        page = render_html(f"lendstack model evaluation: {data.name}", metrics, None, model_info=model_info)
        _guard(lambda: report.write_text(page, encoding="utf-8"), as_json=as_json)
    if as_json:
        print_json({**metrics, "model": model_info})
        return
    lo, hi = metrics["auc_ci95"]
    print_pairs([("model", f"{model_info['version']} ({model_info['kind']}), sha256 {model_info['content_sha256']}"),
                 ("auc", f"{metrics['auc']:.4f} (95% CI {lo:.4f}–{hi:.4f}, DeLong)")])
    print_pairs([(key, str(metrics[key]) if isinstance(metrics[key], int) else f"{metrics[key]:.4f}")
                 for key in _HEADLINE if key in metrics and key != "auc"])
    if metrics.get("calibration_flagged"):
        print_pairs([("calibration", "PD too low (Jeffreys p < 0.05) in deciles "
                                     + ", ".join(metrics["calibration_flagged"]))])


@model_app.command("explain")
def explain_command(
    model: Annotated[Path, typer.Option(help="Model artifact directory")],
    row: Annotated[int, typer.Option(help="Row number (0-based) to explain")] = 0,
    data: Annotated[Path | None, typer.Option(
        help="Applications (.csv or .parquet); default: the held-out sample saved in the artifact")] = None,
    top: Annotated[int, typer.Option(help="How many reasons", min=0, max=EXPLAIN_TOP_MAX)] = 4,
    dictionary: Annotated[Path | None, typer.Option(
        help="Data dictionary (.csv or .yaml) to word the reasons with, instead of the model's own")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document")] = False,
) -> None:
    """PD, score and the top adverse reasons of one application: which way each value pushed the risk
    (high, low, level, missing) as the model sees it, in English and Chinese."""
    from lendstack.scoring import load_artifact
    from lendstack.scoring.dictionary import load_dictionary, stored_dictionary

    credit = _guard(lambda: load_artifact(model), as_json=as_json)
    words = _guard(lambda: load_dictionary(dictionary), as_json=as_json) if dictionary else stored_dictionary(credit)
    frame, training_rows = _explain_frame(credit, data, as_json=as_json)
    if not 0 <= row < frame.height:
        fail("row", f"must be between 0 and {frame.height - 1}", as_json=as_json)
    one = frame.slice(row, 1)
    pd = float(_guard(lambda: credit.predict_pd(one), as_json=as_json)[0])
    reasons = _guard(lambda: credit.explain(one, top, words), as_json=as_json)[0]
    source = str(data) if data is not None else "artifact held-out sample"
    training_row = training_rows[row] if training_rows else None
    if as_json:
        print_json({"row": row, "source": source, "training_row": training_row, "pd": pd,
                    "score": float(credit.scores([pd])[0]), "dictionary": words.name if words else None,
                    "reasons": [asdict(r) for r in reasons]})
        return
    print_pairs([("source", source), ("training row", "-" if training_row is None else str(training_row)),
                 ("PD", f"{pd:.4f}"), ("score", f"{credit.scores([pd])[0]:.0f}"),
                 ("dictionary", words.name if words else "-")])
    # The texts go below the table: as columns they are long enough to squeeze the others to nothing.
    print_table("reasons / 原因", ("#", "feature", "value", "direction", "impact"),
                [(str(n), r.feature, r.value, r.direction, f"{r.impact:.3f}") for n, r in enumerate(reasons, 1)],
                numeric_from=4)
    print_pairs([(str(n), f"{r.text_en}\n   {r.text_zh}") for n, r in enumerate(reasons, 1)])


def _explain_frame(credit: CreditModel, data: Path | None, *, as_json: bool) -> tuple[Any, list[int]]:
    """The rows to explain: `--data`, or the artifact's held-out sample (with training row numbers)."""
    from lendstack.scoring import read_table

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
    from lendstack.scoring import Registry

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
    from lendstack.scoring import Registry

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
