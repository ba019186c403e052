"""The SSRF guard on subscription URLs: only http(s), no credentials, no internal hosts (loopback,
private, link-local, cloud metadata, shared, reserved, IPv4-mapped IPv6, names resolving there)
unless allow-listed; every refusal names "url" and stores nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select

from lendstack.store.tables_webhooks import webhook_subscriptions
from lendstack.webhooks import service as wh
from lendstack.webhooks import ssrf
from lendstack.webhooks.domain import WebhookError

PUBLIC_IP = "93.184.216.34"


def fake_dns(table: dict[str, list[str]]) -> ssrf.Resolver:
    return lambda host: table.get(host, [])


@pytest.mark.parametrize("url", [
    "ftp://hooks.example/in", "file:///etc/passwd", "gopher://x.example/", "/relative", "http://",
    "https://user:pw@hooks.example/in", "https://user@hooks.example/in", "http://hooks.example:99999/in",
    "http://127.0.0.1/", "http://127.9.9.9:8080/", "http://localhost/", "http://[::1]/", "http://0.0.0.0/",
    "http://10.1.2.3/", "http://172.16.0.1/", "http://192.168.1.1/", "http://169.254.169.254/latest/meta-data",
    "http://[fe80::1]/", "http://[fd00::1]/", "http://100.64.0.1/", "http://[::ffff:127.0.0.1]/",
    "http://224.0.0.1/", "http://2130706433/", "http://0x7f000001/", "http://metadata.internal.test/",
    "http://rebind.example/",
])
def test_refused_urls_name_the_field(url: str) -> None:
    dns = fake_dns({"localhost": ["127.0.0.1", "::1"], "metadata.internal.test": ["169.254.169.254"],
                    "rebind.example": [PUBLIC_IP, "10.0.0.7"],  # one internal answer is enough to refuse
                    "2130706433": ["127.0.0.1"], "0x7f000001": ["127.0.0.1"]})
    with pytest.raises(WebhookError) as caught:
        ssrf.check_url(url, allow_hosts=[], resolve=dns)
    assert caught.value.field == "url"


@pytest.mark.parametrize("url", [
    "https://hooks.example/in", f"http://{PUBLIC_IP}/hook", "https://[2606:4700:4700::1111]/h",
    "https://unresolvable.example/in",  # resolves to nothing: it can reach nothing either
])
def test_public_urls_pass(url: str) -> None:
    dns = fake_dns({"hooks.example": [PUBLIC_IP]})
    assert ssrf.check_url(url, allow_hosts=[], resolve=dns) == url


def test_allow_list_by_name_ip_and_network(monkeypatch: pytest.MonkeyPatch) -> None:
    dns = fake_dns({"receiver.internal": ["10.0.0.5"], "other.internal": ["10.9.0.5"]})
    allow = ["receiver.internal", "127.0.0.1", "192.168.0.0/16"]
    for url in ("http://receiver.internal/h", "http://127.0.0.1:9/h", "http://192.168.4.4/h"):
        assert ssrf.check_url(url, allow_hosts=allow, resolve=dns) == url
    for url in ("http://other.internal/h", "http://127.0.0.2/h", "http://10.0.0.5/h"):
        with pytest.raises(WebhookError):
            ssrf.check_url(url, allow_hosts=allow, resolve=dns)
    monkeypatch.setenv(ssrf.ALLOW_HOSTS_ENV, " RECEIVER.internal , 10.9.0.0/16")
    assert ssrf.check_url("http://receiver.internal/h", resolve=dns)
    assert ssrf.check_url("http://other.internal/h", resolve=dns)
    monkeypatch.setenv(ssrf.ALLOW_HOSTS_ENV, "")
    with pytest.raises(WebhookError):
        ssrf.check_url("http://127.0.0.1:9/h", resolve=dns)
    with pytest.raises(WebhookError, match="credentials"):  # the allow list never admits credentials
        ssrf.check_url("http://u:p@127.0.0.1/h", allow_hosts=["127.0.0.1"], resolve=dns)


def test_refused_subscription_stores_nothing(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ssrf.ALLOW_HOSTS_ENV, raising=False)
    with pytest.raises(WebhookError) as caught:
        wh.create_subscription(engine, url="http://169.254.169.254/latest", event_types=["loan.repaid"])
    assert caught.value.field == "url"
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(webhook_subscriptions)).scalar_one() == 0


# --- at send time: the name is resolved again, checked, and the checked address is used -----------


def test_pin_connects_to_the_checked_address_and_keeps_the_name() -> None:
    dns = fake_dns({"hooks.example": [PUBLIC_IP, "93.184.216.35"], "v6.example": ["2606:4700:4700::1111"]})
    assert ssrf.pin("https://hooks.example:8443/in?x=1", allow_hosts=[], resolve=dns) == (
        f"https://{PUBLIC_IP}:8443/in?x=1", "hooks.example")
    assert ssrf.pin("http://v6.example/h", allow_hosts=[], resolve=dns) == (
        "http://[2606:4700:4700::1111]/h", "v6.example")
    assert ssrf.pin(f"http://{PUBLIC_IP}/h", allow_hosts=[], resolve=dns) == (f"http://{PUBLIC_IP}/h", None)


def test_pin_refuses_a_name_that_now_points_inside_or_nowhere() -> None:
    rebound = fake_dns({"hooks.example": ["127.0.0.1"], "half.example": [PUBLIC_IP, "169.254.169.254"]})
    for url in ("https://hooks.example/in", "https://half.example/in", "https://gone.example/in",
                "http://10.0.0.1/in", "ftp://hooks.example/in"):
        with pytest.raises(WebhookError) as caught:
            ssrf.pin(url, allow_hosts=[], resolve=rebound)
        assert caught.value.field == "url"


def test_pin_leaves_allow_listed_names_alone() -> None:
    dns = fake_dns({"receiver.internal": ["10.0.0.5"]})
    assert ssrf.pin("http://receiver.internal:81/h", allow_hosts=["receiver.internal"], resolve=dns) == (
        "http://receiver.internal:81/h", None)
    assert ssrf.pin("http://named.internal/h", allow_hosts=["10.0.0.0/8"],
                  resolve=fake_dns({"named.internal": ["10.1.1.1"]})) == ("http://10.1.1.1/h", "named.internal")
