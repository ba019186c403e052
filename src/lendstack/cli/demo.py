"""`lendstack demo`: the whole product in one command.

On an empty database it simulates two years of a lending business through the real code paths
(applications → decisions → reviews → disbursements → repayments, late payments, defaults and
write-offs → end of day every day), with a progress bar; then it prints the staff logins and a
partner API key and serves the API and the console on http://127.0.0.1:8000. A database that
already holds a book is reused as it is ("reusing the book").

A new SQLite book is built in `<file>.building` and renamed into place only when it is complete,
so an interrupted run never leaves a half-built book that a second run would reuse.
"""

from __future__ import annotations

import os
import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lendstack.cli.context import open_engine
from lendstack.cli.output import console, fail, print_json, print_table

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from lendstack.services.demo import DemoConfig, DemoReport

BUILDING_SUFFIX = ".building"
# The demo's defaults as the options show them. They mirror lendstack.services.demo.DemoConfig, which loads
# only when the command runs (so that `lendstack --help` starts at once); tests/cli/test_cli_startup.py
# checks that they agree.
DEMO_DAYS = 730
DEMO_SEED = 7
DEMO_PER_DAY_START = 1.0
DEMO_PER_DAY_END = 4.0


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)


def demo_command(
    days: Annotated[int, typer.Option(help="Days of business to simulate")] = DEMO_DAYS,
    seed: Annotated[int, typer.Option(help="Seed: same seed, same book")] = DEMO_SEED,
    per_day_start: Annotated[float, typer.Option(help="Applications a day at the start")] = DEMO_PER_DAY_START,
    per_day_end: Annotated[float, typer.Option(help="Applications a day at the end")] = DEMO_PER_DAY_END,
    host: Annotated[str, typer.Option(help="Interface to serve on (loopback by default)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port to serve on")] = 8000,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the API and console afterwards")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON summary")] = False,
) -> None:
    """Simulate a lending business on the configured database (SQLite lendstack.db by default), then
    serve the API and the console. An existing book is reused; delete the database file to rebuild it."""
    from lendstack.services.database import database_url
    from lendstack.services.demo import DemoConfig, DemoError

    config = DemoConfig(days=days, seed=seed, per_day_start=per_day_start, per_day_end=per_day_end)
    try:
        config.check()
    except DemoError as exc:
        fail(exc.field, exc.message, as_json=as_json)
    if not 1 <= port <= 65_535:
        fail("port", f"must be 1..65535, got {port}", as_json=as_json)
    started = time.perf_counter()
    engine, report = _book(database_url(), config, quiet=as_json)
    summary = _summary(engine, report, time.perf_counter() - started)
    if serve:
        summary["url"] = f"http://{host}:{port}"
        summary["api_key"] = _partner_key(engine)
        summary["insecure_http"] = True  # plain http on this machine: cookies without Secure (development)
    if as_json:
        print_json(summary)
    else:
        _print_summary(summary)
    if serve:
        _serve(engine, host, port, announce=not as_json)  # --json: said in the summary, stdout stays one document


# --------------------------------------------------------------------------- the book


def _book(url: str, config: DemoConfig, *, quiet: bool) -> tuple[Engine, DemoReport | None]:
    """The engine of a book ready to serve, and the report of the run that built it (None: reused)."""
    from lendstack.services.demo import book_exists
    from lendstack.services.sqlite_files import sqlite_file

    path = sqlite_file(url)
    if path is not None and not path.exists():
        report = _build_sqlite(path, config, quiet=quiet)
        return open_engine(url), report
    engine = open_engine(url)
    if book_exists(engine):
        return engine, None
    return engine, _build(engine, config, quiet=quiet)


def _build_sqlite(path: Path, config: DemoConfig, *, quiet: bool) -> DemoReport:
    """Build in `<path>.building`, then rename it into place: the book appears whole or not at all."""
    from lendstack.services.sqlite_files import checkpoint_truncate

    building = path.with_name(path.name + BUILDING_SUFFIX)
    for stale in _sqlite_files(building):
        stale.unlink(missing_ok=True)  # a run interrupted before: start over
    engine = open_engine(f"sqlite:///{building}")
    try:
        report = _build(engine, config, quiet=quiet)
        checkpoint_truncate(engine)  # the main file alone is the book
    finally:
        engine.dispose()
    for side in _sqlite_files(building)[1:]:
        side.unlink(missing_ok=True)  # empty after the checkpoint
    os.replace(building, path)
    return report


def _sqlite_files(path: Path) -> list[Path]:
    return [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]


def _build(engine: Engine, config: DemoConfig, *, quiet: bool) -> DemoReport:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from lendstack.services.demo import run_business
    from lendstack.services.models import default_registry_dir, scoring_model

    registry = default_registry_dir()  # the one the API and the console read
    out = console(stderr=True)
    if not quiet:
        out.print(f"lendstack demo: simulating {config.days} days of lending from {config.start} "
                  f"(seed {config.seed}); the credit model comes from {registry}")
    with out.status("loading the credit model (trained on the simulator on the first run)", spinner="dots") \
            if not quiet else _Quiet():
        model = scoring_model(registry)
    columns = (TextColumn("{task.fields[day]}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[counts]}"))
    with Progress(*columns, console=out, disable=quiet) as bar:
        task = bar.add_task("days", total=config.days, day="", counts="")

        def tick(day: date, report: DemoReport) -> None:
            bar.update(task, advance=1, day=day.isoformat(), counts=(
                f"{report.applications} applications · {report.loans_disbursed} loans · "
                f"{report.repayments} repayments · {report.write_offs} write-offs"))

        return run_business(engine, config, model=model, progress=tick)


