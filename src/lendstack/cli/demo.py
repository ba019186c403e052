"""`lendstack demo`: book a seeded sample portfolio, run a year of repayments and EOD, report."""

from __future__ import annotations

import time
from datetime import date
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Engine

from lendstack.cli.books import print_aging, print_trial_balance
from lendstack.cli.context import open_engine
from lendstack.cli.output import console, print_json
from lendstack.services.demo import DemoReport, book_exists, run_demo
from lendstack.services.reports import aging, trial_balance
from lendstack.store import UnitOfWork


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)


def demo_command(
    loans: Annotated[int, typer.Option(help="Loans in the sample portfolio")] = 400,
    days: Annotated[int, typer.Option(help="Days to run")] = 365,
    seed: Annotated[int, typer.Option(help="Seed: same seed, same book")] = 7,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document")] = False,
) -> None:
    """Run the demo lending book on the configured database (SQLite lendstack.db by default).
    An existing book is reused; delete the database file to rebuild it."""
    engine = open_engine()
    started = time.perf_counter()
    reused = book_exists(engine)
    report: DemoReport | None = None
    if not reused:
        report = _run(engine, loans, days, seed, quiet=as_json)
    with UnitOfWork(engine) as uow:
        problems = uow.ledger.verify()
    summary = {"reused": reused, "seconds": round(time.perf_counter() - started, 1),
               "report": None if report is None else {k: str(v) if isinstance(v, date) else v
                                                      for k, v in report.__dict__.items()},
               "ledger_verified": not problems, "trial_balance": trial_balance(engine), "aging": aging(engine)}
    if as_json:
        print_json(summary)
        return
    out = console()
    done = "reusing the existing book (delete the database file to rebuild it)" if report is None else (
        f"{report.loans} loans, {report.days} days, {report.repayments} repayments, "
        f"{report.prepayments} prepayments, {report.write_offs} write-offs in {summary['seconds']} s")
    out.print(f"[bold]lendstack demo[/bold] — {done}")
    print_trial_balance(trial_balance(engine))
    print_aging(aging(engine))
    out.print("ledger verified: every balance equals its postings" if not problems else f"[red]{problems[:3]}[/red]")


def _run(engine: Engine, loans: int, days: int, seed: int, *, quiet: bool) -> DemoReport:
    with Progress(TextColumn("demo {task.fields[day]}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console(stderr=True), disable=quiet) as bar:
        task = bar.add_task("days", total=days, day="")
        return run_demo(engine, loans_n=loans, days=days, seed=seed,
                        progress=lambda d: bar.update(task, advance=1, day=d.isoformat()))
