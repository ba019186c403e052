"""No 500 from any input (issue 12 §2): every integer is bounded, no float may be NaN or infinite, dates
are YYYY-MM-DD text, OPTIONS and 405 say which methods a path takes. On SQLite and PostgreSQL: an
unbounded offset or amount reached the database and overflowed its 64-bit integers there."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from conftest import auth, keys_for
from lendstack.api.app import create_app
from lendstack.api.common import OFFSET_MAX
from lendstack.money.money import AMOUNT_MINOR_MAX

TOO_BIG = 2**63  # one past the largest 64-bit integer
LIST_ROUTES = ["/v1/loans", "/v1/applications", "/v1/keys", "/v1/webhooks/subscriptions", "/v1/webhooks/deliveries",
               "/v1/applicants/A1", "/v1/products", "/v1/policies", "/v1/models"]

Api = tuple[TestClient, dict[str, str]]


@pytest.fixture
def bounded(engine: Engine, registry_dir: Path) -> Iterator[Api]:
    with TestClient(create_app(engine, registry_dir=registry_dir), raise_server_exceptions=False) as client:
        yield client, keys_for(engine)


def _problem(response: Any, status: int, field: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["field"] == field, response.json()


@pytest.mark.parametrize("route", LIST_ROUTES)
def test_offset_beyond_the_bound_is_refused_naming_it(bounded: Api, route: str) -> None:
    client, tokens = bounded
    for offset in (TOO_BIG, OFFSET_MAX + 1):
        _problem(client.get(route, params={"offset": offset}, headers=auth(tokens["admin"])), 422, "query.offset")
    at_bound = client.get(route, params={"offset": OFFSET_MAX}, headers=auth(tokens["admin"]))
    assert at_bound.status_code in (200, 404), at_bound.text  # 404: the applicant does not exist
    if at_bound.status_code == 200:
        assert at_bound.json()["items"] == [] and at_bound.json()["offset"] == OFFSET_MAX


def _submit(client: TestClient, token: str, document: dict[str, Any], key: str) -> Any:
    # Raw JSON text: json.dumps writes NaN and Infinity, which Python's parser (the server's) reads back.
    return client.post("/v1/applications", content=json.dumps(document),
                       headers={**auth(token, key), "content-type": "application/json"})


def _with(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    *parents, name = path.split(".")
    node = changed
    for part in parents:
        node = node.setdefault(part, {})
    node[name] = value
    return changed


MONEY_AND_COUNTS = ["declared.requested_amount_minor", "declared.declared_monthly_revenue_minor",
                    "data_sources.bureau.monthly_income_minor", "data_sources.bureau.inquiries_6m",
                    "data_sources.bureau.months_since_oldest_account", "data_sources.tax.annual_tax_paid_minor",
                    "data_sources.tax.tax_filing_months", "data_sources.invoices.invoice_count_12m",
                    "data_sources.pos.revenue_mean_12m_minor", "data_sources.supply_chain.orders_12m",
                    "data_sources.telematics.vehicle_value_minor", "data_sources.device.device_age_days",
                    "data_sources.device.app_sessions_30d"]


@pytest.mark.parametrize("path", MONEY_AND_COUNTS)
def test_application_integers_beyond_64_bits_are_refused_naming_them(bounded: Api, documents: list[dict[str, Any]],
                                                                      path: str) -> None:
    client, tokens = bounded
    for i, value in enumerate((TOO_BIG, AMOUNT_MINOR_MAX + 1)):
        response = _submit(client, tokens["partner"], _with(documents[0], path, value), f"big-{i}")
        _problem(response, 422, path)
    pos = _with(documents[0], "data_sources.pos.monthly_revenue_minor", [1, TOO_BIG])
    _problem(_submit(client, tokens["partner"], pos, "pos"), 422, "data_sources.pos.monthly_revenue_minor.1")
    assert client.get("/v1/applications", headers=auth(tokens["admin"])).json()["items"] == []  # nothing stored


FLOATS = ["data_sources.bureau.debt_to_income", "data_sources.pos.revenue_volatility",
          "data_sources.telematics.mileage_km_30d", "data_sources.telematics.night_driving_share",
          "data_sources.device.gps_distance_km", "data_sources.device.night_edits_share", "applicant.address_lat"]


@pytest.mark.parametrize("path", FLOATS)
def test_infinity_and_nan_are_refused_naming_the_field(bounded: Api, documents: list[dict[str, Any]],
                                                       path: str) -> None:
    client, tokens = bounded
    for i, value in enumerate((float("inf"), float("-inf"), float("nan"))):
        document = _with(documents[0], path, value)
        if path == "applicant.address_lat":
            document["applicant"]["address_lon"] = 10.0
        _problem(_submit(client, tokens["partner"], document, f"inf-{i}"), 422, path)


def test_money_bodies_are_bounded_and_finite(bounded: Api) -> None:
    client, tokens = bounded
    headers = {**auth(tokens["admin"], "q"), "content-type": "application/json"}
    quote = {"amount_minor": 100_000, "rate_annual": "0.12", "term": 12, "method": "equal_installment"}
    assert client.post("/v1/schedules/quote", json=quote, headers=headers).status_code == 200
    for name, value in (("amount_minor", TOO_BIG), ("amount_minor", AMOUNT_MINOR_MAX + 1),
                        ("upfront_fee_minor", TOO_BIG)):
        _problem(client.post("/v1/schedules/quote", json={**quote, name: value}, headers=headers), 422, name)
    for value in ("Infinity", "-Infinity", "NaN"):
        body = f'{{"amount_minor": 100000, "term": 12, "method": "bullet", "rate_annual": {value}}}'
        _problem(client.post("/v1/schedules/quote", content=body, headers=headers), 422, "rate_annual")
    repayment = {"amount_minor": AMOUNT_MINOR_MAX + 1, "currency": "CNY"}
    _problem(client.post("/v1/loans/L1/repayments", json=repayment, headers=auth(tokens["admin"], "r")), 422,
             "amount_minor")


def test_post_loan_payloads_refuse_infinities_and_huge_integers(bounded: Api) -> None:
    client, tokens = bounded
    for i, value in enumerate(("Infinity", "NaN", str(TOO_BIG))):
        body = ('{"records": [{"loan_id": "L1", "source": "pos", "as_of": "2026-01-31", '
                f'"payload": {{"monthly_revenue_minor": 5, "extra": [{value}]}}}}]}}')
        response = client.post("/v1/post-loan-data", content=body,
                               headers={**auth(tokens["admin"], f"pl-{i}"), "content-type": "application/json"})
        _problem(response, 422, "records.0.payload")


@pytest.mark.parametrize("as_of", ["0", "1", "1700000000", "2026-01-31T00:00:00", "20260131", "0001-01-01"])
@pytest.mark.parametrize("route", ["/v1/reports/trial-balance", "/v1/reports/portfolio"])
def test_dates_are_iso_text_not_timestamps(bounded: Api, route: str, as_of: str) -> None:
    client, tokens = bounded
    _problem(client.get(route, params={"as_of": as_of}, headers=auth(tokens["admin"])), 422, "query.as_of")
    assert client.get(route, params={"as_of": "2026-01-31"}, headers=auth(tokens["admin"])).status_code == 200


def test_body_dates_are_iso_text(bounded: Api, documents: list[dict[str, Any]]) -> None:
    client, tokens = bounded
    admin = tokens["admin"]
    for i, on in enumerate((0, 1_700_000_000, "2026-01-31T00:00:00", "9999-12-31")):
        _problem(client.post("/v1/loans/L1/disbursements", json={"on": on}, headers=auth(admin, f"d{i}")), 422, "on")
        _problem(client.post("/v1/offers/A1/accept", json={"on": on}, headers=auth(admin, f"o{i}")), 422, "on")
        quote = {"amount_minor": 100_000, "rate_annual": "0.12", "term": 12, "method": "bullet", "start": on}
        _problem(client.post("/v1/schedules/quote", json=quote, headers=auth(admin)), 422, "start")
        record = {"loan_id": "L1", "source": "pos", "as_of": on, "payload": {}}
        _problem(client.post("/v1/post-loan-data", json={"records": [record]}, headers=auth(admin, f"p{i}")), 422,
                 "records.0.as_of")
    _problem(_submit(client, tokens["partner"], _with(documents[0], "applied_on", 0), "a0"), 422, "applied_on")
    edits = [{"at": 0, "field": "declared.purpose"}]
    _problem(_submit(client, tokens["partner"], {**documents[0], "edits": edits}, "a1"), 422, "edits.0.at")


def test_options_and_405_say_every_method_of_the_path(bounded: Api) -> None:
    client, tokens = bounded
    headers = auth(tokens["partner"])
    cases = {"/v1/webhooks/subscriptions": "GET, OPTIONS, POST", "/v1/loans": "GET, OPTIONS",
             "/v1/loans/L1/repayments": "OPTIONS, POST", "/v1/webhooks/subscriptions/S1": "DELETE, OPTIONS"}
    for path, allow in cases.items():
        options = client.options(path, headers=headers)
        assert (options.status_code, options.headers.get("allow"), options.content) == (204, allow, b""), path
        for method in ("PUT", "PATCH", "HEAD"):
            refused = client.request(method, path, headers=headers)
            assert (refused.status_code, refused.headers.get("allow")) == (405, allow), (method, path)
    # A path without parameters is its own resource, although /v1/models/{version} matches it too.
    shadowed = client.get("/v1/models/rollback", headers=auth(tokens["admin"]))
    assert (shadowed.status_code, shadowed.headers.get("allow")) == (405, "OPTIONS, POST"), shadowed.text
    assert client.options("/v1/models/rollback", headers=headers).headers.get("allow") == "OPTIONS, POST"
    # The Allow list is no secret, but it is not for anyone without a key.
    assert client.options("/v1/loans").status_code == 401
    assert client.options("/v1/no-such-route", headers=headers).status_code == 404


def _resolve(document: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        *_, name = node["$ref"].split("/")
        node = document["components"]["schemas"][name]
    return node


def _numbers(document: dict[str, Any], node: Any, where: str, seen: frozenset[str] = frozenset()) -> Iterator[
        tuple[str, dict[str, Any]]]:
    """Every integer and number schema under `node`, through $refs (each followed once per branch)."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            yield from _numbers(document, item, f"{where}/{i}", seen)
        return
    if not isinstance(node, dict):
        return
    if "$ref" in node:
        if node["$ref"] not in seen:
            yield from _numbers(document, _resolve(document, node), node["$ref"], seen | {node["$ref"]})
        return
    if node.get("type") in ("integer", "number"):
        yield where, node
    for name, child in node.items():
        yield from _numbers(document, child, f"{where}/{name}", seen)


def test_every_number_in_the_contract_is_bounded(bounded: Api) -> None:
    """Every integer a client sends has a maximum; every number a minimum and a maximum too (so the
    contract refuses Infinity: JSON cannot even write it, and the server refuses it: see above)."""
    client, _tokens = bounded
    document = client.get("/v1/openapi.json").json()
    found: list[tuple[str, dict[str, Any]]] = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            where = f"{method.upper()} {path}"
            found += _numbers(document, operation.get("parameters", []), f"{where} parameters")
            found += _numbers(document, operation.get("requestBody", {}), f"{where} body")
    assert len(found) >= 25, found  # limit and offset on every list, amounts, terms, rates
    unbounded = [where for where, schema in found if "maximum" not in schema and "exclusiveMaximum" not in schema]
    assert unbounded == []
    open_below = [where for where, schema in found
                  if schema["type"] == "number" and "minimum" not in schema and "exclusiveMinimum" not in schema]
    assert open_below == []
    offsets = [parameter["schema"] for item in document["paths"].values() for operation in item.values()
               for parameter in operation.get("parameters", []) if parameter["name"] == "offset"]
    assert len(offsets) >= len(LIST_ROUTES) and all(o["maximum"] == OFFSET_MAX for o in offsets), offsets
