"""`lendstack decide`, `lendstack backtest`, `lendstack policy ...` and `lendstack review ...`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lendstack.cli.context import open_engine
from lendstack.cli.output import console, fail, print_json, print_pairs, print_table, run_or_fail

if TYPE_CHECKING:  # only for annotations: the library loads inside the commands
    from lendstack.decisioning.backtest import Economics

JsonFlag = Annotated[bool, typer.Option("--json", help="print one JSON document")]


def _read_json(path: Path, as_json: bool) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        fail("application", f"cannot read {path}: {exc.strerror}", as_json=as_json)
    except json.JSONDecodeError as exc:
        fail("application", f"{path} is not JSON: {exc.msg} (line {exc.lineno})", as_json=as_json)
    if not isinstance(document, dict):
        fail("application", "the application document must be a JSON object", as_json=as_json)
    return document


def _decide(application: Path, policy: str, as_json: bool) -> None:
    from lendstack.services.decisions import decide_application

    document = _read_json(application, as_json)
    decision = run_or_fail(lambda: decide_application(open_engine(), document, policy=policy), as_json=as_json)
    result = decision.to_dict()
    if as_json:
        print_json(result)
        return
    print_pairs([("application", decision.application_id), ("outcome", decision.outcome),
                 ("grade", decision.grade), ("pd", f"{decision.pd:.4%}"), ("rate", str(decision.rate_annual)),
                 ("limit", _limit_text(decision.limit_minor, document)), ("policy", f"{decision.policy_key} "
                  f"{decision.policy_hash[:12]}"), ("model", f"{decision.model_version} {decision.model_hash[:12]}")])
    print_table("reason codes", ["code", "action", "English", "中文"],
                [[r.code, r.action, r.en, r.zh] for r in decision.reasons])


EXIT_REPLAY_DIFFERS = 7  # the stored decision does not replay to itself: a finding, not bad input


def _replay(application_id: str, as_json: bool) -> None:
    from lendstack.services.decisions import compare_replay

    comparison = run_or_fail(lambda: compare_replay(open_engine(), application_id), as_json=as_json)
    if as_json:
        print_json(comparison.to_json())
    else:
        stored, replayed = comparison.stored, comparison.replayed
        print_table(f"replay of {comparison.application_id} ({comparison.arm})", ["", "stored", "replayed"],
                    [[name, _shown_field(stored.get(name)), _shown_field(replayed.get(name))]
                     for name in (*_REPLAY_SHOWN, *(d for d in comparison.differences if d not in _REPLAY_SHOWN))])
        print_pairs([("matches", "yes" if comparison.matches else "NO"),
                     ("differences", ", ".join(comparison.differences) or "none")])
    if not comparison.matches:
        raise typer.Exit(EXIT_REPLAY_DIFFERS)


# The fields a person compares first; any other field that differs is shown after them.
_REPLAY_SHOWN = ("outcome", "grade", "pd", "rate_annual", "limit_minor", "policy", "policy_hash", "model_version",
                 "input_hash")


def _shown_field(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)[:80]
    return "-" if value is None else str(value)


def _limit_text(limit_minor: int, document: Any) -> str:
    """The limit in the application's currency and its own digits (JPY has none: never divide by 100)."""
    from lendstack.money.money import format_minor_grouped

    currency = str(document["currency"])  # the decision parsed the document: the currency is known
    return f"{format_minor_grouped(limit_minor, currency)} {currency}"


def _backtest(policy: str, against: str | None, data: Path, economics: Economics, as_json: bool) -> dict[str, Any]:
    from lendstack.decisioning import backtest, load_policy
    from lendstack.scoring import read_table
    from lendstack.services.models import scoring_model

    first = load_policy(policy)
    second = load_policy(against) if against else None
    frame = read_table(data)
    say = None if as_json else (lambda message: console(stderr=True).print(message))
    return backtest(frame, first, scoring_model(progress=say), second, progress=say, economics=economics)


