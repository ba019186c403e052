"""`gather`: fetch every source in parallel under one deadline; never raises for a source problem."""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait

from lendstack.origination.application import SOURCES, Application
from lendstack.origination.connectors import Connector, EmbeddedConnector, failed_snapshot
from lendstack.origination.snapshots import DataBundle, Snapshot

# Shared so a decision does not pay for starting threads; a timed-out fetch keeps its worker until it
# returns, so the pool is larger than the number of sources.
_POOL_WORKERS = 32
_pool: ThreadPoolExecutor | None = None


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=_POOL_WORKERS, thread_name_prefix="lendstack-gather")
    return _pool


def embedded_connectors(sources: Sequence[str] = SOURCES) -> list[Connector]:
    """One EmbeddedConnector per source: the data travels inside the application document."""
    return [EmbeddedConnector(name) for name in sources]


def _safe_fetch(connector: Connector, application: Application, timeout_s: float) -> Snapshot:
    started = time.perf_counter()
    try:
        snapshot = connector.fetch(application, timeout_s)
    except Exception as exc:  # any connector bug becomes an "error" snapshot, by contract
        latency_ms = (time.perf_counter() - started) * 1000.0
        return failed_snapshot(connector.name, "error", f"{type(exc).__name__}: {exc}", latency_ms)
    assert snapshot.source == connector.name, f"connector {connector.name} answered for {snapshot.source}"
    return snapshot


def gather(application: Application, connectors: Sequence[Connector], *, timeout_s: float = 0.05) -> DataBundle:
    """A snapshot per connector. In-process connectors run inline; the rest run in parallel threads under a
    single deadline of `timeout_s`, and one that has not answered by then is recorded as "timeout"."""
    assert timeout_s > 0, "timeout_s must be positive"
    names = [c.name for c in connectors]
    assert len(set(names)) == len(names), f"duplicate connector names: {names}"
    started = time.perf_counter()
    snapshots: dict[str, Snapshot] = {}
    remote: dict[str, Future[Snapshot]] = {}
    for connector in connectors:
        if getattr(connector, "inline", False):
            snapshots[connector.name] = _safe_fetch(connector, application, timeout_s)
        else:
            remote[connector.name] = _executor().submit(_safe_fetch, connector, application, timeout_s)
    if remote:
        wait(remote.values(), timeout=max(0.0, timeout_s - (time.perf_counter() - started)))
    for name, future in remote.items():
        snapshots[name] = _collect(name, future, timeout_s, started)
    return DataBundle({name: snapshots[name] for name in names})


def _collect(name: str, future: Future[Snapshot], timeout_s: float, started: float) -> Snapshot:
    if future.done():
        return future.result()
    future.cancel()  # only stops it if it has not started; a running fetch finishes in the background
    latency_ms = (time.perf_counter() - started) * 1000.0
    return failed_snapshot(name, "timeout", f"no answer within {timeout_s * 1000:.0f} ms", latency_ms)
