"""Webhooks: partner subscriptions, fan-out from the outbox, signed delivery with retries.

One dispatch pass (bounded everywhere by batch sizes):
  1. fan out: the oldest unpublished outbox events → one delivery row per (event, matching active
     subscription), then the events are marked published, all in ONE transaction, so an event is
     either fanned out and published or neither;
  2. send: due pending deliveries are claimed (a lease on next_attempt_at, so two dispatchers never
     send the same attempt), POSTed outside any transaction, and their outcome recorded.

A failed attempt is retried with exponential backoff plus a deterministic jitter; after
MAX_ATTEMPTS it is dead (the dead-letter list) until someone asks for a redelivery.

Each request is signed: X-Lendstack-Signature = "sha256=" + HMAC-SHA256(secret, f"{timestamp}.{body}").
Receivers check it with `verify_signature`, which also refuses stale timestamps (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import os
import re
import secrets
import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx
from sqlalchemy import Connection, Engine, RowMapping, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from lendstack import secretbox
from lendstack.events import DomainEvent
from lendstack.store.outbox import Outbox
from lendstack.store.tables_api import api_loan_partners
from lendstack.store.tables_origination import applications
from lendstack.store.tables_webhooks import webhook_deliveries, webhook_subscriptions

# The events partners may subscribe to (what the services write to the outbox).
EVENT_TYPES = frozenset({
    "application.decided", "application.reviewed", "loan.booked", "loan.disbursed", "loan.repaid",
    "loan.prepaid", "loan.overdue", "loan.restructured", "loan.written_off", "loan.refunded",
    "loan.recovered", "loan.payment_reversed", "loan.non_accrual", "loan.accrual_resumed",
})
PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
STATUSES = (PENDING, DELIVERED, DEAD)

MAX_ATTEMPTS = 8
BACKOFF_BASE_S = 30
BACKOFF_CAP_S = 3600
JITTER_FRACTION = 0.1  # < 1, so the delays still grow strictly until the cap
CLAIM_LEASE_S = 60  # a crashed sender's claim expires after this and the attempt is retried
SEND_TIMEOUT_S = 5.0
EVENT_BATCH = 200
SEND_BATCH = 100
SUBSCRIPTIONS_MAX = 10_000
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
SIGNATURE_TOLERANCE_S = 300
URL_LENGTH_MAX = 2000
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0, DEL and C1 control characters

# (url, body, headers) → HTTP status code; raising means the request did not complete.
Sender = Callable[[str, bytes, Mapping[str, str]], int]


class WebhookError(ValueError):
    """Bad input or an unknown id; names the field."""

    def __init__(self, field: str, message: str, *, not_found: bool = False) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message, self.not_found = field, message, not_found


@dataclass(frozen=True, slots=True)
class Subscription:
    subscription_id: str
    partner_id: str
    url: str
    event_types: tuple[str, ...]
    active: bool

    def matches(self, event_type: str, owner: str) -> bool:
        # A staff subscription ('' partner) sees everything; a partner only what it brought.
        return self.active and event_type in self.event_types and (not self.partner_id or self.partner_id == owner)


# --- signatures ------------------------------------------------------------------------------------


def sign(secret: str, timestamp: str, body: bytes) -> str:
    message = timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_signature(secret: str, timestamp: str, body: bytes | str, signature: str, *,
                     tolerance_s: int = SIGNATURE_TOLERANCE_S, now: datetime) -> bool:
    """True if `signature` is ours for this body and timestamp, and the timestamp is fresh."""
    if not timestamp.isdigit() or abs(now.timestamp() - int(timestamp)) > tolerance_s:
        return False  # a replay of an old (or a far-future) request
    raw = body.encode() if isinstance(body, str) else body
    return hmac.compare_digest(sign(secret, timestamp, raw), signature)


# --- subscriptions ---------------------------------------------------------------------------------


ALLOW_HOSTS_ENV = "LENDSTACK_WEBHOOK_ALLOW_HOSTS"  # comma-separated host names, IPs or CIDR networks
RESOLVED_ADDRESSES_MAX = 64
Resolver = Callable[[str], list[str]]


def resolve_host(host: str) -> list[str]:
    """The host's addresses; [] when it does not resolve (yet)."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return []
    return [str(info[4][0]) for info in infos[:RESOLVED_ADDRESSES_MAX]]