class _Quiet:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None


# --------------------------------------------------------------------------- what is printed


def _summary(engine: Engine, report: DemoReport | None, seconds: float) -> dict[str, Any]:
    from lendstack.services.decisions import list_reviews
    from lendstack.services.demo import decision_mix
    from lendstack.services.reconcile import verify_book
    from lendstack.services.reports import aging, trial_balance
    from lendstack.services.staff import ensure_demo_staff

    staff = ensure_demo_staff(engine)
    checked = verify_book(engine)
    problems = [str(p) for p in checked.ledger_problems] + [
        f"loan {d['loan_id']} differs from its sub-ledger: {d['accounts']}" for d in checked.loans.differences]
    waiting = [r for r in list_reviews(engine) if r.status != "done"]
    return {
        "reused": report is None, "seconds": round(seconds, 1), "database": _shown_url(engine),
        "report": None if report is None else report.as_json(), "decisions": decision_mix(engine),
        "review_queue": len(waiting), "ledger_verified": not problems,
        "ledger_problems": problems[:5],
        "trial_balance": trial_balance(engine), "aging": aging(engine),
        "staff": [{"username": u, "password": p, "role": r} for u, p, r in staff],
    }


def _shown_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


DEMO_KEY_LABEL = "lendstack demo"
KEYS_SCANNED_MAX = 10_000  # bounded: the demo book holds a handful of keys
KEYS_PAGE = 1_000  # keys listed per call (within the listing's own page bound)


def _partner_key(engine: Engine) -> dict[str, str]:
    """A new partner key for this serve (a key is stored hashed, so the last one cannot be shown again);
    the demo keys of earlier serves are revoked, so live credentials do not pile up run after run."""
    from lendstack.services.api_access import create_key, list_keys, revoke_key
    from lendstack.services.demo import DEMO_PARTNER

    stale: list[str] = []
    for offset in range(0, KEYS_SCANNED_MAX, KEYS_PAGE):  # the service lists a bounded page at a time
        page = list_keys(engine, KEYS_PAGE, offset)
        stale += [key.key_id for key in page
                  if key.label == DEMO_KEY_LABEL and key.partner_id == DEMO_PARTNER and not key.revoked]
        if len(page) < KEYS_PAGE:
            break
    for key_id in stale:
        revoke_key(engine, key_id)
    new = create_key(engine, "partner", partner_id=DEMO_PARTNER, label=DEMO_KEY_LABEL)
    return {"key_id": new.key_id, "key": new.token, "role": new.role, "partner_id": new.partner_id}


def _print_summary(summary: dict[str, Any]) -> None:
    from lendstack.cli.books import print_aging, print_trial_balance

    out = console()
    report = summary["report"]
    if report is None:
        out.print(f"[bold]lendstack demo[/bold] — reusing the book in {summary['database']} "
                  "(delete the database file to rebuild it)")
    else:
        out.print(f"[bold]lendstack demo[/bold] — {report['days']} days ({report['start']} … {report['end']}) "
                  f"in {summary['seconds']} s: {report['applications']} applications (approved "
                  f"{report['approved']}, referred {report['referred']}, declined {report['declined']}), "
                  f"{report['reviewed']} reviewed, {report['loans_disbursed']} loans disbursed, "
                  f"{report['repayments']} repayments ({report['late_repayments']} late), "
                  f"{report['prepayments']} prepaid, {report['write_offs']} written off "
                  f"({report.get('recoveries', 0)} recoveries after write-off), {report.get('reversals', 0)} "
                  f"bounced payments reversed, {report.get('non_accrual_loans', 0)} loans in non-accrual now, "
                  f"{report['alerts_new']} early-warning alerts")
        print_trial_balance(summary["trial_balance"])
        print_aging(summary["aging"])
    out.print("ledger verified: every balance equals its postings, every loan its sub-ledger"
              if summary["ledger_verified"]
              else f"[red]ledger problems: {summary['ledger_problems']}[/red]")
    out.print(f"manual-review queue 人工审核队列: {summary['review_queue']} waiting")
    print_table("Staff logins 员工登录", ["username 用户名", "password 密码", "role 角色"],
                [[s["username"], s["password"], s["role"]] for s in summary["staff"]], numeric_from=3)
    key = summary.get("api_key")
    if key:
        out.print(f"partner API key 合作方密钥 ({key['partner_id']}, shown once 仅显示一次): [bold]{key['key']}[/bold]")
        out.print(f"console 控制台: {summary['url']}/   API: {summary['url']}/v1   docs: {summary['url']}/v1/docs")


def _serve(engine: Engine, host: str, port: int, *, announce: bool = True) -> None:
    # The demo is served on this machine over plain http (http://127.0.0.1:8000): development, said at start.
    from lendstack.cli.serve import run_site
    from lendstack.services.models import default_registry_dir

    run_site(engine, host, port, default_registry_dir(), insecure_http=True, announce=announce)
