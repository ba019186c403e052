"""`lendstack portfolio report|provision`: portfolio analytics, ECL and the loss-allowance posting."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from lendstack.cli.context import open_engine, parse_day
from lendstack.cli.output import print_json, print_pairs, print_table, run_or_fail
from lendstack.money.money import format_minor

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document")]
portfolio_app = typer.Typer(help="Portfolio analytics and expected credit loss (ECL).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(portfolio_app, name="portfolio")


@portfolio_app.command("report")
def report_command(
    as_of: Annotated[str | None, typer.Option("--as-of", help="YYYY-MM-DD (default: the last closed day)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """DPD, bucket and five-tier distributions, NPL ratio, concentration, vintages, roll rates, ECL."""
    from lendstack.services.monitoring import portfolio_report

    day = run_or_fail(lambda: parse_day(as_of, "as_of"), as_json=as_json) if as_of else None
    data = run_or_fail(lambda: portfolio_report(open_engine(), day), as_json=as_json)
    if as_json:
        print_json(data)
        return
    _print_report(data)


@portfolio_app.command("provision")
def provision_command(
    as_of: Annotated[str | None, typer.Option("--as-of", help="The provision date, YYYY-MM-DD: the business date "
                                                              "(the default); any other is refused")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Bring every loan's loss allowance (1304) to its ECL, dated on the business date; a second run
    posts only what moved since (nothing, the same day)."""
    from lendstack.services.monitoring import post_provision

    day = None if as_of is None else run_or_fail(lambda: parse_day(as_of, "as_of"), as_json=as_json)
    data = run_or_fail(lambda: post_provision(open_engine(), day, detail=False), as_json=as_json)
    if as_json:
        print_json({k: v for k, v in data.items() if k != "per_loan"})
        return
    rows = [[c, format_minor(v["ecl_minor"], c), format_minor(v["allowance_before_minor"], c),
             format_minor(v["change_minor"], c), "yes" if v["already_posted"] else "no"]
            for c, v in data["currencies"].items()]
    print_table(f"ECL provision as of {data['as_of']}", ["currency", "ECL", "allowance before", "change",
                                                          "nothing to move"], rows, numeric_from=1)


def _print_report(data: dict[str, Any]) -> None:
    print_pairs([("as of", str(data["as_of"])), ("loans", str(data["loans"])),
                 ("NPL ratio", ", ".join(f"{c} {r:.2%}" for c, r in data["npl_ratio"].items()))])
    print_table("DPD distribution", ["currency", "DPD", "loans", "principal", "share"],
                [[r["currency"], r["name"], str(r["loans"]), format_minor(r["principal_minor"], r["currency"]),
                  f"{r['share']:.1%}"] for r in data["dpd_distribution"]], numeric_from=2)
    print_table("ECL by stage", ["currency", "stage", "loans", "EAD", "ECL", "coverage"],
                [[r["currency"], str(r["stage"]), str(r["loans"]), format_minor(r["ead_minor"], r["currency"]),
                  format_minor(r["ecl_minor"], r["currency"]), f"{r['coverage']:.2%}"]
                 for r in data["ecl"]["by_stage"]], numeric_from=2)
    roll = data["roll_rates"]
    print_table(f"Roll rates {roll['start']} → {roll['end']}", ["from", *roll["to"]],
                [[name, *(str(n) for n in row)] for name, row in zip(roll["from"], roll["counts"], strict=True)],
                numeric_from=1)
