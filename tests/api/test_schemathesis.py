"""schemathesis against the published contract (/v1/openapi.json): every operation, with an admin
key, on a SQLite app holding a small book (the product catalog, decided applications, a disbursed
loan). No 500s; status codes, content types, headers and bodies conform to the declared responses
(problem+json included). Examples are bounded so the whole run stays well under a minute."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Engine

from conftest import auth, keys_for, submit_until
from lendstack.api.app import create_app
from lendstack.api.ratelimit import Rate, RateLimits

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
UNLIMITED = RateLimits(by_role={"admin": Rate(100_000.0, 100_000)})  # measure the API, not the limiter
POSITIVE_EXAMPLES = 6
NEGATIVE_EXAMPLES = 3


def _seeded_app(engine: Engine, registry_dir: Path, documents: list[dict[str, Any]]) -> tuple[Any, str]:
    """The app and an admin token, over a book with decided applications and one disbursed loan."""
    tokens = keys_for(engine)
    app = create_app(engine, registry_dir=registry_dir, rate_limits=UNLIMITED)
    with TestClient(app) as client:
        _i, body = submit_until(client, tokens["partner"], documents, "approve")
        application_id = body["application_id"]
        accepted = client.post(f"/v1/offers/{application_id}/accept", json={}, headers=auth(tokens["partner"], "s1"))
        assert accepted.status_code == 201, accepted.text
        loan_id = accepted.json()["loan_id"]
        disbursed = client.post(f"/v1/loans/{loan_id}/disbursements", json={}, headers=auth(tokens["admin"], "s2"))
        assert disbursed.status_code == 201, disbursed.text
    return app, tokens["admin"]


def _exercise(operation: Any, mode: GenerationMode, examples: int, headers: dict[str, str]) -> None:
    # schemathesis' own pytest plugin (from_fixture) does not run under pytest 9: drive hypothesis directly.
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()


def test_api_conforms_to_its_contract(sqlite_engine: Engine, registry_dir: Path, documents: list[dict[str, Any]],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LENDSTACK_WEBHOOK_ALLOW_HOSTS", "")  # generated URLs must meet the real SSRF guard
    app, admin = _seeded_app(sqlite_engine, registry_dir, documents)
    schema = schemathesis.openapi.from_asgi("/v1/openapi.json", app)
    headers = {"Authorization": f"Bearer {admin}"}
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30, "every route of the app is in the contract"
    for operation in operations:
        for mode, examples in ((GenerationMode.POSITIVE, POSITIVE_EXAMPLES), (GenerationMode.NEGATIVE,
                                                                               NEGATIVE_EXAMPLES)):
            try:
                _exercise(operation, mode, examples, headers)
            except Exception as exc:  # collect all, so one run shows every broken operation
                failures[f"{operation.method.upper()} {operation.path} ({mode.value})"] = str(exc)[:2000]
    assert not failures, "\n\n".join(f"{name}: {text}" for name, text in failures.items())
