"""End-to-end fixtures: a seeded SQLite book served by uvicorn on a free 127.0.0.1 port, and Debian's
chromium driven headless by Playwright (no browser download; the network is closed).

- `live_server(app)`: serves an ASGI app in a background thread; stops it (should_exit) at module end.
- `book`: a migrated SQLite file seeded through the real services — a tiny fast GBM as the champion
  model, the demo staff users, decided applications (approved, referred, declined), one active loan.
- `console`: the whole site (create_site: API + console) over that book, served as above.
- `browser`: chromium launched once per session (fresh temporary profile from Playwright);
  `new_page()` opens an isolated context (own cookies) that can reach 127.0.0.1 only.
- `shot(page, name)`: a full-page screenshot under test-artifacts/e2e/, its path printed.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine

from lendstack.scoring import TrainOptions
from lendstack.services.decisions import accept_offer, decide_application
from lendstack.services.loans import disburse_loan
from lendstack.services.models import ensure_default_model, scoring_model
from lendstack.services.staff import ensure_demo_staff
from lendstack.sim import generate_applications, to_application_json
from lendstack.store.db import make_engine, upgrade

CHROMIUM = Path("/usr/bin/chromium")
# Without these, chromium in a closed network stalls on DNS lookups, updates and sync.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"
SERVER_START_TIMEOUT_S = 20.0
SERVER_STOP_TIMEOUT_S = 10.0
PAGE_TIMEOUT_MS = 10_000
# A tiny GBM: the e2e tests check the console, not the model; the default 20,000-row training is minutes.
FAST_GBM = {"n_estimators": 60, "learning_rate": 0.15, "early_stopping_rounds": 10, "n_jobs": 1}
MODEL_ROWS = 2_000
DOCUMENTS_MAX = 60  # seeding stops at the first documents that give every outcome; this bounds the loop


# --------------------------------------------------------------------------- live server


class LiveServer:
    """uvicorn in a daemon thread on a socket bound here (no port race); stopped by should_exit."""

    def __init__(self, app: Any) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        port = self.sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True,
                                       name=f"uvicorn-{port}")

    def start(self, probe_path: str = "/") -> None:
        self.thread.start()
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.server.started and self._answers(probe_path):
                return
            assert self.thread.is_alive(), "uvicorn stopped while starting (see the captured log)"
            time.sleep(0.05)
        raise AssertionError(f"{self.base_url} did not answer within {SERVER_START_TIMEOUT_S} s")

    def _answers(self, probe_path: str) -> bool:
        try:
            return httpx.get(self.base_url + probe_path, timeout=2.0).status_code < 500
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(SERVER_STOP_TIMEOUT_S)
        assert not self.thread.is_alive(), "uvicorn did not stop"
        self.sock.close()


@pytest.fixture(scope="module")
def live_server() -> Iterator[Callable[..., str]]:
    """`live_server(app, probe_path="/")` → base URL; every server started is stopped at module end."""
    started: list[LiveServer] = []

    def start(app: Any, probe_path: str = "/") -> str:
        server = LiveServer(app)
        started.append(server)
        server.start(probe_path)
        return server.base_url

    yield start
    for server in reversed(started):
        server.stop()


# --------------------------------------------------------------------------- the seeded book


@dataclass
class Book:
    """What the seeding made: the engine, the model registry, staff logins and applications by outcome."""

    engine: Engine
    registry_dir: Path
    staff: dict[str, tuple[str, str]] = field(default_factory=dict)  # role -> (username, password)
    decided: dict[str, list[str]] = field(default_factory=dict)  # outcome -> application ids
    active_loan_id: str = ""  # booked and disbursed by the seeding

    def login(self, role: str) -> tuple[str, str]:
        assert role in self.staff, f"no demo staff user with role {role!r}: {sorted(self.staff)}"
        return self.staff[role]


@pytest.fixture(scope="module")
def model_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A registry whose champion is the tiny GBM; LENDSTACK_MODEL_REGISTRY points at it for the module,
    so any code path that asks for the default registry finds it instead of training the big one."""
    root = tmp_path_factory.mktemp("e2e-models")
    ensure_default_model(root, options=TrainOptions(kind="gbm", seed=5, gbm_params=FAST_GBM), rows=MODEL_ROWS)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LENDSTACK_MODEL_REGISTRY", str(root))
        yield root


