"""Issue 12 §5: the SSRF guard also refuses IPv6 forms that carry an internal IPv4 address (IPv4-compatible,
mapped, NAT64, 6to4, Teredo) and URLs with control characters, at subscribe time and at send time (`pin`)."""

from __future__ import annotations

import pytest

from lendstack.webhooks import ssrf
from lendstack.webhooks.domain import WebhookError


def no_dns(host: str) -> list[str]:
    return []


EMBEDDED_INTERNAL = [
    "::127.0.0.1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe",
    "64:ff9b:1::a00:1", "2002:7f00:1::1", "2002:a00:1::", "2002:c0a8:101::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    "2001::1", "::8.8.8.8",
]


@pytest.mark.parametrize("address", EMBEDDED_INTERNAL)
def test_ipv6_literals_embedding_internal_ipv4_are_refused(address: str) -> None:
    with pytest.raises(WebhookError) as caught:
        ssrf.check_url(f"http://[{address}]/hook", allow_hosts=[], resolve=no_dns)
    assert caught.value.field == "url" and "internal address" in caught.value.message


@pytest.mark.parametrize("address", EMBEDDED_INTERNAL)
def test_names_resolving_to_them_are_refused_at_send_time(address: str) -> None:
    with pytest.raises(WebhookError) as caught:
        ssrf.pin("https://rebound.example/hook", allow_hosts=[], resolve=lambda host: [address])
    assert caught.value.field == "url"


@pytest.mark.parametrize("address", ["64:ff9b::808:808", "2002:808:808::1", "::ffff:8.8.8.8", "2606:4700:4700::1111"])
def test_ipv6_forms_of_public_ipv4_pass(address: str) -> None:
    url = f"http://[{address}]/hook"
    assert ssrf.check_url(url, allow_hosts=[], resolve=no_dns) == url


@pytest.mark.parametrize("url", [
    "https://hooks.example/in\r\nX-Injected: 1", "https://hooks.example/\nin", "https://hooks.example/\tin",
    "https://hooks.ex\tample/in", "https://hooks.example/in\x00", "https://hooks.example%0d%0aX:1/in",
    "https://hooks.example%00.evil/in", "https://hooks.example/in\x7f", "https://hooks.example/in\x85",
])
def test_urls_with_control_characters_are_refused(url: str) -> None:
    with pytest.raises(WebhookError) as caught:
        ssrf.check_url(url, allow_hosts=[], resolve=lambda host: ["93.184.216.34"])
    assert caught.value.field == "url" and "control characters" in caught.value.message
