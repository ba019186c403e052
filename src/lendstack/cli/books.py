"""`lendstack eod`, `lendstack ledger ...`, `lendstack aging`, `lendstack db upgrade`."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from lendstack.cli.context import open_engine, parse_day
from lendstack.cli.output import console, print_json, print_table, run_or_fail
from lendstack.money.money import format_minor
from lendstack.services.eod import run_eod
from lendstack.services.reports import aging, trial_balance
from lendstack.store import UnitOfWork

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document")]
ledger_app = typer.Typer(help="The double-entry ledger: trial balance, verification.", no_args_is_help=True)
db_app = typer.Typer(help="The database: migrations.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("eod")(eod_command)
    app.command("aging")(aging_command)
    app.add_typer(ledger_app, name="ledger")
    app.add_typer(db_app, name="db")


def eod_command(
    date_: Annotated[str, typer.Option("--date", help="Close every day up to this one, YYYY-MM-DD")],
    chunk_loans: Annotated[int, typer.Option(help="Loans per transaction")] = 100_000,
    as_json: JsonOpt = False,
) -> None:
    """End of day: accrue, charge, penalise, age and classify the whole book through --date,
    catching up missed days in order. Idempotent per date; resumes after an interruption."""
    through = run_or_fail(lambda: parse_day(date_, "date"), as_json=as_json)
    engine = open_engine()
    if as_json:
        report = run_or_fail(lambda: run_eod(engine, through, chunk_loans=chunk_loans), as_json=True)
        print_json({"through": through.isoformat(), **report.__dict__})
        return
    with Progress(TextColumn("EOD {task.fields[day]}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console(stderr=True)) as bar:
        task = bar.add_task("eod", total=None, day="")

        def tick(day: Any, closed: int) -> None:
            bar.update(task, advance=closed, day=day.isoformat())

        report = run_or_fail(lambda: run_eod(engine, through, chunk_loans=chunk_loans, progress=tick), as_json=False)
    console().print(f"closed {report.days} day(s) through {through}: {report.loans_closed} loan-days, "
                    f"{report.entries_posted} journal entries")


def aging_command(as_json: JsonOpt = False) -> None:
    """Live loans by bucket (M0..M7+) and five-tier class (五级分类), with the NPL ratio."""
    data = aging(open_engine())
    if as_json:
        print_json(data)
        return
    print_aging(data)


def print_aging(data: dict[str, Any]) -> None:
    print_table("Aging by bucket", ("currency", "bucket", "loans", "principal"),
                [(r["currency"], r["name"], str(r["loans"]), r["principal"]) for r in data["by_bucket"]], 2)
    zh = data["class_names_zh"]
    print_table("Five-tier classification 五级分类", ("currency", "class", "loans", "principal"),
                [(r["currency"], f"{r['name']} {zh[r['name']]}", str(r["loans"]), r["principal"])
                 for r in data["by_class"]], 2)
    ratios = ", ".join(f"{c} {v:.2%}" for c, v in data["npl_ratio"].items())
    console().print(f"NPL ratio (次级+可疑+损失): {ratios or 'n/a'}   loans by status: {data['loans_by_status']}")


@ledger_app.command("trial-balance")
def trial_balance_command(
    as_of: Annotated[str | None, typer.Option(help="Balances as of this date (YYYY-MM-DD)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Every account's total per currency; debits equal credits."""
    day = None if as_of is None else run_or_fail(lambda: parse_day(as_of, "as_of"), as_json=as_json)
    data = trial_balance(open_engine(), day)
    if as_json:
        print_json(data)
        return
    print_trial_balance(data)


def print_trial_balance(data: dict[str, Any]) -> None:
    for currency, rows in data["currencies"].items():
        debit = sum(r["debit_minor"] for r in rows)
        credit = sum(r["credit_minor"] for r in rows)
        body = [(r["account"], f"{r['name_en']} {r['name_zh']}", r["debit"], r["credit"]) for r in rows]
        body.append(("", "total", format_minor(debit, currency), format_minor(credit, currency)))
        print_table(f"Trial balance {currency}", ("account", "name", "debit", "credit"), body, 2)


@ledger_app.command("verify")
def verify_command(as_json: JsonOpt = False) -> None:
    """Recompute every balance from its postings and check every entry balances."""
    with UnitOfWork(open_engine()) as uow:
        problems = uow.ledger.verify()
    found = [{"problem": p.problem, "detail": p.detail} for p in problems]
    if as_json:
        print_json({"ok": not found, "problems": found})
    else:
        console().print("ledger verified: every balance equals its postings, every entry balances"
                        if not found else f"[red]{len(found)} problem(s): {found[:5]}[/red]")
    if found:
        raise typer.Exit(1)


@db_app.command("upgrade")
def upgrade_command(as_json: JsonOpt = False) -> None:
    """Create or migrate the database to the latest schema."""
    engine = open_engine()
    if as_json:
        print_json({"database": engine.url.render_as_string(hide_password=True), "migrated": True})
    else:
        console().print(f"database {engine.url.render_as_string(hide_password=True)} is at the latest schema")