def _allow_list(allow_hosts: Iterable[str] | None) -> tuple[frozenset[str], tuple[IpNetwork, ...]]:
    entries = os.environ.get(ALLOW_HOSTS_ENV, "").split(",") if allow_hosts is None else list(allow_hosts)
    names, networks = set(), []
    for entry in (e.strip().lower() for e in entries):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            names.add(entry.rstrip("."))
    return frozenset(names), tuple(networks)


# Refused whole: deprecated IPv4-compatible ::a.b.c.d (RFC 4291) and local-use NAT64 (RFC 8215).
IPV6_REFUSED = (ipaddress.IPv6Network("::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: the IPv4 address is the low 32 bits


def _internal(address: str) -> bool:
    """Loopback, private, link-local (169.254.169.254: cloud metadata), shared, reserved: not the internet.

    An IPv6 address that carries an IPv4 address (mapped ::ffff:a.b.c.d, compatible ::a.b.c.d,
    NAT64 64:ff9b::a.b.c.d, 6to4 2002:aabb:ccdd::) is judged by that IPv4 address too: a gateway
    on the way would deliver it there. Teredo (2001::/32) is refused whole: its tunnel relays to
    whatever the address encodes, and no real webhook receiver lives behind one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv4Address):
        return not ip.is_global or ip.is_multicast
    if ip.teredo is not None or any(ip in network for network in IPV6_REFUSED):
        return True
    embedded = ip.ipv4_mapped or ip.sixtofour
    if embedded is None and ip in NAT64:
        embedded = ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)
    if embedded is not None:  # judged by where it leads (Python's is_global varies by version here)
        return not embedded.is_global or embedded.is_multicast
    return not ip.is_global or ip.is_multicast


def _check_url(url: str, *, allow_hosts: Iterable[str] | None = None, resolve: Resolver = resolve_host) -> str:
    """An http(s) URL without credentials whose host is on the internet, unless allow-listed
    (`allow_hosts`, default LENDSTACK_WEBHOOK_ALLOW_HOSTS): the server must not be made to POST
    into its own network (SSRF). A name that does not resolve yet is accepted: it reaches nothing
    (and `pin` checks the name again at every send)."""
    host = _host_of(url)
    names, networks = _allow_list(allow_hosts)
    if host in names:
        return url
    literal = _literal_ip(host)
    _refuse_internal(host, [literal] if literal is not None else resolve(host), networks)
    return url


def pin(url: str, *, allow_hosts: Iterable[str] | None = None,
        resolve: Resolver | None = None) -> tuple[str, str | None]:
    """At send time: (the URL to connect to, the host name it stands for, or None if unchanged).

    A subscription's URL was checked when it was made, but a name can point elsewhere since (DNS
    rebinding: public at the check, 127.0.0.1 at the send). So resolve it once now, check every
    address, and connect to the checked address itself, sending the name as Host (and as TLS SNI,
    so the certificate is still verified for the name)."""
    host = _host_of(url)
    names, networks = _allow_list(allow_hosts)
    literal = _literal_ip(host)
    if host in names or literal is not None:
        if literal is not None and host not in names:
            _refuse_internal(host, [literal], networks)
        return url, None  # allow-listed by name, or an address (which cannot rebind)
    addresses = (resolve or resolve_host)(host)  # looked up at the call: tests stand in a resolver
    if not addresses:
        raise WebhookError("url", f"host {host!r} does not resolve")
    _refuse_internal(host, addresses, networks)
    parts = urlsplit(url)
    address = addresses[0].split("%", 1)[0]
    netloc = f"[{address}]" if ":" in address else address
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc)), host


def _host_of(url: str) -> str:
    """The URL's host name after the shape checks (scheme, no credentials, a valid port)."""
    if len(url) > URL_LENGTH_MAX:
        raise WebhookError("url", f"must be at most {URL_LENGTH_MAX} characters")
    # Before parsing: urlsplit drops TAB/CR/LF silently, and a CR/LF reaching a request line or a
    # Host header is header injection.
    if _CONTROL.search(url):
        raise WebhookError("url", "must not contain control characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookError("url", "must be an absolute http(s) URL")
    if _CONTROL.search(unquote(parts.netloc)):
        raise WebhookError("url", "must not contain control characters (percent-encoded in the host)")
    if parts.username is not None or parts.password is not None:
        raise WebhookError("url", "must not carry credentials (user:password@)")
    try:
        parts.port  # noqa: B018 - parsing it is the check: a bad port raises
    except ValueError:
        raise WebhookError("url", "has an invalid port") from None
    return parts.hostname.rstrip(".")


def _literal_ip(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))  # a literal IP needs no lookup
    except ValueError:
        return None


def _refuse_internal(host: str, addresses: Sequence[str], networks: tuple[IpNetwork, ...]) -> None:
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if _internal(address) and not any(ip in network for network in networks):
            raise WebhookError("url", f"host {host!r} is an internal address ({address}); "
                                      f"allow it in {ALLOW_HOSTS_ENV} if this is intended")


def _check_types(event_types: Sequence[str]) -> list[str]:
    unknown = sorted(set(event_types) - EVENT_TYPES)
    if not event_types or unknown:
        raise WebhookError("event_types", f"unknown or empty: {unknown}; known: {', '.join(sorted(EVENT_TYPES))}")
    return sorted(set(event_types))


def create_subscription(engine: Engine, *, url: str, event_types: Sequence[str], partner_id: str = "",
                        created_by: str = "", now: datetime | None = None) -> dict[str, Any]:
    """Subscribe; the answer holds the signing secret, the only time it is shown. The table keeps
    it sealed under the server key (lendstack.secretbox), bound to the subscription id."""
    subscription_id, secret = "ws_" + secrets.token_hex(8), "whsec_" + secrets.token_urlsafe(32)
    row = {"subscription_id": subscription_id, "partner_id": partner_id, "url": _check_url(url),
           "event_types": _check_types(event_types), "secret": secretbox.seal(secret, context=subscription_id),
           "active": True, "created_by": created_by, "created_at": now or datetime.now(UTC)}
    with engine.begin() as conn:
        conn.execute(insert(webhook_subscriptions).values(**row))
    return {**_subscription_view(row), "secret": secret}


SECRET_WITHHELD = "(withheld: shown in the answer to the first request only)"


def without_secret(answer: Mapping[str, Any]) -> dict[str, Any]:
    """A subscribe answer as kept for an idempotent replay: never the secret itself (the replay
    reads it again, sealed, with `subscription_secret`)."""
    return {**answer, "secret": SECRET_WITHHELD}


def subscription_secret(engine: Engine, subscription_id: str, *, partner_id: str | None) -> str:
    """The signing secret of one's own subscription, opened (for the replay of its subscribe call)."""
    with engine.connect() as conn:
        row = _owned_subscription(conn, subscription_id, partner_id)
    return open_secret(row["secret"], subscription_id)


def open_secret(sealed: str, subscription_id: str) -> str:
    """Raises SecretBoxError for a value that is not sealed (migration 0015 sealed the old clear ones)
    or does not open under this server's key."""
    return secretbox.open_(sealed, context=subscription_id)


def _subscription_view(row: Mapping[str, Any] | RowMapping) -> dict[str, Any]:
    at = row.get("deactivated_at")
    return {"subscription_id": row["subscription_id"], "partner_id": row["partner_id"], "url": row["url"],
            "event_types": list(row["event_types"]), "active": bool(row["active"]),
            "created_at": row["created_at"].isoformat(), "deactivated_at": at.isoformat() if at else None}


def list_subscriptions(engine: Engine, *, partner_id: str | None, limit: int, offset: int) -> list[dict[str, Any]]:
    """Subscriptions (of one partner when `partner_id` is not None), oldest first; never the secrets."""
    c = webhook_subscriptions.c
    query = select(webhook_subscriptions).order_by(c.created_at, c.subscription_id).limit(limit).offset(offset)
    if partner_id is not None:
        query = query.where(c.partner_id == partner_id)
    with engine.connect() as conn:
        return [_subscription_view(r._mapping) for r in conn.execute(query)]


def deactivate_subscription(engine: Engine, subscription_id: str, *, partner_id: str | None,
                            now: datetime | None = None) -> dict[str, Any]:
    """Stop sending to it (kept for the delivery history). Idempotent."""
    c = webhook_subscriptions.c
    with engine.begin() as conn:
        row = _owned_subscription(conn, subscription_id, partner_id)
        conn.execute(update(webhook_subscriptions).where(c.subscription_id == subscription_id, c.active.is_(True))
                     .values(active=False, deactivated_at=now or datetime.now(UTC)))
        row = _owned_subscription(conn, subscription_id, partner_id)
    return _subscription_view(row)


def _owned_subscription(conn: Connection, subscription_id: str, partner_id: str | None) -> RowMapping:
    row = conn.execute(select(webhook_subscriptions)
                       .where(webhook_subscriptions.c.subscription_id == subscription_id)).first()
    if row is None or (partner_id is not None and row.partner_id != partner_id):
        # Someone else's subscription is indistinguishable from a missing one.
        raise WebhookError("subscription_id", f"unknown subscription {subscription_id!r}", not_found=True)
    return row._mapping


# --- fan-out ---------------------------------------------------------------------------------------


def delivery_id_for(event_id: str, subscription_id: str) -> str:
    return "wd_" + hashlib.sha256(f"{event_id}\x00{subscription_id}".encode()).hexdigest()[:24]


def _active_subscriptions(conn: Connection) -> list[Subscription]:
    c = webhook_subscriptions.c
    query = (select(c.subscription_id, c.partner_id, c.url, c.event_types, c.active).where(c.active.is_(True))
             .order_by(c.subscription_id).limit(SUBSCRIPTIONS_MAX))
    return [Subscription(r.subscription_id, r.partner_id, r.url, tuple(r.event_types), r.active)
            for r in conn.execute(query)]


def _owners(conn: Connection, events: Sequence[DomainEvent]) -> dict[tuple[str, str], str]:
    """(aggregate type, id) → the partner who brought it ('' when none); one query per aggregate type."""
    app_ids = {e.aggregate_id for e in events if e.aggregate_type == "application"}
    loan_ids = {e.aggregate_id for e in events if e.aggregate_type == "loan"}
    owners: dict[tuple[str, str], str] = {}
    if app_ids:
        a = applications.c
        for r in conn.execute(select(a.application_id, a.partner_id).where(a.application_id.in_(app_ids))):
            owners[("application", r.application_id)] = r.partner_id
    if loan_ids:
        p = api_loan_partners.c
        for r in conn.execute(select(p.loan_id, p.partner_id).where(p.loan_id.in_(loan_ids))):
            owners[("loan", r.loan_id)] = r.partner_id
    return owners


def _references(conn: Connection, events: Sequence[DomainEvent]) -> dict[tuple[str, str], str]:
    """(aggregate type, book id) → the partner's own id for it, where they differ (a partner names its
    applications in its own namespace: routes_origination); a partner is sent its own id."""
    app_ids = {e.aggregate_id for e in events if e.aggregate_type == "application"}
    if not app_ids:
        return {}
    a = applications.c
    query = select(a.application_id, a.reference).where(a.application_id.in_(app_ids), a.reference != "",
                                                        a.reference != a.application_id)
    return {("application", r.application_id): r.reference for r in conn.execute(query)}


def _event_body(event: DomainEvent, shown_id: str = "") -> dict[str, Any]:
    return {"event_id": event.event_id, "event_type": event.event_type, "aggregate_type": event.aggregate_type,
            "aggregate_id": shown_id or event.aggregate_id, "occurred_at": event.occurred_at.isoformat(),
            "payload": event.payload}


def _delivery_rows(events: Iterable[DomainEvent], subscriptions: Sequence[Subscription],
                   owners: Mapping[tuple[str, str], str], now: datetime,
                   references: Mapping[tuple[str, str], str] | None = None) -> list[dict[str, Any]]:
    shown = references or {}
    return [{"delivery_id": delivery_id_for(e.event_id, s.subscription_id), "event_id": e.event_id,
             "subscription_id": s.subscription_id, "event_type": e.event_type,
             "event": _event_body(e, shown.get((e.aggregate_type, e.aggregate_id), "") if s.partner_id else ""),
             "status": PENDING, "attempts": 0, "next_attempt_at": now, "last_status_code": None, "last_error": "",
             "created_at": now, "updated_at": now, "delivered_at": None}
            for e in events for s in subscriptions
            if s.matches(e.event_type, owners.get((e.aggregate_type, e.aggregate_id), ""))]


def _insert_ignoring_duplicates(conn: Connection, rows: list[dict[str, Any]]) -> None:
    # A second dispatcher that read the same pending events inserts nothing twice.
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(webhook_deliveries).on_conflict_do_nothing(), rows)


