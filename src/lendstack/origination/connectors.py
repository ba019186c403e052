"""Data-source connectors: the plugin interface and the built-ins (embedded, file, HTTP, test doubles).

Connectors are the I/O edge of origination. A connector never raises for a source problem: it
returns a snapshot with status "timeout", "error" or "missing" so the policy can decide.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from lendstack.origination.application import Application
from lendstack.origination.snapshots import Snapshot


@runtime_checkable
class Connector(Protocol):
    name: str

    def fetch(self, application: Application, timeout_s: float) -> Snapshot: ...


def _now() -> datetime:
    return datetime.now(UTC)


def _elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


def failed_snapshot(source: str, status: str, error: str, latency_ms: float = 0.0) -> Snapshot:
    """A snapshot for a source that gave no data; its payload is empty, so its fingerprint is fixed."""
    assert status in ("timeout", "error", "missing")
    return Snapshot.make(source, status, {}, _now(), error=error, latency_ms=latency_ms)


def _payload_snapshot(source: str, payload: Any, started: float) -> Snapshot:
    if not isinstance(payload, dict):
        return failed_snapshot(source, "error", f"payload must be a JSON object, got {type(payload).__name__}")
    return Snapshot.make(source, "ok", payload, _now(), latency_ms=_elapsed_ms(started))


class EmbeddedConnector:
    """Data submitted inside the application document (simulator-backed and partner-pushed data)."""

    inline = True  # no I/O: gather runs it in the caller's thread

    def __init__(self, name: str) -> None:
        self.name = name

    def fetch(self, application: Application, timeout_s: float) -> Snapshot:
        started = time.perf_counter()
        payload = application.data_sources.get(self.name)
        if payload is None:
            return failed_snapshot(self.name, "missing", "not in the application's data_sources")
        return _payload_snapshot(self.name, payload, started)


class FileConnector:
    """Reads `<directory>/<application_id>.json` (a batch drop from a data vendor)."""

    inline = False

    def __init__(self, name: str, directory: str | Path) -> None:
        self.name = name
        self.directory = Path(directory)

    def fetch(self, application: Application, timeout_s: float) -> Snapshot:
        started = time.perf_counter()
        path = self.directory / f"{application.application_id}.json"
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return failed_snapshot(self.name, "missing", f"no file {path.name}")
        except OSError as exc:
            return failed_snapshot(self.name, "error", f"{type(exc).__name__}: {exc}")
        try:
            return _payload_snapshot(self.name, json.loads(text), started)
        except json.JSONDecodeError as exc:
            return failed_snapshot(self.name, "error", f"invalid JSON in {path.name}: {exc}")


class HttpConnector:
    """GETs `url_template.format(application_id=..., applicant_id=...)`; 404 means no data ("missing")."""

    inline = False

    def __init__(self, name: str, url_template: str, timeout: float = 2.0) -> None:
        assert timeout > 0
        self.name = name
        self.url_template = url_template
        self.timeout = timeout

    def fetch(self, application: Application, timeout_s: float) -> Snapshot:
        started = time.perf_counter()
        url = self.url_template.format(
            application_id=application.application_id, applicant_id=application.applicant.applicant_id
        )
        try:
            with urllib.request.urlopen(url, timeout=min(self.timeout, timeout_s)) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            status = "missing" if exc.code == 404 else "error"
            return failed_snapshot(self.name, status, f"HTTP {exc.code}", _elapsed_ms(started))
        except TimeoutError as exc:
            return failed_snapshot(self.name, "timeout", f"no answer within {timeout_s}s: {exc}", _elapsed_ms(started))
        except (urllib.error.URLError, OSError) as exc:
            return _url_error_snapshot(self.name, exc, started)
        try:
            return _payload_snapshot(self.name, json.loads(body), started)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return failed_snapshot(self.name, "error", f"invalid JSON: {exc}", _elapsed_ms(started))


def _url_error_snapshot(source: str, exc: OSError, started: float) -> Snapshot:
    # urllib wraps a connect timeout in URLError(reason=TimeoutError); keep that a "timeout".
    reason = getattr(exc, "reason", exc)
    status = "timeout" if isinstance(reason, TimeoutError) else "error"
    return failed_snapshot(source, status, f"{type(exc).__name__}: {reason}", _elapsed_ms(started))


class FailingConnector:
    """Test double: every fetch raises (gather must turn that into an "error" snapshot)."""

    inline = True

    def __init__(self, name: str, message: str = "source unavailable") -> None:
        self.name = name
        self.message = message

    def fetch(self, application: Application, timeout_s: float) -> Snapshot:
        raise ConnectionError(self.message)


class SlowConnector:
    """Test double: sleeps `delay_s`, then answers like the wrapped connector (or embedded data)."""

    inline = False

    def __init__(self, name: str, delay_s: float, inner: Connector | None = None) -> None:
        self.name = name
        self.delay_s = delay_s
        self.inner: Connector = inner if inner is not None else EmbeddedConnector(name)

    def fetch(self, application: Application, timeout_s: float) -> Snapshot:
        time.sleep(self.delay_s)
        return self.inner.fetch(application, timeout_s)