# (key in the KPIs, English, 中文); a dotted key reads a nested section.
_MEASURES = (
    ("approval_rate", "approval rate", "通过率"), ("refer_rate", "refer rate", "转人工率"),
    ("expected_bad_rate", "expected bad rate", "预期坏账率"), ("realized_bad_rate", "realised bad rate", "实际坏账率"),
    ("expected_loss_minor", "expected loss (minor)", "预期损失（分）"),
    ("volume_minor", "volume (minor)", "放款金额（分）"),
    ("average_rate_annual", "average annual rate", "平均年利率"),
    ("term_outside_product", "term outside the product", "期限超出产品范围"),
    ("economics.interest_income_minor", "interest income (minor)", "利息收入（分）"),
    ("economics.funding_cost_minor", "funding cost (minor)", "资金成本（分）"),
    ("economics.operating_cost_minor", "operating cost (minor)", "运营成本（分）"),
    ("economics.expected_profit_minor", "expected profit (minor)", "预期利润（分）"),
    ("economics.profit_per_approval_minor", "profit per approval (minor)", "单笔预期利润（分）"),
    ("priced_below_cost.count", "approvals priced below cost", "定价低于成本的通过笔数"),
    ("priced_below_cost.share_of_approved", "share of approvals below cost", "低于成本定价占比"),
)


def _measure(kpis: dict[str, Any], key: str) -> Any:
    value: Any = kpis
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _print_backtest(report: dict[str, Any]) -> None:
    keys = list(report["policies"])
    rows = [[f"{en} / {zh}", *(_shown(_measure(report["policies"][k]["overall"], m)) for k in keys)]
            for m, en, zh in _MEASURES]
    print_table(f"backtest over {report['rows']:,} applications / 回测申请 {report['rows']:,} 笔",
                ["measure / 指标", *keys], rows, numeric_from=1)
    assumptions = report["policies"][keys[0]]["economics_assumptions"]
    print_pairs([(f"assumption: {k}", str(v)) for k, v in assumptions.items()])
    swaps = report.get("swap_sets")
    if swaps:
        names = [name for name in swaps if name.startswith("approved_by")]
        print_table("swap sets / 置换集合", ["set / 集合", "count / 笔数", "declined by other / 另一政策拒绝",
                                           "expected bad / 预期坏账率", "realised bad / 实际坏账率"],
                    [[name, _shown(swaps[name]["count"]), _shown(swaps[name]["declined_by_other"]),
                      _shown(swaps[name]["expected_bad_rate"]), _shown(swaps[name]["realized_bad_rate"])]
                     for name in names], numeric_from=1)


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "-" if value is None else f"{value:,}"


def _policy_commands() -> typer.Typer:
    group = typer.Typer(help="Credit policies: list, show, validate.", no_args_is_help=True)

    @group.command("list")
    def list_(as_json: JsonFlag = False) -> None:
        """The packaged policies with version and content hash."""
        from lendstack.decisioning import list_policies

        items = [{"policy": p.key, "hash": p.content_hash, "name_en": p.document.name_en, "source": p.source}
                 for p in run_or_fail(list_policies, as_json=as_json)]
        if as_json:
            print_json({"policies": items})
        else:
            print_table("policies", ["policy", "hash", "name"], [[i["policy"], i["hash"][:12], i["name_en"]]
                                                                 for i in items])

    @group.command("show")
    def show(name: str, as_json: JsonFlag = False) -> None:
        """One policy's canonical document."""
        policy = _load(name, as_json)
        print_json({"policy": policy.key, "hash": policy.content_hash, "document": policy.canonical()})

    @group.command("validate")
    def validate(file: Path, as_json: JsonFlag = False) -> None:
        """Check a policy file; errors name the line and the reason (exit 2)."""
        policy = _load(str(file), as_json)
        result = {"valid": True, "policy": policy.key, "hash": policy.content_hash}
        print_json(result) if as_json else print_pairs([(k, str(v)) for k, v in result.items()])

    return group


def _load(name: str, as_json: bool) -> Any:
    from lendstack.decisioning import PolicyError, load_policy

    try:
        return load_policy(name)
    except PolicyError as exc:
        where = f"{exc.source}:{exc.line}" if exc.line else exc.source
        if as_json:
            print_json({"error": {"field": exc.field, "line": exc.line, "file": exc.source, "message": exc.message}})
            raise typer.Exit(2) from None
        fail(exc.field, f"{where}: {exc.message}", as_json=False)


