"""`lendstack bench api`: the decision endpoint over HTTP, end to end.

A fresh SQLite (WAL) database with the catalog and one partner key; the API on uvicorn in a
subprocess on a free loopback port (one worker by default: SQLite has one writer, and on this
2-core machine a second worker measured no faster and with a worse p99); load from a SECOND process,
locust headless (bench/api_locust.py):
  1. paced: users at a constant throughput summing to BENCH rps (default 100) for ~20 s, after a warm-up;
  2. under a login flood: the paced load of 1. again while another process runs 6 loops POSTing
     made-up usernames to the console's /login as fast as they are answered (issue 12: such a flood
     used to run argon2 under the SQLite lock and took GET /v1/loans from 4.8 to 628 ms median).
     `ms_p99_under_login_flood` against the idle `ms_p99_at_<rps>rps`: the target is at most 3×;
  3. saturation: a closed loop of several users with no wait, for ~15 s.
Each request is POST /v1/applications with a new simulated application (lendstack.sim) and its own
Idempotency-Key: a full decision (gather, fraud, score, price, limit) stored with its audit row.
The server serves the whole site (lendstack.web.create_site: the API and the console), as
`lendstack serve` does, with its default login limits.

The bench key gets its own rate limit (far above the load): this measures the API, not the limiter.
Sizes come from the environment so the smoke test can run it in seconds:
LENDSTACK_BENCH_API_RPS, _SECONDS, _SATURATION_SECONDS, _FLOOD_SECONDS, _FLOOD_LOOPS, _USERS, _WARMUP,
_WORKERS (uvicorn processes),
_LOOP and _HTTP (uvicorn's loop and http choices, default auto: uvloop and httptools when installed,
as they are by pyproject; asyncio and h11 to compare), _CHECKPOINT (background, as `lendstack serve`
runs it, or auto: SQLite's checkpoint inside the commit that fills the WAL).

The server process loads the model and freezes the garbage collector's view of the heap before it
serves (gc.freeze(): the modules, the model and the compiled kernels are never scanned again); a
full collection over that heap took ~150 ms and, landing in the paced phase, was the p99 by itself.
`lendstack serve` should do the same at start-up.

Besides the latencies, the result says what the server process itself spent: `server_cpu_ms_per_request`
(user + system CPU of the server and its workers over both phases, per request). On a shared machine
the latencies depend on what else runs; that number mostly does not."""

from __future__ import annotations

import gc
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import func, select

from lendstack.api.keys import create_key
from lendstack.services.models import default_registry_dir, ensure_default_model, scoring_model
from lendstack.sim import generate_applications, to_application_json
from lendstack.store.db import WalCheckpointer, make_engine, upgrade
from lendstack.store.tables_decisioning import decisions

LOCUSTFILE = Path(__file__).with_name("api_locust.py")
WARMUP_REQUESTS_DEFAULT = 100
SERVER_START_TIMEOUT_S = 120.0
PHASE_GRACE_S = 60.0  # locust gets this long beyond its run time before we call it hung
HEADROOM = 1.3  # simulated applications made per expected request
FLOOD_P99_TARGET_RATIO = 3.0  # issue 12: authenticated p99 under a login flood ≤ 3 × the idle p99
FLOOD_START_TIMEOUT_S = 120.0


def _env_int(name: str, default: int) -> int:
    value = int(os.environ.get(name, default))
    assert value > 0, f"{name} must be positive"
    return value


def _say(progress: bool, message: str) -> None:
    if progress:
        print(message, flush=True)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _app() -> Any:
    """The site of one server process, over BENCH_API_DB (a factory: each uvicorn worker builds its own).
    The bench key's rate limit comes in LENDSTACK_API_RATE_LIMITS (set by run())."""
    from lendstack.web import create_site

    engine = make_engine(os.environ["BENCH_API_DB"])
    if os.environ.get("LENDSTACK_BENCH_API_CHECKPOINT", "background") == "background":
        WalCheckpointer(engine).start()  # as `lendstack serve` does: checkpoints off the request path
    app = create_site(engine, registry_dir=os.environ["BENCH_API_REGISTRY"], secure_cookies=False)
    # Load the model now, then move everything alive (modules, the model, numba's compiled kernels)
    # out of the collector's reach: a full collection over that heap took ~150 ms, a pause that
    # stalls every request queued behind it.
    scoring_model(os.environ["BENCH_API_REGISTRY"])
    gc.collect()
    gc.freeze()
    return app


