"""The SSRF guard: a webhook URL must not make the server POST into its own network.

`check_url` judges a URL when a subscription is made; `pin` judges it again at every send and
returns the checked address to connect to (a name can be rebound since the check). Name
resolution is injected (`Resolver`); `resolve_host`, the default, is the only I/O here, and the
allow list comes from the caller or LENDSTACK_WEBHOOK_ALLOW_HOSTS. Every refusal is a
WebhookError naming "url"."""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from collections.abc import Callable, Iterable, Sequence
from urllib.parse import unquote, urlsplit, urlunsplit

from lendstack.webhooks.domain import WebhookError

ALLOW_HOSTS_ENV = "LENDSTACK_WEBHOOK_ALLOW_HOSTS"  # comma-separated host names, IPs or CIDR networks
RESOLVED_ADDRESSES_MAX = 64
URL_LENGTH_MAX = 2000
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str], list[str]]
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0, DEL and C1 control characters

# Refused whole: deprecated IPv4-compatible ::a.b.c.d (RFC 4291) and local-use NAT64 (RFC 8215).
IPV6_REFUSED = (ipaddress.IPv6Network("::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: the IPv4 address is the low 32 bits


def resolve_host(host: str) -> list[str]:
    """The host's addresses; [] when it does not resolve (yet)."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return []
    return [str(info[4][0]) for info in infos[:RESOLVED_ADDRESSES_MAX]]


def allow_list(allow_hosts: Iterable[str] | None) -> tuple[frozenset[str], tuple[IpNetwork, ...]]:
    """(host names, networks) allowed although internal; None reads LENDSTACK_WEBHOOK_ALLOW_HOSTS."""
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


def internal(address: str) -> bool:
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


def check_url(url: str, *, allow_hosts: Iterable[str] | None = None, resolve: Resolver = resolve_host) -> str:
    """An http(s) URL without credentials whose host is on the internet, unless allow-listed
    (`allow_hosts`, default LENDSTACK_WEBHOOK_ALLOW_HOSTS): the server must not be made to POST
    into its own network (SSRF). A name that does not resolve yet is accepted: it reaches nothing
    (and `pin` checks the name again at every send)."""
    host = host_of(url)
    names, networks = allow_list(allow_hosts)
    if host in names:
        return url
    literal = literal_ip(host)
    refuse_internal(host, [literal] if literal is not None else resolve(host), networks)
    return url


def pin(url: str, *, allow_hosts: Iterable[str] | None = None,
        resolve: Resolver | None = None) -> tuple[str, str | None]:
    """At send time: (the URL to connect to, the host name it stands for, or None if unchanged).

    A subscription's URL was checked when it was made, but a name can point elsewhere since (DNS
    rebinding: public at the check, 127.0.0.1 at the send). So resolve it once now, check every
    address, and connect to the checked address itself, sending the name as Host (and as TLS SNI,
    so the certificate is still verified for the name)."""
    host = host_of(url)
    names, networks = allow_list(allow_hosts)
    literal = literal_ip(host)
    if host in names or literal is not None:
        if literal is not None and host not in names:
            refuse_internal(host, [literal], networks)
        return url, None  # allow-listed by name, or an address (which cannot rebind)
    addresses = (resolve or resolve_host)(host)  # looked up at the call: tests stand in a resolver
    if not addresses:
        raise WebhookError("url", f"host {host!r} does not resolve")
    refuse_internal(host, addresses, networks)
    parts = urlsplit(url)
    address = addresses[0].split("%", 1)[0]
    netloc = f"[{address}]" if ":" in address else address
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc)), host


def host_of(url: str) -> str:
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


def literal_ip(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))  # a literal IP needs no lookup
    except ValueError:
        return None


def refuse_internal(host: str, addresses: Sequence[str], networks: tuple[IpNetwork, ...]) -> None:
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if internal(address) and not any(ip in network for network in networks):
            raise WebhookError("url", f"host {host!r} is an internal address ({address}); "
                                      f"allow it in {ALLOW_HOSTS_ENV} if this is intended")
