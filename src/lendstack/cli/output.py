"""Shared output helpers: a Rich table for people, one JSON document with --json for programs,
and errors that name the field (exit code 2)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from lendstack.money import MoneyError

EXIT_USER_ERROR = 2  # the same code Click uses for usage errors
_WIDTH_NOT_A_TERMINAL = 200  # piped output: do not truncate amounts to an imaginary 80 columns

T = TypeVar("T")


def console(*, stderr: bool = False) -> Console:
    found = Console(stderr=stderr)
    return found if found.is_terminal else Console(stderr=stderr, width=_WIDTH_NOT_A_TERMINAL)


def print_json(document: dict[str, Any]) -> None:
    typer.echo(json.dumps(document, ensure_ascii=False, indent=2))


def print_table(
    title: str, columns: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int = 0
) -> None:
    """A table; columns from index `numeric_from` on are right-aligned (amounts)."""
    table = Table(title=title)
    for index, name in enumerate(columns):
        table.add_column(name, justify="right" if index >= numeric_from else "left", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    console().print(table)


def print_pairs(pairs: Sequence[tuple[str, str]]) -> None:
    out = console()
    for key, value in pairs:
        out.print(f"[bold]{key}[/bold]: {value}")


def fail(field: str, message: str, *, as_json: bool) -> NoReturn:
    """Report a user error naming the field and exit with code 2."""
    if as_json:
        print_json({"error": {"field": field, "message": message}})
    else:
        console(stderr=True).print(f"[red]error: {field}: {message}[/red]", highlight=False)
    raise typer.Exit(EXIT_USER_ERROR)


def run_or_fail(action: Callable[[], T], *, as_json: bool) -> T:
    """Run the command's core; MoneyError/ValueError become a field-naming error and exit 2."""
    try:
        return action()
    except MoneyError as exc:
        fail(exc.field, exc.message, as_json=as_json)
    except ValueError as exc:  # ServicingError, IdempotencyConflict, ... carry the field too
        fail(getattr(exc, "field", "input"), getattr(exc, "message", str(exc)), as_json=as_json)
