"""`lendstack eod`, `lendstack ledger ...`, `lendstack aging`, `lendstack db upgrade`."""

from __future__ import annotations

import time
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lendstack.cli.context import open_engine, parse_day
from lendstack.cli.output import console, print_json, print_table, run_or_fail
from lendstack.money import MoneyError
from lendstack.money.money import format_minor

if TYPE_CHECKING:  # services, store and SQLAlchemy load inside the commands: `lendstack --help` starts at once
    from sqlalchemy import Engine

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document")]
ledger_app = typer.Typer(help="The double-entry ledger: trial balance, verification.", no_args_is_help=True)
db_app = typer.Typer(help="The database: migrations.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("eod")(eod_command)
    app.command("aging")(aging_command)
    app.add_typer(ledger_app, name="ledger")
    app.add_typer(db_app, name="db")


def eod_command(
    date_: Annotated[str | None, typer.Option("--date", help="Close every day from the business date up to this "
                                                             "one, YYYY-MM-DD (default: the business date only)")]
    = None,
    chunk_loans: Annotated[int, typer.Option(help="Loans per transaction")] = 100_000,
    allow_future: Annotated[bool, typer.Option("--allow-future", help="Let a simulation close days after today's "
                                                                      "calendar date")] = False,
    as_json: JsonOpt = False,
) -> None:
    """End of day: accrue, charge, penalise, age and classify the whole book, day by day from the
    business date through --date, then move the business date to the day after. Idempotent per
    date; resumes after an interruption. A day after today's date is refused unless --allow-future."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from lendstack.services.business_date import business_date
    from lendstack.services.eod import run_eod

    engine = open_engine()
    through = run_or_fail(lambda: _eod_through(engine, date_, allow_future), as_json=as_json)
    if as_json:
        report = run_or_fail(lambda: run_eod(engine, through, chunk_loans=chunk_loans), as_json=True)
        print_json({"through": through.isoformat(), **report.to_json(),
                    "business_date": _iso(business_date(engine))})
        return
    with Progress(TextColumn("EOD {task.fields[day]}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console(stderr=True)) as bar:
        task = bar.add_task("eod", total=None, day="")

        def tick(day: Any, closed: int) -> None:
            bar.update(task, advance=closed, day=day.isoformat())

        report = run_or_fail(lambda: run_eod(engine, through, chunk_loans=chunk_loans, progress=tick), as_json=False)
    console().print(f"closed {report.days} day(s) through {through}: {report.loans_closed} loan-days, "
                    f"{report.entries_posted} journal entries; business date {_iso(business_date(engine))}")


def _eod_through(engine: Engine, text: str | None, allow_future: bool) -> date:
    """The last day to close: --date, or the business date. Closing a day that has not happened yet
    would age loans ahead of time: refused unless a simulation asks for it."""
    from lendstack.services.business_date import business_date

    if text is None:
        current = business_date(engine)
        if current is None:
            raise MoneyError("date", "the book has no business date yet: give --date (or lendstack db upgrade "
                                     "--business-date)")
        through = current
    else:
        through = parse_day(text, "date")
    today = date.today()
    if through > today and not allow_future:
        raise MoneyError("date", f"{through} is after today ({today}): end of day closes days that have happened "
                                 "(--allow-future for a simulation)")
    return through


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def aging_command(as_json: JsonOpt = False) -> None:
    """Live loans by bucket (M0..M7+) and five-tier class (五级分类), with the NPL ratio."""
    from lendstack.services.reports import aging

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
    console().print(f"business date 营业日期: {data['business_date'] or '(not set)'}")


@ledger_app.command("trial-balance")
def trial_balance_command(
    as_of: Annotated[str | None, typer.Option(help="Balances as of this date (YYYY-MM-DD)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Every account's total per currency; debits equal credits."""
    from lendstack.services.reports import trial_balance

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
    """Recompute every balance from its postings, check every entry balances, and reconcile every
    loan: its stored principal, interest, fee, penalty, suspense, unearned and memo balances against
    its sub-ledger. Lists the loans that differ; exit 1 if anything does."""
    from lendstack.services.reconcile import verify_book

    started = time.perf_counter()
    checked = verify_book(open_engine())
    loans = checked.loans
    found = [{"problem": p.problem, "detail": p.detail} for p in checked.ledger_problems]
    ok = checked.ok
    document = {"ok": ok, "problems": found,
                "loans": {"checked": loans.loans_checked, "differing": loans.loans_differing,
                          "orphan_balances": loans.orphan_balances, "differences": list(loans.differences)},
                "seconds": round(time.perf_counter() - started, 3)}
    if as_json:
        print_json(document)
    elif ok:
        console().print(f"ledger verified: every balance equals its postings, every entry balances, and "
                        f"{loans.loans_checked} loan(s) equal their sub-ledgers")
    else:
        console().print(f"[red]{len(found)} ledger problem(s): {found[:5]}[/red]")
        console().print(f"[red]{loans.loans_differing} loan(s) differ from their sub-ledger, "
                        f"{loans.orphan_balances} balance(s) of unknown loans[/red]")
        for diff in loans.differences[:20]:
            console().print(f"  {diff['loan_id']}: {diff['accounts']}", highlight=False)
    if not ok:
        raise typer.Exit(1)


@db_app.command("upgrade")
def upgrade_command(
    business_date_: Annotated[str | None, typer.Option("--business-date", help="Open a new book on this business "
                                                                               "date, YYYY-MM-DD")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create or migrate the database to the latest schema; optionally open a new book's business date."""
    from lendstack.services.business_date import business_date, open_book

    engine = open_engine()
    opened = None
    if business_date_ is not None:
        day = run_or_fail(lambda: parse_day(business_date_, "business_date"), as_json=as_json)
        opened = run_or_fail(lambda: open_book(engine, day), as_json=as_json)
    current = _iso(business_date(engine))
    if as_json:
        print_json({"database": engine.url.render_as_string(hide_password=True), "migrated": True,
                    "business_date": current, "opened": bool(opened and opened.opened)})
    else:
        console().print(f"database {engine.url.render_as_string(hide_password=True)} is at the latest schema; "
                        f"business date {current or '(not set: the first money command sets it)'}")
