"""The API's one table from an error's kind to an HTTP status: no status from a message's wording."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from lendstack.api.problems import KIND_STATUS, install_error_handlers
from lendstack.errors import ErrorKind, LendstackError
from lendstack.origination.status import StatusError
from lendstack.servicing import ServicingError
from lendstack.store.idempotency import IdempotencyConflict
from lendstack.store.loan_repo import ConcurrentUpdate


def _client(error: Exception) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    def boom() -> None:
        raise error

    return TestClient(app, raise_server_exceptions=False)


def test_every_kind_has_a_status() -> None:
    assert set(KIND_STATUS) == set(ErrorKind)
    statuses = {kind: status for kind, (status, _slug) in KIND_STATUS.items()}
    assert statuses == {ErrorKind.INVALID: 422, ErrorKind.NOT_FOUND: 404, ErrorKind.CONFLICT: 409,
                        ErrorKind.FORBIDDEN: 403, ErrorKind.UNAVAILABLE: 503, ErrorKind.RATE_LIMITED: 429}


def test_unknown_is_404_by_kind_not_by_wording() -> None:
    found = _client(ServicingError("loan_id", "no such loan", kind=ErrorKind.NOT_FOUND)).get("/boom")
    assert found.status_code == 404 and found.json()["field"] == "loan_id"
    # The old rule read the message: a message starting with "unknown" no longer decides anything.
    worded = _client(ServicingError("loan_id", "unknown loan 'L1'")).get("/boom")
    assert worded.status_code == 422
    assert worded.json()["errors"] == [{"field": "loan_id", "message": "unknown loan 'L1'"}]


def test_conflicts_keep_their_problem_types() -> None:
    idem = _client(IdempotencyConflict("idempotency_key", "key 'k' was already used")).get("/boom")
    assert idem.status_code == 409
    assert idem.json()["type"] == "/problems/idempotency-conflict" and idem.json()["field"] == "Idempotency-Key"
    state = _client(StatusError("A1", "declined", "booked")).get("/boom")
    assert state.status_code == 409 and state.json()["type"] == "/problems/state-conflict"
    assert state.json()["detail"].startswith("application A1: cannot go from 'declined'")
    race = _client(ConcurrentUpdate("loan L1: the loan kept changing; try again")).get("/boom")
    assert race.status_code == 409 and race.json()["type"] == "/problems/concurrent-update"


def test_a_subclass_of_any_area_is_mapped_without_being_listed() -> None:
    class SomeNewAreaError(LendstackError):
        kind = ErrorKind.FORBIDDEN

    answer = _client(SomeNewAreaError("role", "auditors read only")).get("/boom")
    assert answer.status_code == 403 and answer.json()["field"] == "role"


def test_a_plain_value_error_is_not_dressed_as_bad_input() -> None:
    answer = _client(ValueError("a bug")).get("/boom")
    assert answer.status_code == 500
