"""`lendstack webhooks dispatch|dead|redeliver`: one delivery pass, the dead-letter list, redelivery."""

from __future__ import annotations

from typing import Annotated

import typer

from lendstack.cli.context import open_engine
from lendstack.cli.output import print_json, print_pairs, print_table, run_or_fail

# Mirrors lendstack.webhooks.service.SEND_BATCH: that module loads only when a command runs, so that
# `lendstack --help` starts at once; tests/cli/test_cli_startup.py checks that the two agree.
SEND_BATCH = 100
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document")]
webhooks_app = typer.Typer(help="Webhook delivery: dispatch from the outbox, dead letters, redelivery.",
                           no_args_is_help=True)
DEAD_LIST_MAX = 200


def register(app: typer.Typer) -> None:
    app.add_typer(webhooks_app, name="webhooks")


@webhooks_app.command("dispatch")
def dispatch_cmd(limit: Annotated[int, typer.Option(min=1, max=1000, help="Deliveries to attempt")] = SEND_BATCH,
                 as_json: JsonOpt = False) -> None:
    """One pass: fan out pending outbox events to subscriptions and send the due deliveries."""
    from lendstack.webhooks import service as svc

    counts = svc.dispatch(open_engine(), limit=limit).to_json()
    if as_json:
        print_json(dict(counts))
    else:
        print_pairs([(k, str(v)) for k, v in counts.items()])


@webhooks_app.command("dead")
def dead_cmd(limit: Annotated[int, typer.Option(min=1, max=DEAD_LIST_MAX)] = 50, as_json: JsonOpt = False) -> None:
    """The dead-letter list: deliveries that used up their attempts."""
    from lendstack.webhooks import service as svc

    items = [d.to_json() for d in svc.list_deliveries(open_engine(), status=svc.DEAD, partner_id=None, limit=limit)]
    if as_json:
        print_json({"items": items})
        return
    print_table("dead deliveries", ["delivery", "event", "type", "attempts", "last error"],
                [[d["delivery_id"], d["event_id"], d["event_type"], str(d["attempts"]), d["last_error"]]
                 for d in items])


@webhooks_app.command("redeliver")
def redeliver_cmd(delivery_id: Annotated[str, typer.Argument()], as_json: JsonOpt = False) -> None:
    """Queue a delivery again now, with a fresh attempt budget."""
    from lendstack.webhooks import service as svc

    result = run_or_fail(lambda: svc.redeliver(open_engine(), delivery_id).to_json(), as_json=as_json)
    if as_json:
        print_json(result)
    else:
        print_pairs([(k, str(v)) for k, v in result.items()])
