"""Shared output helpers: a Rich table for people, one JSON document with --json for programs,
and errors that name the field, with an exit code by the error's kind (one table: EXIT_CODES)."""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from lendstack.errors import ErrorKind, LendstackError

EXIT_USER_ERROR = 2  # the same code Click uses for usage errors
EXIT_BUG = 1  # anything that is not a LendstackError: a fault of ours, reported with an error id
EXIT_TRY_LATER = 75  # sysexits' EX_TEMPFAIL: nothing was wrong with the request; retry later
# The one table from an error's kind to the process's exit code. Every refusal of the request
# itself exits 2, as it always has (scripts rely on it); the kind is in the --json error for a
# script that must tell "no such id" from "not now". Only a temporary failure differs.
EXIT_CODES: dict[ErrorKind, int] = {
    ErrorKind.INVALID: EXIT_USER_ERROR,
    ErrorKind.NOT_FOUND: EXIT_USER_ERROR,
    ErrorKind.CONFLICT: EXIT_USER_ERROR,
    ErrorKind.FORBIDDEN: EXIT_USER_ERROR,
    ErrorKind.UNAVAILABLE: EXIT_TRY_LATER,
    ErrorKind.RATE_LIMITED: EXIT_TRY_LATER,
}
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


def fail(field: str, message: str, *, as_json: bool, kind: ErrorKind = ErrorKind.INVALID) -> NoReturn:
    """Report a user error naming the field and exit with its kind's code (2 for invalid input)."""
    if as_json:
        print_json({"error": {"field": field, "message": message, "kind": kind.value}})
    else:
        console(stderr=True).print(f"[red]error: {field}: {message}[/red]", highlight=False)
    raise typer.Exit(EXIT_CODES[kind])


def _pydantic_error(exc: ValueError) -> tuple[str, str] | None:
    """(dotted field, message) when `exc` is pydantic's ValidationError (input read by a model)."""
    pydantic = sys.modules.get("pydantic")  # not imported: cannot be one of its errors (keeps start-up light)
    if pydantic is None or not isinstance(exc, pydantic.ValidationError):
        return None
    first = exc.errors()[0]
    return ".".join(str(part) for part in first.get("loc", ())) or "input", str(first.get("msg", "invalid"))


def bug(exc: BaseException, *, as_json: bool) -> NoReturn:
    """An exception that is not a user's mistake: exit 1 with an error id, the traceback on stderr."""
    import secrets  # hmac and hashlib: ~9 ms that only a failing command pays

    error_id = secrets.token_hex(6)
    traceback.print_exception(exc, file=sys.stderr)
    message = f"internal error {error_id}: this is a fault in lendstack, not in your input; the traceback above"
    message += " names it — please report it with this id"
    if as_json:
        print_json({"error": {"field": None, "message": message, "kind": "bug", "error_id": error_id}})
    else:
        console(stderr=True).print(f"[red]{message}[/red]", highlight=False)
    raise typer.Exit(EXIT_BUG)


def run_or_fail(action: Callable[[], T], *, as_json: bool) -> T:
    """Run the command's core; a LendstackError becomes a field-naming error with its kind's exit
    code; a bad input file (pydantic's ValidationError, malformed JSON) is invalid input; anything
    else is a bug (exit 1, error id), never dressed as bad input."""
    try:
        return action()
    except LendstackError as exc:
        fail(exc.field, exc.message, as_json=as_json, kind=exc.kind)
    except json.JSONDecodeError as exc:
        fail("file", f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}", as_json=as_json)
    except ValueError as exc:
        found = _pydantic_error(exc)
        if found is None:
            bug(exc, as_json=as_json)
        fail(found[0], found[1], as_json=as_json)
