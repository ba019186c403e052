"""`lendstack model card` and `lendstack model compare`: the documents a model-risk review reads."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lendstack.cli.model import _guard, model_app
from lendstack.cli.output import console, fail, print_json, print_pairs, print_table

if TYPE_CHECKING:  # only for annotations: the scoring package loads inside the commands
    from lendstack.scoring.compare import Contender

_FORMATS = ("md", "html")


@model_app.command("card")
def card_command(
    model: Annotated[Path, typer.Option(help="Model artifact directory")],
    format: Annotated[str, typer.Option("--format", help="md (Markdown) or html")] = "md",
    out: Annotated[Path | None, typer.Option(help="Write the card to this file (default: print it)")] = None,
    purpose: Annotated[str | None, typer.Option(help="What the model is for (default: a standard sentence)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the card's data as one JSON document")] = False,
) -> None:
    """The model card: purpose, target, data lineage, exclusions, parameters, performance with
    intervals, calibration, fairness, stability, limitations, version and hash (English / 中文)."""
    from lendstack.scoring import load_artifact
    from lendstack.scoring.card import card_data, render_html, render_markdown
    from lendstack.scoring.registry import read_manifest

    if format not in _FORMATS:
        fail("format", f"must be md or html, not {format!r}", as_json=as_json)
    credit = _guard(lambda: load_artifact(model), as_json=as_json)
    manifest = _guard(lambda: read_manifest(model), as_json=as_json)
    data = card_data(credit, manifest, purpose)
    text = render_html(data) if format == "html" else render_markdown(data)
    if out is not None:
        _guard(lambda: out.write_text(text, encoding="utf-8"), as_json=as_json)
    if as_json:
        print_json({**data, "written_to": None if out is None else str(out)})
    elif out is None:
        typer.echo(text)
    else:
        print_pairs([("card", str(out)), ("version", str(data["model"]["version"])),
                     ("sha256", str(data["model"]["content_sha256"]))])


@model_app.command("compare")
def compare_command(
    models: Annotated[tuple[Path, Path], typer.Option(
        "--models", help="Two model artifact directories: --models A B (A is the champion, B the challenger)")],
    data: Annotated[Path, typer.Option(help="Labelled hold-out data: .csv or .parquet")],
    target: Annotated[str, typer.Option(help="Target column")],
    bad_value: Annotated[str | None, typer.Option(help="The target value that means 'bad'")] = None,
    approval_rate: Annotated[float | None, typer.Option(
        help="Cut-off as an approval rate: each model approves its lowest-PD share (default 0.7)")] = None,
    cutoff: Annotated[float | None, typer.Option(help="Cut-off as a PD: approve when PD ≤ this")] = None,
    report: Annotated[Path | None, typer.Option(help="Write an HTML comparison here")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document")] = False,
) -> None:
    """Champion vs challenger on the same rows: AUC difference with its paired DeLong interval,
    swap sets at a cut-off with their bad rates, calibration by PD decile side by side."""
    from lendstack.scoring import read_table
    from lendstack.scoring.compare import compare_models
    from lendstack.scoring.compare import render_html as render_comparison

    contenders = [_contender(path, as_json=as_json) for path in models]
    frame = _guard(lambda: read_table(data), as_json=as_json)
    result = _guard(lambda: compare_models(contenders[0], contenders[1], frame, target, bad_value,
                                           approval_rate=approval_rate, cutoff=cutoff), as_json=as_json)
    if report is not None:
        _guard(lambda: report.write_text(render_comparison(result), encoding="utf-8"), as_json=as_json)
    if as_json:
        print_json(result)
        return
    _print_comparison(result)


def _contender(path: Path, *, as_json: bool) -> Contender:
    from lendstack.scoring import load_artifact
    from lendstack.scoring.compare import Contender
    from lendstack.scoring.registry import read_manifest

    credit = _guard(lambda: load_artifact(path), as_json=as_json)
    manifest = _guard(lambda: read_manifest(path), as_json=as_json)
    return Contender(str(path), credit, str(manifest.get("content_sha256", "")))


def _print_comparison(result: dict[str, Any]) -> None:
    a, b, diff = result["a"], result["b"], result["auc_difference"]
    for warning in result.get("warnings", []):
        console(stderr=True).print(f"[yellow]warning: {warning}[/yellow]", highlight=False)
    print_table("models / 模型", ("", "model", "kind", "AUC", "95% CI", "KS", "approved bad rate"), [
        (side, m["label"], m["kind"], f"{m['auc']:.4f}", f"[{m['auc_ci95'][0]:.4f}, {m['auc_ci95'][1]:.4f}]",
         f"{m['ks']:.4f}", "-" if m["approved_bad_rate"] is None else f"{m['approved_bad_rate']:.2%}")
        for side, m in (("A", a), ("B", b))], numeric_from=3)
    print_pairs([("AUC A − B / 差异", f"{diff['difference']:+.4f} [{diff['ci95'][0]:+.4f}, {diff['ci95'][1]:+.4f}], "
                                       f"p = {diff['p_value']:.4f} (paired DeLong)")])
    print_table("swap sets / 换入换出", ("set", "count", "bads", "bad rate", "95% CI"), [
        (s["set"], str(s["count"]), str(s["bads"]), "-" if s["bad_rate"] is None else f"{s['bad_rate']:.2%}",
         f"[{s['bad_rate_ci95'][0]:.2%}, {s['bad_rate_ci95'][1]:.2%}]") for s in result["swap_sets"]],
        numeric_from=1)
