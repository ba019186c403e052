"""Snapshots, fingerprints, connectors and gather: failures become statuses, never exceptions."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from lendstack.origination import (
    Application,
    DataBundle,
    EmbeddedConnector,
    FailingConnector,
    FileConnector,
    HttpConnector,
    SlowConnector,
    Snapshot,
    embedded_connectors,
    fingerprint,
    gather,
)

AT = datetime(2026, 1, 1, tzinfo=UTC)


def test_fingerprint_is_sha256_of_the_canonical_json() -> None:
    payload = {"b": 1, "a": "营业额", "c": [1, 2]}
    text = '{"payload":{"a":"营业额","b":1,"c":[1,2]},"source":"pos"}'
    assert fingerprint("pos", payload) == hashlib.sha256(text.encode()).hexdigest()


def test_fingerprint_is_stable_and_ignores_key_order_and_fetch_time() -> None:
    a = Snapshot.make("bureau", "ok", {"x": 1, "y": [1, 2]}, AT)
    b = Snapshot.make("bureau", "ok", {"y": [1, 2], "x": 1}, datetime.now(UTC), latency_ms=3.0)
    assert a.fingerprint == b.fingerprint


@pytest.mark.parametrize(
    ("source", "payload"),
    [("bureau", {"x": 2, "y": [1, 2]}), ("bureau", {"x": 1, "y": [2, 1]}), ("tax", {"x": 1, "y": [1, 2]}),
     ("bureau", {"x": 1.0, "y": [1, 2]}), ("bureau", {"x": 1, "y": [1, 2], "z": None})],
)  # fmt: skip
def test_fingerprint_changes_with_any_change_of_data(source: str, payload: dict[str, Any]) -> None:
    assert fingerprint(source, payload) != fingerprint("bureau", {"x": 1, "y": [1, 2]})


def test_embedded_gather_fingerprints_every_source(sim_gathered: list[tuple[Any, Application, DataBundle]]) -> None:
    row, application, bundle = next(item for item in sim_gathered if item[0]["applicant_type"] == "small_business")
    assert set(bundle.snapshots) == {"bureau", "tax", "invoices", "pos", "supply_chain", "telematics", "device"}
    assert bundle.snapshots["telematics"].status == "missing" or row["vehicle_value_minor"] is not None
    assert bundle.snapshots["bureau"].payload == application.data_sources["bureau"]
    assert bundle.failed() == []
    again = gather(application, embedded_connectors())
    assert again.fingerprints() == bundle.fingerprints()
    assert all(len(fp) == 64 for fp in bundle.fingerprints().values())


def test_a_failing_source_becomes_an_error_snapshot(sim_gathered: list[tuple[Any, Application, DataBundle]]) -> None:
    application = sim_gathered[0][1]
    bundle = gather(application, [EmbeddedConnector("bureau"), FailingConnector("tax", "vendor down")])
    assert bundle.snapshots["tax"].status == "error" and "vendor down" in bundle.snapshots["tax"].error
    assert bundle.failed() == ["tax"]
    assert bundle.payload("tax") is None


def test_a_slow_source_times_out_without_holding_the_decision(
    sim_gathered: list[tuple[Any, Application, DataBundle]],
) -> None:
    application = sim_gathered[0][1]
    started = time.perf_counter()
    bundle = gather(application, [EmbeddedConnector("device"), SlowConnector("bureau", 0.5)], timeout_s=0.05)
    elapsed_s = time.perf_counter() - started
    assert bundle.snapshots["bureau"].status == "timeout" and bundle.failed() == ["bureau"]
    assert bundle.snapshots["device"].status == "ok"
    assert elapsed_s < 0.3, f"gather waited {elapsed_s:.3f}s for a slow source"


def test_a_slow_source_within_the_deadline_is_used(sim_gathered: list[tuple[Any, Application, DataBundle]]) -> None:
    application = sim_gathered[0][1]
    bundle = gather(application, [SlowConnector("bureau", 0.01)], timeout_s=1.0)
    assert bundle.snapshots["bureau"].status == "ok"


def test_file_connector(tmp_path: Path, sim_gathered: list[tuple[Any, Application, DataBundle]]) -> None:
    application = sim_gathered[0][1]
    (tmp_path / f"{application.application_id}.json").write_text(json.dumps({"score": 700}), encoding="utf-8")
    connector = FileConnector("bureau", tmp_path)
    snap = connector.fetch(application, 1.0)
    assert snap.status == "ok" and snap.payload == {"score": 700}
    assert snap.fingerprint == fingerprint("bureau", {"score": 700})
    (tmp_path / f"{application.application_id}.json").write_text("{not json", encoding="utf-8")
    assert connector.fetch(application, 1.0).status == "error"
    assert FileConnector("bureau", tmp_path / "nowhere").fetch(application, 1.0).status == "missing"


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/slow/"):
            time.sleep(0.5)
        if self.path.startswith("/missing/"):
            self.send_error(404)
            return
        if self.path.startswith("/broken/"):
            self.send_error(500)
            return
        body = json.dumps({"path": self.path, "score": 650}).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (the timeout test): nothing to answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def http_base() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_http_connector(http_base: str, sim_gathered: list[tuple[Any, Application, DataBundle]]) -> None:
    application = sim_gathered[0][1]
    ok = HttpConnector("bureau", http_base + "/ok/{application_id}", timeout=2.0).fetch(application, 2.0)
    assert ok.status == "ok" and ok.payload == {"path": f"/ok/{application.application_id}", "score": 650}
    assert HttpConnector("bureau", http_base + "/missing/{application_id}").fetch(application, 2.0).status == "missing"
    broken = HttpConnector("bureau", http_base + "/broken/{application_id}").fetch(application, 2.0)
    assert broken.status == "error" and "500" in broken.error


def test_http_connector_times_out(http_base: str, sim_gathered: list[tuple[Any, Application, DataBundle]]) -> None:
    application = sim_gathered[0][1]
    slow = HttpConnector("bureau", http_base + "/slow/{application_id}", timeout=0.1)
    assert slow.fetch(application, 0.1).status == "timeout"
    bundle = gather(application, [slow, EmbeddedConnector("device")], timeout_s=0.1)
    assert bundle.snapshots["bureau"].status == "timeout" and bundle.snapshots["device"].status == "ok"


def test_http_connector_refused_connection_is_an_error(sim_gathered: list[tuple[Any, Application, DataBundle]]) -> None:
    application = sim_gathered[0][1]
    snap = HttpConnector("bureau", "http://127.0.0.1:9/{application_id}", timeout=0.5).fetch(application, 0.5)
    assert snap.status in ("error", "timeout") and snap.error


def test_embedded_gather_latency(sim_gathered: list[tuple[Any, Application, DataBundle]]) -> None:
    connectors = embedded_connectors()
    applications = [app for _, app, _ in sim_gathered[:1000]]
    started = time.perf_counter()
    for application in applications:
        gather(application, connectors)
    per_application_ms = (time.perf_counter() - started) * 1000 / len(applications)
    assert per_application_ms < 1.0, f"embedded gather takes {per_application_ms:.3f} ms"
