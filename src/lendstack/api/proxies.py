"""Who is calling: the peer's address, or, only when the peer is a proxy we were told to trust, the
address that proxy forwarded (X-Forwarded-For) and the scheme it was reached by (X-Forwarded-Proto).

The address is what the audit trail records ("from where") and what the per-client limits count
by (api/ratelimit.py ClientLimiter). uvicorn rewrites it itself by default, trusting any peer on
127.0.0.1: then anything on the same host (a local proxy passing a client's header through, another
user's process) chooses the address we record and limit by. So `lendstack serve` and the benchmark
run uvicorn with proxy_headers=False and the decision is made here, from
LENDSTACK_TRUSTED_PROXIES: IP addresses or networks, comma-separated (e.g. "10.0.0.5,10.1.0.0/16");
default none, i.e. the peer is the client."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from lendstack.errors import LendstackError

ENV = "LENDSTACK_TRUSTED_PROXIES"
PROXIES_MAX = 100  # entries in the setting
HOPS_MAX = 20  # X-Forwarded-For entries looked at, from the right (each trusted proxy adds one)
HEADER_CHARS_MAX = 2_000

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class TrustedProxiesError(LendstackError):
    """A user error naming the field (see lendstack.errors)."""


def _address(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text.strip().removeprefix("[").removesuffix("]"))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class TrustedProxies:
    networks: tuple[Network, ...] = ()

    def __post_init__(self) -> None:
        if len(self.networks) > PROXIES_MAX:
            raise TrustedProxiesError(ENV, f"at most {PROXIES_MAX} entries")

    @classmethod
    def parse(cls, text: str) -> TrustedProxies:
        """'10.0.0.5, 10.1.0.0/16, ::1' → the networks; a wrong entry is refused by name (never ignored:
        a typo must not silently trust nobody, or worse)."""
        networks: list[Network] = []
        for entry in (e.strip() for e in text.split(",")):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise TrustedProxiesError(ENV, f"{entry[:100]!r} is not an IP address or network") from None
        return cls(tuple(networks))

    @classmethod
    def from_env(cls) -> TrustedProxies:
        return cls.parse(os.environ.get(ENV, ""))

    def trusts(self, host: str) -> bool:
        address = _address(host)
        return address is not None and any(address in network for network in self.networks)

    def client(self, peer: str, forwarded_for: str) -> str:
        """The first address, from the right, that is not a trusted proxy (each proxy appends the peer
        it saw; what is left of the last trusted one was written by the client and is not believed).
        An entry that is not an address ends the walk: the last good one is kept."""
        client = peer
        if not self.trusts(peer):
            return peer
        hops = forwarded_for[-HEADER_CHARS_MAX:].split(",")[-HOPS_MAX:]  # the right end: what proxies wrote
        for hop in reversed(hops):
            address = _address(hop)
            if address is None:
                break
            client = str(address)
            if not any(address in network for network in self.networks):
                break
        return client


class ClientAddress:
    """ASGI middleware, outermost: sets scope["client"] (and "scheme") from a trusted proxy's headers.
    Without trusted proxies it does nothing at all."""

    def __init__(self, app: ASGIApp, proxies: TrustedProxies) -> None:
        self.app, self.proxies = app, proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        peer = scope.get("client")
        if scope["type"] in ("http", "websocket") and self.proxies.networks and peer and self.proxies.trusts(peer[0]):
            headers = scope.get("headers", [])
            # Several X-Forwarded-For headers read as one list, in order (RFC 9110 field combination).
            forwarded_for = b",".join(v for k, v in headers if k == b"x-forwarded-for").decode("latin-1")
            if forwarded_for:
                scope["client"] = (self.proxies.client(str(peer[0]), forwarded_for), 0)
            protos = [v for k, v in headers if k == b"x-forwarded-proto"]
            proto = protos[-1].decode("latin-1").strip().lower() if protos else ""
            if proto in ("http", "https"):
                scope["scheme"] = proto if scope["type"] == "http" else proto.replace("http", "ws")
        await self.app(scope, receive, send)
