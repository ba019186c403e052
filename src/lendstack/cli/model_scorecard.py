"""`lendstack model scorecard`: the points table of a scorecard model, readable by a validator."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lendstack.cli.model import _guard, model_app
from lendstack.cli.output import fail, print_json, print_pairs, print_table

if TYPE_CHECKING:  # only for annotations: the scoring package loads inside the command
    from lendstack.scoring.scorecard import ScorecardTable

_FORMATS = ("csv", "html", "json")  # the renderers load with the scoring package, inside the command
_SUFFIXES = {".csv": "csv", ".html": "html", ".htm": "html", ".json": "json"}


@model_app.command("scorecard")
def scorecard_command(
    model: Annotated[Path, typer.Option(help="Scorecard model artifact directory")],
    format_: Annotated[str | None, typer.Option(
        "--format", help="csv|html|json (default: from --out's suffix; a table on screen without --out)")] = None,
    out: Annotated[Path | None, typer.Option(help="Write the points table to this file")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document")] = False,
) -> None:
    """The points table of a scorecard: readable bins, count, bad rate, WoE, points; base points, PDO.

    评分卡分值表：可读的分箱、样本数、坏账率、WoE、分值，以及基准分与翻倍分（PDO）。
    """
    from lendstack.scoring import load_artifact
    from lendstack.scoring.registry import read_manifest
    from lendstack.scoring.scorecard import scorecard_table

    chosen = _format(format_, out, as_json=as_json)
    credit = _guard(lambda: load_artifact(model), as_json=as_json)  # verifies every file's sha256
    digest = str(_guard(lambda: read_manifest(model), as_json=as_json).get("content_sha256", ""))
    table = _guard(lambda: scorecard_table(credit), as_json=as_json)
    rendered = _render(table, chosen, f"Scorecard points table: {model.name} (sha256 {digest[:16]})")
    if out is not None and rendered is not None:
        _guard(lambda: out.write_text(rendered, encoding="utf-8"), as_json=as_json)
    if as_json:
        print_json({"out": str(out) if out is not None else None, "format": chosen, "content_sha256": digest,
                    "scorecard": table.to_dict()})
    elif out is not None:
        print_pairs([("written / 已写入", str(out)), ("format / 格式", str(chosen)),
                     ("features / 特征", str(len(table.features))),
                     ("bins / 分箱", str(sum(len(f.bins) for f in table.features)))])
    elif rendered is not None:
        typer.echo(rendered, nl=not rendered.endswith("\n"))
    else:
        _print_screen(table)


def _render(table: ScorecardTable, chosen: str | None, title: str) -> str | None:
    from lendstack.scoring.scorecard import to_csv, to_html, to_json

    if chosen is None:
        return None
    renderers = {"csv": to_csv, "json": to_json}
    assert set(renderers) | {"html"} == set(_FORMATS)
    return to_html(table, title) if chosen == "html" else renderers[chosen](table)


def _format(format_: str | None, out: Path | None, *, as_json: bool) -> str | None:
    """The file format: --format, else --out's suffix; None = a table on screen."""
    if format_ is not None:
        if format_ not in _FORMATS:
            fail("format", f"must be csv, html or json, not {format_!r}", as_json=as_json)
        return format_
    if out is None:
        return None
    suffix = out.suffix.lower()
    if suffix not in _SUFFIXES:
        fail("format", f"cannot tell the format from {out.name!r}; give --format csv|html|json", as_json=as_json)
    return _SUFFIXES[suffix]


def _print_screen(table: ScorecardTable) -> None:
    print_pairs([
        ("target / 目标", f"{table.target} (bad = {table.bad_value if table.bad_value is not None else '1'})"),
        ("base points / 基准分", f"{table.base_points:g} at odds {table.base_odds:g}:1 / 好坏比 {table.base_odds:g}:1"),
        ("PDO / 翻倍分", f"{table.pdo:g}"),
        ("score range / 分数范围", f"{table.min_score:.1f} – {table.max_score:.1f}"),
    ])
    for feature in table.features:
        print_table(f"{feature.name} (IV {feature.iv:.3f})",
                    ("bin / 分箱", "count / 数量", "bad rate / 坏账率", "WoE", "points / 分值"),
                    [(b.label, f"{b.count:,}", "-" if b.bad_rate is None else f"{b.bad_rate:.2%}",
                      f"{b.woe:+.3f}", f"{b.points:.1f}") for b in feature.bins], numeric_from=1)
    for name, why in table.excluded:
        typer.echo(f"left out / 未入模: {name}: {why}")
    for note in table.notes:
        typer.echo(f"note / 说明: {note}")
