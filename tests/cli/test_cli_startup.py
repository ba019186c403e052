"""The CLI starts at once (issue 14): building the Typer app and printing `--help` loads none of the
heavy libraries; every command module imports them inside its commands. The few constants that
options need before a command runs are mirrored in the CLI module; these tests keep each mirror
equal to its source. `lendstack bench cli` measures the start-up as a user sees it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

HEAVY = ("polars", "numpy", "sklearn", "lightgbm", "sqlalchemy", "fastapi", "optbinning", "pandas", "scipy",
         "alembic", "pydantic", "yaml", "jinja2", "cryptography")
REPO = Path(__file__).resolve().parents[2]


def _loaded_after(code: str) -> list[str]:
    """The heavy top-level packages loaded by a fresh interpreter after running `code`."""
    probe = (f"import sys\n{code}\n"
             f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1].replace("'", '"'))  # type: ignore[no-any-return]


def test_building_the_app_loads_no_heavy_library() -> None:
    assert _loaded_after("from lendstack.cli.main import app\nimport typer\ntyper.main.get_command(app)") == []


def test_help_loads_no_heavy_library() -> None:
    code = ("from typer.testing import CliRunner\nfrom lendstack.cli.main import app\n"
            "result = CliRunner().invoke(app, ['--help'])\nassert result.exit_code == 0, result.output")
    assert _loaded_after(code) == []


def test_every_command_group_help_loads_no_heavy_library() -> None:
    # A group's help builds its commands' parameters: option defaults and help texts stay light too.
    groups = ("loan", "collections", "monitor", "model", "audit", "sim", "staff", "webhooks", "ledger", "db",
              "policy", "review")
    code = ("from typer.testing import CliRunner\nfrom lendstack.cli.main import app\n"
            f"for group in {groups!r}:\n"
            "    result = CliRunner().invoke(app, [group, '--help'])\n"
            "    assert result.exit_code == 0, (group, result.output)")
    # Typer itself loads pydantic (typer._adapters) to parse a sub-command's parameters: not ours to avoid.
    assert _loaded_after(code) == ["pydantic"]


def test_mirrored_constants_equal_their_sources() -> None:
    from lendstack.cli import collections, demo, monitor, report, sim, staff, webhooks
    from lendstack.collections import domain as collections_rules
    from lendstack.collections import service as collections_service
    from lendstack.monitoring import early_warning
    from lendstack.reporting import REPORT_KINDS
    from lendstack.services import staff as staff_service
    from lendstack.services.demo import DemoConfig
    from lendstack.sim import N_MAX, N_MIN
    from lendstack.webhooks import service as webhooks_service

    assert collections.LIST_MAX == collections_service.LIST_MAX
    assert collections.CONTACT_OUTCOMES == collections_rules.CONTACT_OUTCOMES
    assert monitor.ALERT_STATUSES == early_warning.ALERT_STATUSES
    assert report.REPORT_KINDS == REPORT_KINDS
    assert (sim.N_MIN, sim.N_MAX) == (N_MIN, N_MAX)
    assert staff.STAFF_ROLES == staff_service.STAFF_ROLES
    assert webhooks.SEND_BATCH == webhooks_service.SEND_BATCH
    config = DemoConfig()
    mirrored = (demo.DEMO_DAYS, demo.DEMO_SEED, demo.DEMO_PER_DAY_START, demo.DEMO_PER_DAY_END)
    assert mirrored == (config.days, config.seed, config.per_day_start, config.per_day_end)


def test_the_batch_schedules_still_import_from_the_package() -> None:
    # lendstack.schedule loads its NumPy batch path on first use; the names are the same objects.
    import lendstack.schedule
    from lendstack.schedule import batch

    assert lendstack.schedule.build_schedules_batch is batch.build_schedules_batch
    assert lendstack.schedule.BatchSchedules is batch.BatchSchedules
    with pytest.raises(AttributeError):
        _ = lendstack.schedule.no_such_name  # type: ignore[attr-defined]


def test_bench_cli_reports_medians(monkeypatch: pytest.MonkeyPatch) -> None:
    from lendstack.cli.main import app

    monkeypatch.chdir(REPO)  # `lendstack bench` imports the top-level bench package
    monkeypatch.syspath_prepend(str(REPO))
    result = CliRunner().invoke(app, ["bench", "cli", "--json", "--runs", "1"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["runs"] == 1
    for key in ("cli_help_s", "cli_loan_show_s"):
        assert report[key] > 0
    assert len(report["cli_help_runs_s"]) == len(report["cli_loan_show_runs_s"]) == 1


def test_bench_runs_is_refused_for_a_benchmark_that_does_not_repeat(monkeypatch: pytest.MonkeyPatch) -> None:
    from lendstack.cli.main import app

    monkeypatch.chdir(REPO)
    monkeypatch.syspath_prepend(str(REPO))
    result = CliRunner().invoke(app, ["bench", "servicing", "--json", "--runs", "2"])
    assert result.exit_code == 2
