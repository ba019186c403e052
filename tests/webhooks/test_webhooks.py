"""Webhook delivery on SQLite and PostgreSQL: signatures, fan-out (type filter, partner isolation),
a real HTTP receiver, backoff into the dead-letter list, redelivery, no double sends."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import pytest
from sqlalchemy import Engine, insert, select

from lendstack.events import DomainEvent
from lendstack.store.tables_api import api_loan_partners
from lendstack.store.tables_origination import IDENTIFIER_COLUMNS, applicants, applications
from lendstack.store.tables_webhooks import webhook_deliveries
from lendstack.store.uow import UnitOfWork
from lendstack.webhooks import service as wh
from lendstack.webhooks import ssrf

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class Recorder:
    """A fake sender: records every request and answers with the next scripted status (or raises)."""

    def __init__(self, *answers: int | Exception) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, bytes, dict[str, str]]] = []

    def __call__(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        self.calls.append((url, body, dict(headers)))
        answer = self.answers.pop(0) if len(self.answers) > 1 else (self.answers[0] if self.answers else 200)
        if isinstance(answer, Exception):
            raise answer
        return answer


def emit(engine: Engine, event_type: str, loan_id: str, *, partner: str | None = None) -> str:
    event = DomainEvent.new(event_type, "loan", loan_id, {"loan_id": loan_id}, occurred_at=T0)
    with UnitOfWork(engine) as uow:
        uow.outbox.add(event)
        if partner is not None:
            uow.connection.execute(insert(api_loan_partners).values(loan_id=loan_id, partner_id=partner))
    return event.event_id


def subscribe(engine: Engine, partner: str, *types: str, url: str = "https://hooks.example/in") -> str:
    return wh.create_subscription(engine, url=url, event_types=types, partner_id=partner).subscription_id


def deliveries(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(webhook_deliveries).order_by(webhook_deliveries.c.delivery_id)))


# --- subscriptions -------------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "types", "field"), [
    ("ftp://hooks.example/in", ["loan.repaid"], "url"), ("not a url", ["loan.repaid"], "url"),
    ("https://hooks.example/in", ["loan.exploded"], "event_types"), ("https://hooks.example/in", [], "event_types"),
])
def test_bad_subscription_names_the_field(engine: Engine, url: str, types: list[str], field: str) -> None:
    with pytest.raises(wh.WebhookError) as caught:
        wh.create_subscription(engine, url=url, event_types=types)
    assert caught.value.field == field
    assert wh.list_subscriptions(engine, partner_id=None, limit=10, offset=0) == []


# --- fan-out and sending ---------------------------------------------------------------------------


def test_fan_out_matches_type_and_partner_only(engine: Engine) -> None:
    admin = subscribe(engine, "", "loan.repaid", "loan.overdue")
    p1 = subscribe(engine, "p1", "loan.repaid")
    p2 = subscribe(engine, "p2", "loan.repaid", "loan.disbursed")
    emit(engine, "loan.repaid", "L1", partner="p1")
    emit(engine, "loan.disbursed", "L2", partner="p1")  # nobody but p2 wants disbursed, and L2 is not p2's
    emit(engine, "loan.overdue", "L3")  # a lender's own loan: staff only
    counts = wh.dispatch(engine, now=T0, sender=Recorder(200))
    assert counts.events_published == 3 and counts.delivered == 3
    got = {(r.subscription_id, r.event_type) for r in deliveries(engine)}
    assert got == {(admin, "loan.repaid"), (p1, "loan.repaid"), (admin, "loan.overdue")}
    assert p2 not in {s for s, _t in got}
    with UnitOfWork(engine) as uow:
        assert uow.outbox.pending() == []


def _application(engine: Engine, application_id: str, partner: str) -> None:
    with engine.begin() as conn:
        conn.execute(insert(applicants).values(applicant_id="A-" + application_id, applicant_type="person",
                                               segment="retail", region="east", created_at=T0))
        conn.execute(insert(applications).values(
            application_id=application_id, applicant_id="A-" + application_id, status="decided", applied_on=T0.date(),
            currency="CNY", requested_amount_minor=10_000_00, requested_term_months=12, partner_id=partner,
            document={}, created_at=T0, updated_at=T0, **dict.fromkeys(IDENTIFIER_COLUMNS, "")))


def test_application_events_go_to_the_partner_that_brought_them(engine: Engine) -> None:
    p1 = subscribe(engine, "p1", "application.decided")
    p2 = subscribe(engine, "p2", "application.decided")
    _application(engine, "APP1", "p1")
    with UnitOfWork(engine) as uow:
        uow.outbox.add(DomainEvent.new("application.decided", "application", "APP1", occurred_at=T0))
    wh.dispatch(engine, now=T0, sender=Recorder(200))
    assert [r.subscription_id for r in deliveries(engine)] == [p1] and p2 != p1


def test_dispatch_twice_does_not_double_send(engine: Engine) -> None:
    subscribe(engine, "", "loan.repaid")
    emit(engine, "loan.repaid", "L1")
    sender = Recorder(200)
    wh.dispatch(engine, now=T0, sender=sender)
    second = wh.dispatch(engine, now=T0 + timedelta(hours=1), sender=sender)
    assert len(sender.calls) == 1 and second.attempted == 0
    # Fan-out of an already fanned-out event (e.g. a racing dispatcher) inserts nothing twice.
    assert wh.fan_out(engine, now=T0)[1] == 0 and len(deliveries(engine)) == 1


def test_request_is_signed_with_the_subscription_secret(engine: Engine) -> None:
    created = wh.create_subscription(engine, url="https://hooks.example/in", event_types=["loan.repaid"])
    event_id = emit(engine, "loan.repaid", "L1")
    sender = Recorder(204)
    wh.dispatch(engine, now=T0, sender=sender)
    (url, body, headers), = sender.calls
    assert url == "https://hooks.example/in" and json.loads(body)["event_id"] == event_id
    assert headers["X-Lendstack-Event"] == "loan.repaid"
    assert headers["X-Lendstack-Delivery"] == wh.delivery_id_for(event_id, created.subscription_id)
    assert wh.verify_signature(created.secret, headers["X-Lendstack-Timestamp"], body,
                               headers["X-Lendstack-Signature"], now=T0)


def test_failures_back_off_then_dead_letter_then_redeliver(engine: Engine) -> None:
    subscribe(engine, "", "loan.repaid")
    emit(engine, "loan.repaid", "L1")
    sender = Recorder(500, ConnectionError("refused"))
    now, waits = T0, []
    for _ in range(wh.MAX_ATTEMPTS):
        assert wh.dispatch(engine, now=now, sender=sender).attempted == 1
        assert wh.dispatch(engine, now=now, sender=sender).attempted == 0  # not due again yet
        (row,) = deliveries(engine)
        if row.status == wh.PENDING:
            waits.append((row.next_attempt_at - now).total_seconds())
            now = row.next_attempt_at
    (row,) = deliveries(engine)
    assert row.status == wh.DEAD and row.attempts == wh.MAX_ATTEMPTS and "ConnectionError" in row.last_error
    assert len(waits) == wh.MAX_ATTEMPTS - 1 and all(a < b for a, b in itertools.pairwise(waits))
    assert wh.dispatch(engine, now=now + timedelta(days=1), sender=sender).attempted == 0
    dead = wh.list_deliveries(engine, status=wh.DEAD, partner_id=None, limit=10)
    assert [d.delivery_id for d in dead] == [row.delivery_id]

    later = now + timedelta(days=2)
    assert wh.redeliver(engine, row.delivery_id, now=later).attempts == 0
    assert wh.dispatch(engine, now=later, sender=Recorder(200)).delivered == 1
    (row,) = deliveries(engine)
    assert row.status == wh.DELIVERED and row.last_status_code == 200 and row.attempts == 1


def test_deactivated_subscription_gets_nothing_more(engine: Engine) -> None:
    sid = subscribe(engine, "p1", "loan.repaid")
    emit(engine, "loan.repaid", "L1", partner="p1")
    wh.fan_out(engine, now=T0)
    wh.deactivate_subscription(engine, sid, partner_id="p1")
    sender = Recorder(200)
    assert wh.dispatch(engine, now=T0, sender=sender).dead == 1 and sender.calls == []
    with pytest.raises(wh.WebhookError):
        wh.deactivate_subscription(engine, sid, partner_id="p2")  # someone else's: not found


# --- a real receiver -------------------------------------------------------------------------------


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:  # the name http.server dispatches to
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(({k: v for k, v in self.headers.items()}, body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # keeps the test output quiet
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    _Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Receiver.received
    server.shutdown()
    server.server_close()


def test_real_http_receiver_verifies_the_signature(engine: Engine,
                                                   receiver: tuple[str, list[tuple[dict[str, str], bytes]]]) -> None:
    url, received = receiver
    created = wh.create_subscription(engine, url=url, event_types=["loan.disbursed"])
    emit(engine, "loan.disbursed", "L9")
    now = datetime.now(UTC)
    assert wh.dispatch(engine, now=now).delivered == 1  # the default httpx sender
    (headers, body), = received
    assert wh.verify_signature(created.secret, headers["X-Lendstack-Timestamp"], body,
                               headers["X-Lendstack-Signature"], now=datetime.now(UTC))
    assert json.loads(body)["aggregate_id"] == "L9"


def test_a_name_rebound_to_an_internal_address_gets_nothing(engine: Engine, monkeypatch: pytest.MonkeyPatch,
                                                            receiver: tuple[str, list[tuple[dict[str, str], bytes]]]
                                                            ) -> None:
    """DNS rebinding: the name was public (or unresolvable) when subscribed, and points at the server's
    own network when sent to. The send resolves again, refuses, and records a failed attempt."""
    url, received = receiver
    port = url.rsplit(":", 1)[1].split("/")[0]
    monkeypatch.setenv(wh.ALLOW_HOSTS_ENV, "")
    wh.create_subscription(engine, url=f"http://hooks.rebind.invalid:{port}/hook", event_types=["loan.disbursed"])
    monkeypatch.setattr(ssrf, "resolve_host", lambda host: ["127.0.0.1"] if host == "hooks.rebind.invalid" else [])
    emit(engine, "loan.disbursed", "L1")
    counts = wh.dispatch(engine, now=datetime.now(UTC))
    assert counts.attempted == 1 and counts.delivered == 0 and counts.failed == 1
    assert received == []
    with engine.connect() as conn:
        error = conn.execute(select(webhook_deliveries.c.last_error)).scalar_one()
    assert "internal address" in error and "127.0.0.1" in error


def test_a_name_is_sent_to_the_address_checked_at_send(engine: Engine, monkeypatch: pytest.MonkeyPatch,
                                                       receiver: tuple[str, list[tuple[dict[str, str], bytes]]]
                                                       ) -> None:
    url, received = receiver
    port = url.rsplit(":", 1)[1].split("/")[0]
    monkeypatch.setenv(wh.ALLOW_HOSTS_ENV, "127.0.0.0/8")  # the network, not the name: the name is resolved
    monkeypatch.setattr(ssrf, "resolve_host", lambda host: ["127.0.0.1"] if host == "receiver.test" else [])
    wh.create_subscription(engine, url=f"http://receiver.test:{port}/hook", event_types=["loan.disbursed"])
    emit(engine, "loan.disbursed", "L2")
    assert wh.dispatch(engine, now=datetime.now(UTC)).delivered == 1
    (headers, body), = received
    assert headers["Host"] == f"receiver.test:{port}"
    assert json.loads(body)["aggregate_id"] == "L2"