def _documents() -> list[dict[str, Any]]:
    sample = generate_applications(DOCUMENTS_MAX, seed=21)
    return [to_application_json(sample.row(i, named=True)) for i in range(sample.height)]


def seed_decisions(engine: Engine, registry_dir: Path, wanted: dict[str, int]) -> Book:
    """Decide simulated documents in order until `wanted` (outcome -> count) is met."""
    model = scoring_model(registry_dir)
    book = Book(engine, registry_dir, decided={outcome: [] for outcome in ("approve", "refer", "decline")})
    for document in _documents():
        if all(len(book.decided[o]) >= n for o, n in wanted.items()):
            break
        decision = decide_application(engine, document, model=model)
        book.decided[decision.outcome].append(decision.application_id)
    missing = {o: n for o, n in wanted.items() if len(book.decided[o]) < n}
    assert not missing, f"{DOCUMENTS_MAX} simulated documents did not give {missing}"
    return book


@pytest.fixture(scope="module")
def engine_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A migrated SQLite file (WAL) of its own: the server thread and the test share it."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('e2e-db') / 'lendstack.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def book(engine_file: Engine, model_registry: Path) -> Book:
    """The seeded book: staff users; two approved, two referred and one declined application; the
    first approved one accepted and disbursed today, so there is an active loan from the start."""
    seeded = seed_decisions(engine_file, model_registry, {"approve": 2, "refer": 2, "decline": 1})
    seeded.staff = {role: (username, password) for username, password, role in ensure_demo_staff(engine_file)}
    today = datetime.now(UTC).date()
    booked = accept_offer(engine_file, seeded.decided["approve"][0], today, "e2e-seed-accept")
    seeded.active_loan_id = str(booked["loan_id"])
    disburse_loan(engine_file, seeded.active_loan_id, today, "e2e-seed-disburse")
    return seeded


@pytest.fixture(scope="module")
def console(book: Book, live_server: Callable[..., str]) -> str:
    """The whole site (API + console) over the seeded book; its base URL."""
    from lendstack.web.site import create_site

    # The live server is plain http on loopback: opt in explicitly, as `make demo` does.
    return live_server(create_site(book.engine, registry_dir=book.registry_dir, secure_cookies=False), "/login")


# --------------------------------------------------------------------------- the browser


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is absent: `make chromium` installs Debian's chromium for the browser tests"
        if os.environ.get("CI"):
            pytest.fail(reason)  # in CI the browser tests must run, never silently skip
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # launch() gives every run a fresh temporary profile (user data dir), removed at close.
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


_LOCAL = re.compile(r"^(http://127\.0\.0\.1[:/]|data:|about:|blob:)")


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """`new_page(locale="en-US")` → a page in a fresh context (its own cookies); requests that would leave
    127.0.0.1 are aborted, so a CDN link fails fast instead of hanging on a closed network. An uncaught
    script error on any page fails the test at teardown, unless opened with `script_errors_ok=True`."""
    contexts: list[Any] = []
    script_errors: list[str] = []

    def open_page(locale: str = "en-US", *, script_errors_ok: bool = False) -> Any:
        context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        context.route(re.compile(r".*"), lambda route: route.continue_() if _LOCAL.match(route.request.url)
                      else route.abort())
        contexts.append(context)
        page = context.new_page()
        if not script_errors_ok:
            page.on("pageerror", lambda error: script_errors.append(f"{page.url}: {error}"))
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not script_errors, f"uncaught script errors: {script_errors}"


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Callable[[Any, str], Path]:
    """`shot(page, "02-decision")` saves test-artifacts/e2e/<test>-02-decision.png and prints the path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    test_name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)

    def save(page: Any, name: str) -> Path:
        path = ARTIFACTS / f"{test_name}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
        return path

    return save


