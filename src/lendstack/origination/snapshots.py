"""Snapshots of data sources with SHA-256 fingerprints of their canonical form (数据指纹)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SNAPSHOT_STATUSES = ("ok", "timeout", "error", "missing")


def canonical_json(value: Any) -> str:
    """The one text form that is hashed: sorted keys, no spaces, UTF-8 characters kept as they are."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fingerprint(source: str, payload: dict[str, Any]) -> str:
    """sha256 hex of {source, payload}; the fetch time is left out so the same data hashes the same."""
    text = canonical_json({"source": source, "payload": payload})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Snapshot:
    source: str
    status: str  # one of SNAPSHOT_STATUSES
    fetched_at: datetime  # UTC
    payload: dict[str, Any] = field(hash=False)
    fingerprint: str
    error: str = ""
    latency_ms: float = 0.0

    def __post_init__(self) -> None:
        assert self.status in SNAPSHOT_STATUSES, f"unknown snapshot status {self.status!r}"
        assert self.fetched_at.tzinfo is not None, "fetched_at must be timezone-aware"
        assert len(self.fingerprint) == 64, "a fingerprint is a sha256 hex digest"

    @classmethod
    def make(
        cls,
        source: str,
        status: str,
        payload: dict[str, Any],
        fetched_at: datetime,
        *,
        error: str = "",
        latency_ms: float = 0.0,
    ) -> Snapshot:
        """A snapshot whose fingerprint is computed from `source` and `payload`."""
        return cls(source, status, fetched_at, payload, fingerprint(source, payload), error, latency_ms)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True, slots=True)
class DataBundle:
    """The snapshots one decision used, keyed by source name."""

    snapshots: dict[str, Snapshot] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        assert all(name == snap.source for name, snap in self.snapshots.items()), "keys must be source names"

    def fingerprints(self) -> dict[str, str]:
        return {name: snap.fingerprint for name, snap in sorted(self.snapshots.items())}

    def failed(self) -> list[str]:
        """Sources that timed out or errored (a source simply absent for this applicant is 'missing', not failed)."""
        return sorted(name for name, snap in self.snapshots.items() if snap.status in ("timeout", "error"))

    def payload(self, source: str) -> dict[str, Any] | None:
        """The payload of an ok snapshot, else None."""
        snap = self.snapshots.get(source)
        return snap.payload if snap is not None and snap.ok else None