def _serve() -> None:
    """The server process: the API over BENCH_API_DB on BENCH_API_PORT (run via `python -c`)."""
    import uvicorn

    workers = int(os.environ.get("LENDSTACK_BENCH_API_WORKERS", "1"))
    uvicorn.run("bench.api:_app", factory=True, host="127.0.0.1", port=int(os.environ["BENCH_API_PORT"]),
                log_level="warning", access_log=False, workers=workers, proxy_headers=False,  # as `lendstack serve`
                loop=os.environ.get("LENDSTACK_BENCH_API_LOOP", "auto"),
                http=os.environ.get("LENDSTACK_BENCH_API_HTTP", "auto"))


def _start_server(env: dict[str, str], base_url: str) -> subprocess.Popen[bytes]:
    server = subprocess.Popen([sys.executable, "-c", "from bench.api import _serve; _serve()"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            stderr = server.stderr.read().decode() if server.stderr else ""
            raise RuntimeError(f"the API server exited with {server.returncode}: {stderr[-2000:]}")
        try:
            if httpx.get(f"{base_url}/v1/openapi.json", timeout=1.0).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("the API server did not start in time")


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and its children (the uvicorn workers), from /proc."""
    ticks_per_s = os.sysconf("SC_CLK_TCK")
    children = Path(f"/proc/{pid}/task/{pid}/children")
    pids = [pid, *(int(c) for c in children.read_text().split())] if children.is_file() else [pid]
    total = 0
    for one in pids[:64]:  # bounded: a handful of workers
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # a worker that just exited
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks_per_s


def _warm_up(base_url: str, token: str, documents: list[dict[str, Any]]) -> int:
    """Decide the first documents once so the model, compiled kernels and pools are loaded."""
    with httpx.Client(base_url=base_url, timeout=60.0) as client:
        for i, document in enumerate(documents):
            response = client.post("/v1/applications", json=document,
                                   headers={"Authorization": f"Bearer {token}", "Idempotency-Key": f"warm-{i}"})
            assert response.status_code == 201, response.text
    return len(documents)


def _locust(env: dict[str, str], base_url: str, users: int, seconds: int, user_rps: float, offset: int,
            run: str, workdir: Path) -> list[tuple[float, float, int]]:
    out = workdir / f"{run}.json"
    phase_env = {**env, "BENCH_API_USER_RPS": str(user_rps), "BENCH_API_OFFSET": str(offset),
                 "BENCH_API_RUN": run, "BENCH_API_OUT": str(out)}
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", base_url,
               "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--only-summary", "--loglevel", "WARNING",
               "--stop-timeout", "10"]
    done = subprocess.run(command, env=phase_env, capture_output=True, timeout=seconds + PHASE_GRACE_S, check=False)
    if not out.is_file():
        raise RuntimeError(f"locust wrote no samples (exit {done.returncode}): {done.stderr.decode()[-2000:]}")
    samples: list[tuple[float, float, int]] = [tuple(s) for s in json.loads(out.read_text())]  # type: ignore[misc]
    return samples


def _flood() -> None:
    """The login flood process (run via `python -c`): BENCH_FLOOD_LOOPS threads, each POSTing made-up
    usernames to BENCH_FLOOD_URL/login back to back (a new name each time, the form's CSRF token
    fetched once), until the file BENCH_FLOOD_STOP exists. Writes {status: count} to BENCH_FLOOD_OUT;
    BENCH_FLOOD_READY once every loop is running."""
    import threading
    from collections import Counter

    base_url, loops = os.environ["BENCH_FLOOD_URL"], int(os.environ["BENCH_FLOOD_LOOPS"])
    stop, ready = Path(os.environ["BENCH_FLOOD_STOP"]), Path(os.environ["BENCH_FLOOD_READY"])
    counts: Counter[int] = Counter()
    lock = threading.Lock()
    started = threading.Barrier(loops + 1)

    def loop(number: int) -> None:
        with httpx.Client(base_url=base_url, timeout=30.0) as client:
            page = client.get("/login")
            token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            started.wait()
            attempt = 0
            while not stop.exists():
                attempt += 1
                response = client.post("/login", data={"username": f"nobody-{number}-{attempt}",
                                                       "password": "not-the-password", "csrf_token": token})
                with lock:
                    counts[response.status_code] += 1

    threads = [threading.Thread(target=loop, args=(n,), daemon=True) for n in range(loops)]
    for thread in threads:
        thread.start()
    started.wait()
    ready.write_text("ready")
    for thread in threads:
        thread.join()
    Path(os.environ["BENCH_FLOOD_OUT"]).write_text(json.dumps({str(k): v for k, v in counts.items()}))


def _start_flood(env: dict[str, str], base_url: str, loops: int, workdir: Path) -> tuple[subprocess.Popen[bytes],
                                                                                           dict[str, str]]:
    flood_env = {**env, "BENCH_FLOOD_URL": base_url, "BENCH_FLOOD_LOOPS": str(loops),
                 "BENCH_FLOOD_STOP": str(workdir / "flood.stop"), "BENCH_FLOOD_READY": str(workdir / "flood.ready"),
                 "BENCH_FLOOD_OUT": str(workdir / "flood.json")}
    flood = subprocess.Popen([sys.executable, "-c", "from bench.api import _flood; _flood()"], env=flood_env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + FLOOD_START_TIMEOUT_S
    while not Path(flood_env["BENCH_FLOOD_READY"]).exists():
        if flood.poll() is not None or time.monotonic() > deadline:
            flood.kill()
            stderr = flood.stderr.read().decode() if flood.stderr else ""
            raise RuntimeError(f"the login flood did not start: {stderr[-2000:]}")
        time.sleep(0.05)
    return flood, flood_env


def _stop_flood(flood: subprocess.Popen[bytes], flood_env: dict[str, str]) -> dict[str, int]:
    Path(flood_env["BENCH_FLOOD_STOP"]).write_text("stop")
    try:
        flood.wait(timeout=PHASE_GRACE_S)
    except subprocess.TimeoutExpired:
        flood.kill()
        raise RuntimeError("the login flood did not stop") from None
    out = Path(flood_env["BENCH_FLOOD_OUT"])
    if not out.is_file():
        stderr = flood.stderr.read().decode() if flood.stderr else ""
        raise RuntimeError(f"the login flood wrote no counts: {stderr[-2000:]}")
    return {status: int(n) for status, n in json.loads(out.read_text()).items()}


def _summary(samples: list[tuple[float, float, int]], suffix: str) -> dict[str, Any]:
    ok = [s for s in samples if s[2] == 201]
    latencies = np.array([s[1] for s in ok]) if ok else np.array([0.0])
    ends = sorted(s[0] for s in samples)
    # Achieved rate over the steady part: completions between the first and the last one.
    window_s = (ends[-1] - ends[0]) if len(ends) > 1 else 0.0
    return {f"ms_p50_{suffix}": float(np.percentile(latencies, 50)),
            f"ms_p99_{suffix}": float(np.percentile(latencies, 99)),
            f"ms_max_{suffix}": float(latencies.max()),
            f"requests_{suffix}": len(samples), f"ok_{suffix}": len(ok), f"errors_{suffix}": len(samples) - len(ok),
            f"rps_achieved_{suffix}": (len(ok) - 1) / window_s if window_s > 0 else 0.0}


def run(progress: bool = True) -> dict[str, Any]:
    rps = _env_int("LENDSTACK_BENCH_API_RPS", 100)
    seconds = _env_int("LENDSTACK_BENCH_API_SECONDS", 20)
    saturation_s = _env_int("LENDSTACK_BENCH_API_SATURATION_SECONDS", 15)
    flood_s = _env_int("LENDSTACK_BENCH_API_FLOOD_SECONDS", seconds)
    flood_loops = _env_int("LENDSTACK_BENCH_API_FLOOD_LOOPS", 6)
    users = _env_int("LENDSTACK_BENCH_API_USERS", 16)
    _env_int("LENDSTACK_BENCH_API_WORKERS", 1)  # checked here, used by the server process
    warmup = _env_int("LENDSTACK_BENCH_API_WARMUP", WARMUP_REQUESTS_DEFAULT)
    registry = default_registry_dir()
    ensure_default_model(registry, progress=lambda m: _say(progress, m))  # train once, outside the timing
    expected = int((rps * seconds + 400 * saturation_s + rps * flood_s) * HEADROOM) + warmup
    _say(progress, f"simulating {expected:,} applications")
    frame = generate_applications(expected, seed=77)
    documents = [to_application_json(row) for row in frame.iter_rows(named=True)]
    with tempfile.TemporaryDirectory(prefix="lendstack-bench-api-") as tmp:
        workdir = Path(tmp)
        url = f"sqlite:///{workdir / 'api.db'}"
        engine = make_engine(url)
        upgrade(engine)
        key = create_key(engine, "partner", partner_id="bench", label="bench api")
        docs_file = workdir / "documents.json"
        docs_file.write_text(json.dumps(documents[warmup:]))
        port = _free_port()
        base_url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "BENCH_API_DB": url, "BENCH_API_PORT": str(port), "BENCH_API_REGISTRY": str(registry),
               "BENCH_API_KEY_ID": key.key_id, "BENCH_API_TOKEN": key.token, "BENCH_API_DOCS": str(docs_file),
               "LENDSTACK_API_RATE_LIMITS": f"{key.key_id}=1000000:1000000",
               "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parent.parent),
                                              os.environ.get("PYTHONPATH", "")])}
        server = _start_server(env, base_url)
        try:
            _say(progress, f"API on {base_url}; warming up")
            _warm_up(base_url, key.token, documents[:warmup])
            cpu_start_s = _cpu_s(server.pid) if Path("/proc").is_dir() else 0.0
            _say(progress, f"paced: {rps} req/s for {seconds} s (locust, {rps} users at 1 req/s)")
            paced = _locust(env, base_url, rps, seconds, 1.0, 0, "paced", workdir)
            cpu_paced_s = _cpu_s(server.pid) - cpu_start_s if Path("/proc").is_dir() else 0.0
            # Right after the idle paced run, on a book of about the same size: the decision endpoint
            # slows as decisions accumulate (the saturation run adds thousands), which is not the flood.
            _say(progress, f"under a login flood: {rps} req/s for {flood_s} s while {flood_loops} loops POST "
                           "made-up usernames to /login")
            flood, flood_env = _start_flood(env, base_url, flood_loops, workdir)
            try:
                flooded = _locust(env, base_url, rps, flood_s, 1.0, len(paced), "flood", workdir)
            finally:
                flood_counts = _stop_flood(flood, flood_env)
            cpu_flood_s = _cpu_s(server.pid) if Path("/proc").is_dir() else 0.0
            _say(progress, f"saturation: {users} users, closed loop, {saturation_s} s")
            saturated = _locust(env, base_url, users, saturation_s, 0.0, len(paced) + len(flooded), "saturation",
                                workdir)
            cpu_s = _cpu_s(server.pid) - cpu_flood_s if Path("/proc").is_dir() else 0.0
            cpu_s += cpu_paced_s
        finally:
            server.terminate()
            server.wait(timeout=30)
        with engine.connect() as conn:
            stored = int(conn.execute(select(func.count()).where(decisions.c.acting.is_(True))).scalar_one())
        engine.dispose()
    result = {**_summary(paced, f"at_{rps}rps"), **_summary(saturated, "at_saturation"),
              **_summary(flooded, "under_login_flood")}
    result["rps_at_saturation"] = result.pop("rps_achieved_at_saturation")
    idle_p99_ms = result[f"ms_p99_at_{rps}rps"]
    ratio = result["ms_p99_under_login_flood"] / idle_p99_ms if idle_p99_ms > 0 else 0.0
    attempts = sum(flood_counts.values())
    result.update({"p99_ratio_under_login_flood": ratio, "p99_ratio_target_under_login_flood": FLOOD_P99_TARGET_RATIO,
                   "p99_within_target_under_login_flood": ratio <= FLOOD_P99_TARGET_RATIO,
                   "login_flood_loops": flood_loops, "login_flood_attempts": attempts,
                   "login_flood_attempts_per_s": attempts / flood_s,
                   "login_flood_throttled_share": flood_counts.get("429", 0) / attempts if attempts else 0.0,
                   "login_flood_statuses": ", ".join(f"{k}: {v}" for k, v in sorted(flood_counts.items()))})
    served = len(paced) + len(saturated)
    workers = _env_int("LENDSTACK_BENCH_API_WORKERS", 1)
    result.update({"target_rps": rps, "saturation_users": users, "decisions_stored": stored,
                   "server_cpu_ms_per_request": 1000.0 * cpu_s / served if served else 0.0,
                   "load_average_1m": os.getloadavg()[0], "cpus": os.cpu_count() or 0,
                   "load_generator": "locust (FastHttpUser), separate process",
                   "server": f"uvicorn, {workers} worker{'s' if workers > 1 else ''}"})
    # Every 201 is a stored decision, and nothing else stored one: the HTTP answers are the database's truth.
    assert stored == (warmup + result[f"ok_at_{rps}rps"] + result["ok_at_saturation"]
                      + result["ok_under_login_flood"]), stored
    return result
