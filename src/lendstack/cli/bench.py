"""`lendstack bench NAME`: run a benchmark from the top-level `bench` package.

Each benchmark module `bench/NAME.py` has `run(progress: bool) -> dict[str, object]` returning
one flat mapping of measurements; this command prints it as a table or, with --json, as one
JSON object. A benchmark that repeats its measurement takes `runs` too (`--runs`, e.g. `bench cli`).
"""

from __future__ import annotations

import importlib
import inspect
import json
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

KNOWN = ("servicing", "models", "decide", "api", "monitoring", "cli")
RUNS_MAX = 100  # repetitions of one measurement: each `bench cli` run is a process start


def register(app: typer.Typer) -> None:
    @app.command("bench")
    def bench(
        name: str = typer.Argument(..., help=f"which benchmark: {', '.join(KNOWN)}"),
        json_out: bool = typer.Option(False, "--json", help="print one flat JSON object"),
        runs: int | None = typer.Option(None, "--runs", min=1, max=RUNS_MAX,
                                        help="repetitions, median reported (benchmarks that repeat: cli)"),
    ) -> None:
        """Run a benchmark and print its measurements (a table, or one JSON object)."""
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"bench.{name}":
                raise
            typer.echo(f"name: unknown benchmark {name!r}; known: {', '.join(KNOWN)}", err=True)
            raise typer.Exit(2) from exc
        options: dict[str, Any] = {}
        if runs is not None:
            if "runs" not in inspect.signature(module.run).parameters:
                typer.echo(f"runs: benchmark {name!r} does not repeat; --runs is for: cli", err=True)
                raise typer.Exit(2)
            options["runs"] = runs
        result: dict[str, Any] = module.run(progress=not json_out, **options)
        if json_out:
            typer.echo(json.dumps(result, sort_keys=True, default=str))
            return
        table = Table(title=f"lendstack bench {name}")
        table.add_column("measure")
        table.add_column("value", justify="right")
        for key, value in result.items():
            table.add_row(key, f"{value:,.3f}" if isinstance(value, float) else str(value))
        Console().print(table)