def _review_commands() -> typer.Typer:
    # The decisions service (and with it the scoring stack) loads inside each command, not here: this runs
    # at start-up, and `lendstack --help` must start at once.
    group = typer.Typer(help="The manual review queue of referred applications.", no_args_is_help=True)

    def show(item: Any, as_json: bool) -> None:
        data = {"application_id": item.application_id, "status": item.status, "assignee": item.assignee,
                "action": item.action, "note": item.note, "offer": item.counter_offer, "history": item.history}
        print_json(data) if as_json else print_pairs([(k, str(v)) for k, v in data.items() if k != "history"])

    @group.command("list")
    def list_(status: Annotated[str | None, typer.Option(help="open | assigned | done")] = None,
              as_json: JsonFlag = False) -> None:
        from lendstack.services import decisions as svc

        items = run_or_fail(lambda: svc.list_reviews(open_engine(), status), as_json=as_json)
        rows = [{"application_id": i.application_id, "status": i.status, "assignee": i.assignee, "action": i.action}
                for i in items]
        if as_json:
            print_json({"reviews": rows})
        else:
            print_table("review queue", ["application", "status", "assignee", "action"],
                        [list(r.values()) for r in rows])

    @group.command("assign")
    def assign_(application_id: str, assignee: str, by: Annotated[str, typer.Option(help="staff id")] = "staff",
                as_json: JsonFlag = False) -> None:
        from lendstack.services import decisions as svc

        show(run_or_fail(lambda: svc.assign_review(open_engine(), application_id, assignee, by=by), as_json=as_json),
             as_json)

    def resolver(action: str) -> Any:
        def command(application_id: str, note: Annotated[str, typer.Option(help="why")],
                    by: Annotated[str, typer.Option(help="staff id")] = "staff",
                    amount_minor: Annotated[int | None, typer.Option(help="counter-offer amount")] = None,
                    term: Annotated[int | None, typer.Option(help="counter-offer term")] = None,
                    rate_annual: Annotated[str | None, typer.Option(help="counter-offer rate")] = None,
                    as_json: JsonFlag = False) -> None:
            from lendstack.services import decisions as svc

            counter = {"amount_minor": amount_minor, "term": term, "rate_annual": rate_annual}
            item = run_or_fail(lambda: svc.resolve_review(open_engine(), application_id, action, by=by, note=note,
                                                          counter_offer=counter), as_json=as_json)
            show(item, as_json)

        return command

    for action in ("approve", "decline", "counter_offer"):
        group.command(action.replace("_", "-"))(resolver(action))
    return group


def register(app: typer.Typer) -> None:
    @app.command("decide")
    def decide_cmd(
        application: Annotated[Path | None, typer.Option(help="the application JSON document")] = None,
        policy: Annotated[str, typer.Option(help="policy name, name@version or file")] = "consumer_v1",
        replay: Annotated[str | None, typer.Option(
            "--replay", metavar="APPLICATION_ID",
            help="re-run a stored decision from its stored inputs, policy and model and compare; "
                 f"exit 0 when identical, {EXIT_REPLAY_DIFFERS} when not")] = None,
        as_json: JsonFlag = False,
    ) -> None:
        """Decide one application: outcome, grade, PD, rate, limit, reason codes (EN/中文), versions.
        With --replay, check a stored decision instead (an auditor's check)."""
        if (application is None) == (replay is None):
            fail("application", "give either --application FILE or --replay APPLICATION_ID", as_json=as_json)
        if replay is not None:
            _replay(replay, as_json)
            return
        assert application is not None
        _load(policy, as_json)
        _decide(application, policy, as_json)

    @app.command("backtest")
    def backtest_cmd(
        policy: Annotated[str, typer.Option(help="policy name, name@version or file")],
        data: Annotated[Path, typer.Option(help="historical applications (parquet/CSV) with default_12m")],
        against: Annotated[str | None, typer.Option(help="a second policy, side by side")] = None,
        funding_rate: Annotated[float | None, typer.Option(
            help="annual funding cost, share of the balance (default: each policy's cost_of_funds)")] = None,
        operating_cost: Annotated[float | None, typer.Option(
            help="annual operating cost, share of the balance (default: each policy's operating_cost)")] = None,
        ead_share: Annotated[float, typer.Option(help="exposure at default as a share of the amount")] = 1.0,
        cost_per_loan_minor: Annotated[int, typer.Option(help="fixed cost of booking one loan, minor units")] = 0,
        as_json: JsonFlag = False,
    ) -> None:
        """Run one or two policies over history, columnar: approval, bad rates, loss, volume, price,
        expected profit, approvals priced below cost and (with --against) swap sets."""
        from lendstack.decisioning.backtest import Economics

        _load(policy, as_json)
        if against:
            _load(against, as_json)
        economics = run_or_fail(lambda: Economics(funding_rate, operating_cost, ead_share, cost_per_loan_minor),
                                as_json=as_json)
        report = run_or_fail(lambda: _backtest(policy, against, data, economics, as_json), as_json=as_json)
        print_json(report) if as_json else _print_backtest(report)

    app.add_typer(_policy_commands(), name="policy")
    app.add_typer(_review_commands(), name="review")
