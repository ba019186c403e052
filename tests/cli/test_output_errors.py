"""The CLI's one table from an error's kind to an exit code, and a bug never dressed as bad input."""

from __future__ import annotations

import json

import pytest
import typer
from pydantic import BaseModel
from typer.testing import CliRunner

from lendstack.cli.output import EXIT_BUG, EXIT_CODES, EXIT_TRY_LATER, EXIT_USER_ERROR, run_or_fail
from lendstack.errors import ErrorKind, LendstackError, NotFound, Unavailable


class _Doc(BaseModel):
    amount_minor: int


def _app(error: BaseException) -> typer.Typer:
    app = typer.Typer()

    @app.command()
    def go(as_json: bool = typer.Option(False, "--json")) -> None:
        def action() -> None:
            raise error

        run_or_fail(action, as_json=as_json)

    return app


def _run(error: BaseException) -> tuple[int, dict[str, object]]:
    result = CliRunner().invoke(_app(error), ["--json"])
    return result.exit_code, json.loads(result.stdout)["error"]


def test_every_kind_has_an_exit_code_and_refusals_keep_exit_2() -> None:
    assert set(EXIT_CODES) == set(ErrorKind)
    for kind in (ErrorKind.INVALID, ErrorKind.NOT_FOUND, ErrorKind.CONFLICT, ErrorKind.FORBIDDEN):
        assert EXIT_CODES[kind] == EXIT_USER_ERROR == 2
    assert EXIT_CODES[ErrorKind.UNAVAILABLE] == EXIT_CODES[ErrorKind.RATE_LIMITED] == EXIT_TRY_LATER


@pytest.mark.parametrize(
    ("error", "code", "kind"),
    [
        (LendstackError("amount_minor", "must be positive"), 2, "invalid"),
        (NotFound("loan_id", "unknown loan 'L9'"), 2, "not_found"),
        (LendstackError("idempotency_key", "reused", kind=ErrorKind.CONFLICT), 2, "conflict"),
        (Unavailable("database", "busy"), EXIT_TRY_LATER, "unavailable"),
    ],
)
def test_a_user_error_names_field_and_kind(error: LendstackError, code: int, kind: str) -> None:
    exit_code, body = _run(error)
    assert exit_code == code
    assert body == {"field": error.field, "message": error.message, "kind": kind}


def test_a_plain_value_error_is_a_bug_with_an_error_id_not_bad_input() -> None:
    exit_code, body = _run(ValueError("int() of something we never expected"))
    assert exit_code == EXIT_BUG == 1
    assert body["kind"] == "bug" and body["field"] is None
    error_id = body["error_id"]
    assert isinstance(error_id, str) and len(error_id) == 12 and error_id in str(body["message"])


def test_a_key_error_is_a_bug_too() -> None:
    result = CliRunner().invoke(_app(KeyError("x")), [])
    # Not a ValueError: it propagates as any unexpected exception does (exit 1, traceback).
    assert result.exit_code == 1


def test_a_malformed_input_document_is_invalid_input_naming_the_field() -> None:
    try:
        _Doc.model_validate({"amount_minor": "lots"})
    except ValueError as exc:  # pydantic's ValidationError
        exit_code, body = _run(exc)
    assert exit_code == 2
    assert body["field"] == "amount_minor" and body["kind"] == "invalid"


def test_malformed_json_is_invalid_input() -> None:
    try:
        json.loads("{not json")
    except json.JSONDecodeError as exc:
        exit_code, body = _run(exc)
    assert exit_code == 2
    assert body["field"] == "file" and "not valid JSON" in str(body["message"])
