"""`Flag`: one named finding (cross-check mismatch, fraud signal) with the evidence behind it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("info", "warn", "high", "critical")


@dataclass(frozen=True, slots=True)
class Flag:
    """A finding a policy can act on. `evidence` holds JSON-serialisable numbers and ids only."""

    code: str  # dotted: "xcheck.revenue_vs_tax", "fraud.velocity.phone"
    severity: str  # one of SEVERITIES
    message_en: str
    message_zh: str
    evidence: dict[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        assert self.code and "." in self.code, f"a flag code is dotted, got {self.code!r}"
        assert self.severity in SEVERITIES, f"unknown severity {self.severity!r}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message_en": self.message_en,
            "message_zh": self.message_zh,
            "evidence": dict(self.evidence),
        }
