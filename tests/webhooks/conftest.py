"""The webhook tests deliver to a receiver on 127.0.0.1: allow-list loopback for them (the SSRF guard
refuses internal hosts unless LENDSTACK_WEBHOOK_ALLOW_HOSTS names them)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _allow_loopback_receivers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LENDSTACK_WEBHOOK_ALLOW_HOSTS", "127.0.0.1")
