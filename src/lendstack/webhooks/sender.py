"""The transport: one signed POST to an address the SSRF guard pinned just now."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

import httpx

from lendstack.webhooks import ssrf

SEND_TIMEOUT_S = 5.0

# (url, body, headers) → HTTP status code; raising means the request did not complete.
Sender = Callable[[str, bytes, Mapping[str, str]], int]


def httpx_sender(url: str, body: bytes, headers: Mapping[str, str]) -> int:
    """The default sender: one POST to the address `ssrf.pin` checked just now, a 5 s timeout, no
    redirects (a redirect is not a delivery). A refused or unresolvable host raises WebhookError,
    which the dispatcher records as a failed attempt."""
    target, host = ssrf.pin(url)
    sent_headers, extensions = dict(headers), {}
    if host is not None:
        parts = urlsplit(url)
        sent_headers["Host"] = host if parts.port is None else f"{host}:{parts.port}"
        if parts.scheme == "https":
            extensions["sni_hostname"] = host  # TLS: SNI and certificate check for the name
    with httpx.Client(timeout=SEND_TIMEOUT_S, follow_redirects=False) as client:
        request = client.build_request("POST", target, content=body, headers=sent_headers, extensions=extensions)
        return client.send(request).status_code
