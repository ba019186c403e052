"""The Typer app. Commands live in their own modules, each with a `register(app)` function."""

from __future__ import annotations

import typer

from lendstack.cli import (
    audit,
    bench,
    books,
    collections,
    decide,
    demo,
    loans,
    model,
    monitor,
    portfolio,
    repair,
    report,
    schedule,
    serve,
    sim,
    staff,
    stress,
    webhooks,
)

app = typer.Typer(name="lendstack", help="lendstack: an open-source lending platform.", no_args_is_help=True)


@app.callback()
def _root() -> None:
    """An open-source lending platform: schedules, products, ledger, servicing."""
    # A callback keeps Typer in multi-command mode even while only one command is registered.


schedule.register(app)
bench.register(app)
sim.register(app)
books.register(app)
loans.register(app)
demo.register(app)
model.register(app)
decide.register(app)
serve.register(app)
portfolio.register(app)
audit.register(app)
webhooks.register(app)
monitor.register(app)
collections.register(app)
staff.register(app)
report.register(app)
stress.register(app)
repair.register(app)
