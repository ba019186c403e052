"""`lendstack bench cli`: how fast the command line starts, as a user sees it.

Two commands run as subprocesses of the installed `lendstack` script, each `runs` times after one
unmeasured warm-up (which fills the OS file cache, as any second invocation would find it):

- `lendstack --help`: start-up alone (Python, Typer, every command module, the help text);
- `lendstack loan show L1`: start-up plus a real lookup on a small SQLite book (one loan, booked and
  disbursed through the service, built here in a temporary directory), which loads SQLAlchemy, the
  store and the servicing types.

Reports the median wall seconds of each (`cli_help_s`, `cli_loan_show_s`) and every run. Targets on
the reference machine: help ≤ 0.5 s, loan show ≤ 1 s (issue 14).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

RUNS_DEFAULT = 5
RUNS_MAX = 100  # each run is a process start: a hundred is minutes already
LOAN_ID = "L1"
BOOK_DAY = date(2026, 1, 10)
RUN_TIMEOUT_S = 60.0  # a start-up that slow is a failure, not a measurement


def _say(progress: bool, message: str) -> None:
    if progress:
        print(message, flush=True)


def _script() -> list[str]:
    """The `lendstack` console script of this interpreter's environment (what a user runs)."""
    beside = Path(sys.executable).parent / "lendstack"
    found = str(beside) if beside.is_file() else shutil.which("lendstack")
    if found is None:
        raise RuntimeError("the lendstack script is not installed next to this Python nor on PATH")
    return [found]


def _build_book(directory: Path) -> str:
    """A SQLite book holding one disbursed loan, LOAN_ID; returns its URL."""
    from lendstack.cli.context import open_engine
    from lendstack.money import Money
    from lendstack.services import loans

    url = f"sqlite:///{directory / 'bench_cli.db'}"
    engine = open_engine(url)  # migrated, as the CLI would find it
    try:
        loans.book_loan(engine, loan_id=LOAN_ID, product="consumer_cny_12m", amount=Money.of_major("12000", "CNY"),
                        term=12, key="bench-cli-book", on=BOOK_DAY)
        loans.disburse_loan(engine, LOAN_ID, BOOK_DAY, "bench-cli-disburse")
        assert loans.get_loan(engine, LOAN_ID).loan_id == LOAN_ID
    finally:
        engine.dispose()
    return url


def _time_runs(argv: list[str], env: dict[str, str], runs: int, expect: str) -> list[float]:
    """Wall seconds of `runs` runs of argv (after one warm-up); each must exit 0 and print `expect`."""
    assert 1 <= runs <= RUNS_MAX
    seconds: list[float] = []
    for index in range(runs + 1):
        started = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False)
        elapsed_s = time.perf_counter() - started
        if done.returncode != 0 or expect not in done.stdout:
            raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr[-2000:]}")
        if index > 0:  # index 0 is the warm-up
            seconds.append(elapsed_s)
    assert len(seconds) == runs
    return seconds


def run(progress: bool, runs: int = RUNS_DEFAULT) -> dict[str, Any]:
    if not 1 <= runs <= RUNS_MAX:
        raise ValueError(f"runs must be 1..{RUNS_MAX}, got {runs}")
    script = _script()
    env = {**os.environ, "COLUMNS": "100"}  # the same help layout whatever the terminal
    _say(progress, f"lendstack --help × {runs} ...")
    help_s = _time_runs([*script, "--help"], env, runs, "Usage")
    with tempfile.TemporaryDirectory(prefix="lendstack-bench-cli-") as directory:
        _say(progress, "building a one-loan SQLite book ...")
        env["LENDSTACK_DATABASE_URL"] = _build_book(Path(directory))
        _say(progress, f"lendstack loan show {LOAN_ID} × {runs} ...")
        show_s = _time_runs([*script, "loan", "show", LOAN_ID], env, runs, f"Installments of {LOAN_ID}")
    return {
        "cli_help_s": round(statistics.median(help_s), 3),
        "cli_loan_show_s": round(statistics.median(show_s), 3),
        "runs": runs,
        "cli_help_runs_s": [round(s, 3) for s in help_s],
        "cli_loan_show_runs_s": [round(s, 3) for s in show_s],
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
