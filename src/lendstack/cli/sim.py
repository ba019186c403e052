"""`lendstack sim applications`: write seeded synthetic loan applications to Parquet or CSV."""

from __future__ import annotations

import time
from contextlib import AbstractContextManager, nullcontext
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lendstack.cli.output import console, fail, print_json, print_pairs

if TYPE_CHECKING:  # only for annotations: the library loads inside the commands
    import polars as pl

SUFFIXES = (".parquet", ".csv")
# N_MIN and N_MAX mirror lendstack.sim's, which loads only when a command runs (so that `lendstack --help`
# starts at once); tests/cli/test_cli_startup.py checks that they agree.
N_MIN, N_MAX = 1, 5_000_000
sim_app = typer.Typer(name="sim", help="Seeded synthetic borrowers, businesses and outcomes.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(sim_app, name="sim")


@sim_app.command("applications")
def applications_command(
    out: Annotated[Path, typer.Option(help="Output file: .parquet or .csv")],
    n: Annotated[int, typer.Option("--n", help=f"Number of applications, {N_MIN}..{N_MAX:,}")] = 10_000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same data")] = 0,
    as_of: Annotated[str, typer.Option(help="Applications fall in the 12 months before this date, YYYY-MM-DD")] = (
        "2026-01-01"
    ),
    shock: Annotated[float, typer.Option(help="Macro shock: 0 = baseline, 0.5 raises default rates")] = 0.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document")] = False,
) -> None:
    """Generate synthetic loan applications (data sources, hidden truth, 12-month outcomes) into a file."""
    if out.suffix.lower() not in SUFFIXES:
        fail("out", f"must end in {' or '.join(SUFFIXES)}, got {out.name!r}", as_json=as_json)
    if not out.parent.exists():
        fail("out", f"directory does not exist: {out.parent}", as_json=as_json)
    as_of_date = _parse_date(as_of, as_json=as_json)
    started = time.perf_counter()
    frame = _generate(n, seed, as_of_date, shock, as_json=as_json)
    _write(frame, out, as_json=as_json)
    seconds = time.perf_counter() - started
    default_rate = float(frame["default_12m"].to_numpy().mean())
    if as_json:
        print_json({"rows": frame.height, "path": str(out), "seconds": round(seconds, 3), "default_rate": default_rate})
        return
    print_pairs(
        [
            ("rows", f"{frame.height:,}"),
            ("path", str(out)),
            ("seconds", f"{seconds:.2f}"),
            ("default rate (90+ DPD in 12 months)", f"{default_rate * 100:.2f} %"),
        ]
    )


def _status(message: str, *, quiet: bool) -> AbstractContextManager[object]:
    """A spinner on stderr while a step runs; nothing with --json so stdout stays one document."""
    return nullcontext() if quiet else console(stderr=True).status(message)


def _parse_date(text: str, *, as_json: bool) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail("as_of", f"not a date in YYYY-MM-DD form: {text!r}", as_json=as_json)


def _generate(n: int, seed: int, as_of: date, shock: float, *, as_json: bool) -> pl.DataFrame:
    from lendstack.sim import SimArgumentError, generate_applications

    try:
        with _status(f"generating {n:,} applications (seed {seed})", quiet=as_json):
            return generate_applications(n, seed, as_of=as_of, shock=shock)
    except SimArgumentError as exc:
        fail(exc.field, exc.message, as_json=as_json)


def _write(frame: pl.DataFrame, out: Path, *, as_json: bool) -> None:
    with _status(f"writing {out}", quiet=as_json):
        try:
            if out.suffix.lower() == ".csv":
                frame.write_csv(out)
            else:
                frame.write_parquet(out)
        except OSError as exc:
            fail("out", f"cannot write {out}: {exc}", as_json=as_json)
