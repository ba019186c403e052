"""Test doubles for the decision core's inputs (application, data bundle, flags)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class App:
    application_id: str
    product_id: str = ""


@dataclass(frozen=True)
class Bundle:
    prints: tuple[tuple[str, str], ...] = (("bureau", "ab" * 32),)
    failures: tuple[Any, ...] = ()

    def fingerprints(self) -> dict[str, str]:
        return dict(self.prints)

    def failed(self) -> tuple[Any, ...]:
        return self.failures


@dataclass(frozen=True)
class Failed:
    source: str
    status: str


@dataclass(frozen=True)
class StubFlag:
    code: str
    severity: str
    message_en: str = "test flag"
    message_zh: str = "测试"
    evidence: Any = None