def fan_out(engine: Engine, *, now: datetime, limit: int = EVENT_BATCH) -> tuple[int, int]:
    """Turn up to `limit` pending outbox events into deliveries; (events published, deliveries created)."""
    with engine.begin() as conn:
        events = Outbox(conn).pending(limit)
        if not events:
            return 0, 0
        rows = _delivery_rows(events, _active_subscriptions(conn), _owners(conn, events), now,
                              _references(conn, events))
        if rows:
            _insert_ignoring_duplicates(conn, rows)
        published = Outbox(conn).mark_published([e.event_id for e in events], at=now)
    return published, len(rows)


# --- sending ---------------------------------------------------------------------------------------


def backoff(delivery_id: str, attempts: int) -> timedelta:
    """The wait after the `attempts`-th failure: 30 s × 2^(attempts-1), capped, + up to 10% jitter.

    The jitter is derived from the delivery id, not random: runs are reproducible, and deliveries
    that failed together (a partner's outage) still spread out instead of retrying in lockstep."""
    assert attempts >= 1
    delay_s = min(BACKOFF_BASE_S * 2 ** (attempts - 1), BACKOFF_CAP_S)
    fraction = int(hashlib.sha256(delivery_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return timedelta(seconds=delay_s * (1 + JITTER_FRACTION * fraction))


def httpx_sender(url: str, body: bytes, headers: Mapping[str, str]) -> int:
    """The default sender: one POST to the address `pin` checked just now, a 5 s timeout, no
    redirects (a redirect is not a delivery). A refused or unresolvable host raises WebhookError,
    which the dispatcher records as a failed attempt."""
    target, host = pin(url)
    sent_headers, extensions = dict(headers), {}
    if host is not None:
        parts = urlsplit(url)
        sent_headers["Host"] = host if parts.port is None else f"{host}:{parts.port}"
        if parts.scheme == "https":
            extensions["sni_hostname"] = host  # TLS: SNI and certificate check for the name
    with httpx.Client(timeout=SEND_TIMEOUT_S, follow_redirects=False) as client:
        request = client.build_request("POST", target, content=body, headers=sent_headers, extensions=extensions)
        return client.send(request).status_code


def request_for(delivery: Mapping[str, Any] | RowMapping, secret: str, now: datetime) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one attempt (the timestamp is the attempt's, so retries stay fresh)."""
    body = json.dumps(delivery["event"], sort_keys=True, separators=(",", ":")).encode()
    timestamp = str(int(now.timestamp()))
    headers = {"Content-Type": "application/json", "User-Agent": "lendstack-webhooks/1",
               "X-Lendstack-Event": delivery["event_type"], "X-Lendstack-Delivery": delivery["delivery_id"],
               "X-Lendstack-Timestamp": timestamp, "X-Lendstack-Signature": sign(secret, timestamp, body)}
    return body, headers


def _due(engine: Engine, now: datetime, limit: int) -> list[RowMapping]:
    d, s = webhook_deliveries.c, webhook_subscriptions.c
    query = (select(d.delivery_id, d.subscription_id, d.event_type, d.event, d.attempts, d.next_attempt_at, s.url,
                    s.secret, s.active)
             .join(webhook_subscriptions, s.subscription_id == d.subscription_id)
             .where(d.status == PENDING, d.next_attempt_at <= now)
             .order_by(d.next_attempt_at, d.delivery_id).limit(limit))
    with engine.connect() as conn:
        return [r._mapping for r in conn.execute(query)]


def _claim(engine: Engine, row: Mapping[str, Any] | RowMapping, now: datetime) -> bool:
    """Take the attempt by moving next_attempt_at (compare-and-set): only one dispatcher wins it."""
    d = webhook_deliveries.c
    with engine.begin() as conn:
        claimed = conn.execute(update(webhook_deliveries)
                               .where(d.delivery_id == row["delivery_id"], d.status == PENDING,
                                      d.next_attempt_at == row["next_attempt_at"])
                               .values(next_attempt_at=now + timedelta(seconds=CLAIM_LEASE_S), updated_at=now))
    return int(claimed.rowcount) == 1


def _attempt(row: Mapping[str, Any] | RowMapping, sender: Sender, now: datetime) -> tuple[int | None, str]:
    """(status code or None, error text); '' error means delivered."""
    try:
        secret = open_secret(row["secret"], row["subscription_id"])
    except secretbox.SecretBoxError as exc:  # e.g. the server key changed: a failed attempt, named, not a crash
        return None, f"secret: {exc.message}"[:500]
    body, headers = request_for(row, secret, now)
    try:
        code = sender(row["url"], body, headers)
    except Exception as exc:  # any transport failure is a failed attempt, never a crash of the pass
        return None, f"{type(exc).__name__}: {exc}"[:500]
    return code, "" if 200 <= code < 300 else f"HTTP {code}"


def _outcome_values(row: Mapping[str, Any] | RowMapping, code: int | None, error: str, now: datetime) -> dict[str, Any]:
    attempts = int(row["attempts"]) + 1
    values: dict[str, Any] = {"attempts": attempts, "last_status_code": code, "last_error": error, "updated_at": now}
    if not error:
        return values | {"status": DELIVERED, "delivered_at": now}
    if attempts >= MAX_ATTEMPTS:
        return values | {"status": DEAD}
    return values | {"next_attempt_at": now + backoff(row["delivery_id"], attempts)}


def _record(engine: Engine, delivery_id: str, values: Mapping[str, Any]) -> None:
    with engine.begin() as conn:
        conn.execute(update(webhook_deliveries).where(webhook_deliveries.c.delivery_id == delivery_id).values(**values))


def send_due(engine: Engine, *, now: datetime, sender: Sender, limit: int = SEND_BATCH) -> dict[str, int]:
    """Attempt up to `limit` due deliveries; counts by outcome."""
    counts = {"attempted": 0, "delivered": 0, "failed": 0, "dead": 0}
    for row in _due(engine, now, limit):
        if not row["active"]:
            # Deactivated after the fan-out: nothing to send to; kept visible in the dead-letter list.
            _record(engine, row["delivery_id"], {"status": DEAD, "last_error": "subscription deactivated",
                                                  "updated_at": now})
            counts["dead"] += 1
            continue
        if not _claim(engine, row, now):
            continue  # another dispatcher took it
        code, error = _attempt(row, sender, now)
        values = _outcome_values(row, code, error, now)
        _record(engine, row["delivery_id"], values)
        counts["attempted"] += 1
        counts["delivered" if not error else "dead" if values.get("status") == DEAD else "failed"] += 1
    return counts


def dispatch(engine: Engine, *, now: datetime | None = None, sender: Sender = httpx_sender,
             limit: int = SEND_BATCH, event_limit: int = EVENT_BATCH) -> dict[str, int]:
    """One pass: fan out pending outbox events, then send due deliveries. Safe to run repeatedly."""
    at = now or datetime.now(UTC)
    published, created = fan_out(engine, now=at, limit=event_limit)
    return {"events_published": published, "deliveries_created": created, **send_due(engine, now=at, sender=sender,
                                                                                      limit=limit)}


# --- dead letters and redelivery -------------------------------------------------------------------


def _delivery_view(r: RowMapping) -> dict[str, Any]:
    def iso(at: datetime | None) -> str | None:
        return at.isoformat() if at is not None else None

    return {"delivery_id": r["delivery_id"], "event_id": r["event_id"], "subscription_id": r["subscription_id"],
            "event_type": r["event_type"], "status": r["status"], "attempts": r["attempts"],
            "next_attempt_at": iso(r["next_attempt_at"]), "last_status_code": r["last_status_code"],
            "last_error": r["last_error"], "created_at": iso(r["created_at"]), "updated_at": iso(r["updated_at"]),
            "delivered_at": iso(r["delivered_at"])}


def list_deliveries(engine: Engine, *, status: str | None, partner_id: str | None, limit: int,
                    offset: int = 0) -> list[dict[str, Any]]:
    """Deliveries, newest change first; a partner's only when `partner_id` is not None."""
    d, s = webhook_deliveries.c, webhook_subscriptions.c
    query = select(webhook_deliveries).order_by(d.updated_at.desc(), d.delivery_id).limit(limit).offset(offset)
    if status is not None:
        query = query.where(d.status == status)
    if partner_id is not None:
        query = query.join(webhook_subscriptions, s.subscription_id == d.subscription_id).where(
            s.partner_id == partner_id)
    with engine.connect() as conn:
        return [_delivery_view(r._mapping) for r in conn.execute(query)]


def redeliver(engine: Engine, delivery_id: str, *, partner_id: str | None = None,
              now: datetime | None = None) -> dict[str, Any]:
    """Queue a delivery again now with a fresh attempt budget (a dead letter, or a re-send)."""
    at = now or datetime.now(UTC)
    d, s = webhook_deliveries.c, webhook_subscriptions.c
    with engine.begin() as conn:
        found = conn.execute(select(s.partner_id, s.active).join(webhook_deliveries, s.subscription_id ==
                                                                 d.subscription_id).where(d.delivery_id == delivery_id)
                             ).first()
        if found is None or (partner_id is not None and found.partner_id != partner_id):
            raise WebhookError("delivery_id", f"unknown delivery {delivery_id!r}", not_found=True)
        if not found.active:
            raise WebhookError("delivery_id", "its subscription is deactivated")
        conn.execute(update(webhook_deliveries).where(d.delivery_id == delivery_id).values(
            status=PENDING, attempts=0, next_attempt_at=at, updated_at=at, delivered_at=None))
        row = conn.execute(select(webhook_deliveries).where(d.delivery_id == delivery_id)).one()
    return _delivery_view(row._mapping)
