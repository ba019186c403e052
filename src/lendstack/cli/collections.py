"""`lendstack collections run|queue|assign|contact|promise|cases|case|messages`: collections (催收)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Annotated, Any

import typer

from lendstack.cli.context import open_engine, parse_day
from lendstack.cli.output import fail, print_json, print_pairs, print_table, run_or_fail
from lendstack.money.money import format_minor

# The service and its rules load inside the commands, so that `lendstack --help` starts at once. These two
# mirror lendstack.collections.service.LIST_MAX and lendstack.collections.domain.CONTACT_OUTCOMES (the
# options need them before any command runs); tests/cli/test_cli_startup.py checks that they agree.
LIST_MAX = 1000
CONTACT_OUTCOMES = ("reached", "no_answer", "wrong_number", "refused", "promised")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document")]
ByOpt = Annotated[str, typer.Option("--by", help="Who does it (staff id)")]
NoteOpt = Annotated[str, typer.Option("--note", help="A note for the contact log")]
collections_app = typer.Typer(help="Collections: daily run, collector queues, contact log, promises to pay.",
                              no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(collections_app, name="collections")


@collections_app.command("run")
def run_cmd(as_of: Annotated[str, typer.Option("--as-of", help="YYYY-MM-DD (the day end of day closed)")],
            as_json: JsonOpt = False) -> None:
    """Open/update/close cases, take the strategy's steps, send messages and reminders. Idempotent per day."""
    from lendstack.collections import service as svc

    day = run_or_fail(lambda: parse_day(as_of, "as_of"), as_json=as_json)
    _show(run_or_fail(lambda: svc.run(open_engine(), day).to_json(), as_json=as_json), as_json)


@collections_app.command("queue")
def queue_cmd(
    collector: Annotated[str | None, typer.Option("--collector", help="Only this collector's cases")] = None,
    unassigned: Annotated[bool, typer.Option("--unassigned", help="Only cases nobody has")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=LIST_MAX)] = 100,
    as_json: JsonOpt = False,
) -> None:
    """Open cases in work order: expected roll amount (amount overdue × P(roll)) first."""
    from lendstack.collections import service as svc

    items = [c.to_json() for c in svc.list_queue(open_engine(), collector=collector, unassigned=unassigned,
                                                 limit=limit)]
    if as_json:
        print_json({"items": items})
        return
    _cases_table("collections queue", items)


