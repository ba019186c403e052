"""`lendstack stress run`: macro scenarios over the book, 12 months ahead, against the baseline."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from lendstack.cli.context import open_engine, parse_day
from lendstack.cli.output import print_json, print_pairs, print_table, run_or_fail
from lendstack.money.money import format_minor

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document")]
stress_app = typer.Typer(help="Macro stress tests (宏观压力测试) over the loan book.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(stress_app, name="stress")


@stress_app.command("run")
def run_command(
    scenarios: Annotated[str | None, typer.Option("--scenarios", help="Scenario YAML (default: packaged set)")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="YYYY-MM-DD (default: the last closed day)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Projected defaults, losses, ECL and capital need per scenario and currency, vs the baseline."""
    from lendstack.risk.stress import load_scenarios
    from lendstack.services.stress import run_stress

    day = run_or_fail(lambda: parse_day(as_of, "as_of"), as_json=as_json) if as_of else None
    scenario_set = run_or_fail(lambda: load_scenarios(scenarios), as_json=as_json)
    data = run_or_fail(lambda: run_stress(open_engine(), day, scenario_set), as_json=as_json).to_json()
    if as_json:
        print_json(data)
        return
    _print(data)


def _print(data: dict[str, Any]) -> None:
    print_pairs([("as of", str(data["as_of"])), ("scenario set", str(data["scenario_set"])),
                 ("live loans", str(data["loans"])), ("capital", data["method"]["capital"])])
    rows = []
    for scenario in data["scenarios"]:
        for currency, t in scenario["totals"].items():
            delta = scenario["vs_baseline"][currency]
            rows.append([f"{scenario['name']} {scenario['name_zh']}", currency, f"{t['default_rate']:.2%}",
                         format_minor(t["losses_minor"], currency), format_minor(delta["losses_delta_minor"], currency),
                         format_minor(t["ecl_now_minor"], currency), format_minor(t["ecl_month12_minor"], currency),
                         format_minor(t["capital_need_minor"], currency),
                         format_minor(delta["capital_need_delta_minor"], currency)])
    print_table(f"Stress test, 12 months from {data['as_of']}",
                ["scenario", "currency", "default rate", "losses", "Δ losses", "ECL now", "ECL m12", "capital need",
                 "Δ capital"], rows, numeric_from=2)