@collections_app.command("assign")
def assign_cmd(
    by: ByOpt,
    case_id: Annotated[str | None, typer.Argument(help="The case (omit with --auto)")] = None,
    to: Annotated[str | None, typer.Option("--to", help="The collector")] = None,
    auto: Annotated[str | None, typer.Option("--auto", help="Fill these collectors' queues: a,b,c")] = None,
    capacity: Annotated[int | None, typer.Option("--capacity", help="Open cases per collector (default: "
                                                                    "the strategy's)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Assign one case to a collector, or (--auto) fill several collectors' queues by priority."""
    from lendstack.collections import service as svc

    engine = open_engine()
    if auto is not None:
        agents = [a.strip() for a in auto.split(",") if a.strip()]
        _show(run_or_fail(lambda: svc.auto_assign(engine, agents, by=by, capacity=capacity).to_json(),
                          as_json=as_json), as_json)
        return
    if case_id is None or to is None:
        fail("case_id" if case_id is None else "to", "give a case and --to COLLECTOR, or --auto a,b",
             as_json=as_json)
    case, agent = case_id, to
    _show(_brief(run_or_fail(lambda: svc.assign(engine, case, agent, by=by, capacity=capacity).to_json(),
                             as_json=as_json)), as_json)


@collections_app.command("contact")
def contact_cmd(
    case_id: str,
    by: ByOpt,
    outcome: Annotated[str, typer.Option("--outcome", help="|".join(o for o in CONTACT_OUTCOMES
                                                                    if o != "promised"))],
    note: NoteOpt = "",
    at: Annotated[str | None, typer.Option("--at", help="When (ISO date-time, UTC if no zone); default now")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Log a contact attempt and its outcome (a promise: use `collections promise`)."""
    from lendstack.collections import service as svc

    when = run_or_fail(lambda: _parse_when(at), as_json=as_json)
    _show(run_or_fail(lambda: svc.log_contact(open_engine(), case_id, outcome=outcome, by=by, note=note,
                                              at=when).to_json(), as_json=as_json), as_json)


@collections_app.command("promise")
def promise_cmd(
    case_id: str,
    by: ByOpt,
    amount: Annotated[str, typer.Option("--amount", help="Major units, e.g. 1500.00")],
    promised_for: Annotated[str, typer.Option("--date", help="YYYY-MM-DD the borrower will pay by")],
    on: Annotated[str | None, typer.Option("--on", help="YYYY-MM-DD the promise is made; default today")] = None,
    note: NoteOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """Record a promise to pay (承诺还款); the daily run marks it kept or broken (broken escalates)."""
    from lendstack.collections import service as svc
    from lendstack.money import Money

    engine = open_engine()

    def act() -> dict[str, Any]:
        day = parse_day(promised_for, "promised_for")
        made = parse_day(on, "on") if on is not None else date.today()
        currency = svc.get_case(engine, case_id).case.currency
        amount_minor = Money.of_major(amount, currency).amount_minor
        return svc.promise(engine, case_id, amount_minor=amount_minor, promised_for=day, on=made, by=by,
                           note=note).to_json()

    _show(run_or_fail(act, as_json=as_json), as_json)


@collections_app.command("cases")
def cases_cmd(
    status: Annotated[str | None, typer.Option("--status", help="open|closed")] = None,
    loan_id: Annotated[str | None, typer.Option("--loan")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=LIST_MAX)] = 100,
    as_json: JsonOpt = False,
) -> None:
    """Cases, newest first."""
    from lendstack.collections import service as svc

    items = run_or_fail(lambda: [c.to_json() for c in svc.list_cases(open_engine(), status=status, loan_id=loan_id,
                                                                     limit=limit)], as_json=as_json)
    if as_json:
        print_json({"items": items})
        return
    _cases_table("collections cases", items)


@collections_app.command("case")
def case_cmd(case_id: str, as_json: JsonOpt = False) -> None:
    """One case with its contact log, promises, messages and history."""
    from lendstack.collections import service as svc

    _show(run_or_fail(lambda: svc.get_case(open_engine(), case_id).to_json(), as_json=as_json), as_json)


@collections_app.command("messages")
def messages_cmd(
    loan_id: Annotated[str | None, typer.Option("--loan")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="YYYY-MM-DD")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=LIST_MAX)] = 100,
    as_json: JsonOpt = False,
) -> None:
    """Messages sent (reminders and dunning), newest first."""
    from lendstack.collections import service as svc

    day = run_or_fail(lambda: parse_day(as_of, "as_of") if as_of else None, as_json=as_json)
    items = [m.to_json() for m in svc.list_messages(open_engine(), loan_id=loan_id, as_of=day, limit=limit)]
    if as_json:
        print_json({"items": items})
        return
    print_table("collections messages", ["as of", "loan", "step", "channel", "message"],
                [[m["as_of"], m["loan_id"], m["step_id"], m["channel"], m["body"][m["language"]]] for m in items])


def _parse_when(at: str | None) -> datetime | None:
    from lendstack.collections.domain import CollectionsError

    if at is None:
        return None
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        raise CollectionsError("at", f"not an ISO date-time: {at!r}") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _cases_table(title: str, items: list[dict[str, Any]]) -> None:
    print_table(title, ["case", "loan", "collector", "stage", "band", "next", "DPD", "P(roll)", "overdue",
                        "priority"],
                [[c["case_id"], c["loan_id"], c["collector"] or "-", c["stage"], c["risk_band"], c["next_action"],
                  str(c["days_past_due"]), c["p_roll"], format_minor(c["amount_overdue_minor"], c["currency"]),
                  format_minor(c["priority_minor"], c["currency"])] for c in items], numeric_from=6)


def _brief(case: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in case.items() if k not in ("contacts", "promises", "messages", "history")}


def _show(document: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(document)
    else:
        print_pairs([(k, json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else str(v))
                     for k, v in document.items()])
