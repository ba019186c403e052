"""`lendstack repair apply|list|show`: the credit-repair program (信用修复)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from lendstack.cli.context import open_engine, parse_day
from lendstack.cli.output import print_json, print_pairs, print_table, run_or_fail

if TYPE_CHECKING:  # only for annotations: the library loads inside the commands
    from lendstack.monitoring.credit_repair import ProgramConfig

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document")]
LoanOpt = Annotated[str | None, typer.Option("--loan", help="The borrower's loan id")]
ApplicantOpt = Annotated[str | None, typer.Option("--applicant", help="The applicant id (all their loans)")]
ProgramOpt = Annotated[str | None, typer.Option("--program", help="Program settings YAML (default: 12 months, 1)")]
repair_app = typer.Typer(help="Credit repair: mark a past overdue record repaired after on-time repayment.",
                         no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(repair_app, name="repair")


def _program(path: str | None) -> ProgramConfig | None:
    from lendstack.documents import DocumentError, load_mapping
    from lendstack.monitoring.credit_repair import CreditRepairError, ProgramConfig

    if path is None:
        return None
    try:
        data = load_mapping(path)  # the one config reader; ProgramConfig validates the settings
    except DocumentError as exc:
        raise CreditRepairError("program", str(exc)) from None
    return ProgramConfig.from_mapping(data)


@repair_app.command("apply")
def apply_command(
    on: Annotated[str, typer.Option("--on", help="The application date, YYYY-MM-DD")],
    key: Annotated[str, typer.Option("--key", help="Idempotency key: a retry returns the first result")],
    loan: LoanOpt = None, applicant: ApplicantOpt = None,
    record: Annotated[str | None, typer.Option("--record", help="The record to repair, e.g. L1#3")] = None,
    program: ProgramOpt = None, as_json: JsonOpt = False,
) -> None:
    """Apply for repair; granted when eligible, else refused with reasons (EN / 中文)."""
    from lendstack.services.credit_repair import apply_for_repair

    day = run_or_fail(lambda: parse_day(on, "on"), as_json=as_json)
    cfg = run_or_fail(lambda: _program(program), as_json=as_json)
    data = run_or_fail(lambda: apply_for_repair(open_engine(), on=day, key=key, loan_id=loan, applicant_id=applicant,
                                                record=record, program=cfg).to_json(), as_json=as_json)
    if as_json:
        print_json(data)
        return
    _print_application(data)


@repair_app.command("list")
def list_command(
    borrower: Annotated[str | None, typer.Option("--borrower", help="e.g. loan:L1 or applicant:A1")] = None,
    status: Annotated[str | None, typer.Option("--status", help="granted | refused")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 100, as_json: JsonOpt = False,
) -> None:
    """Applications, newest first."""
    from lendstack.services.credit_repair import list_applications

    rows = run_or_fail(lambda: [a.to_json() for a in list_applications(open_engine(), borrower_id=borrower,
                                                                        status=status, limit=limit)],
                       as_json=as_json)
    if as_json:
        print_json({"applications": rows})
        return
    print_table("Credit-repair applications", ["application", "borrower", "on", "status", "record / reasons"],
                [[a["application_id"], a["borrower_id"], a["applied_on"], a["status"],
                  a["grant"]["record_id"] if a["grant"] else ", ".join(r["code"] for r in a["reasons"])]
                 for a in rows])


@repair_app.command("show")
def show_command(
    application: Annotated[str | None, typer.Argument(help="An application id (or use --loan / --applicant)")] = None,
    loan: LoanOpt = None, applicant: ApplicantOpt = None, program: ProgramOpt = None, as_json: JsonOpt = False,
) -> None:
    """One application, or what a borrower sees: their overdue records and applications."""
    from lendstack.services.credit_repair import application as get_application
    from lendstack.services.credit_repair import borrower_view

    if application is not None:
        data = run_or_fail(lambda: get_application(open_engine(), application).to_json(), as_json=as_json)
        if as_json:
            print_json(data)
        else:
            _print_application(data)
        return
    cfg = run_or_fail(lambda: _program(program), as_json=as_json)
    view = run_or_fail(lambda: borrower_view(open_engine(), loan_id=loan, applicant_id=applicant,
                                             program=cfg).to_json(), as_json=as_json)
    if as_json:
        print_json(view)
        return
    print_pairs([("borrower", view["borrower_id"]), ("program", view["program"]["text"]["en"]),
                 ("计划", view["program"]["text"]["zh"]),
                 ("unrepaired overdue records", str(view["unrepaired_overdue_records"]))])
    print_table("Overdue records 逾期记录", ["record", "due", "paid", "days late", "repaired", "说明"],
                [[r["record_id"], r["due_date"], r["paid_on"] or "-", str(r["days_late"]),
                  "yes" if r["repaired"] else "no", r["text"]["zh"]] for r in view["records"]], numeric_from=3)


def _print_application(data: dict[str, Any]) -> None:
    print_pairs([("application", data["application_id"]), ("borrower", data["borrower_id"]),
                 ("status", f"{data['status']}: {data['text']['en']} / {data['text']['zh']}")])
    if data["grant"]:
        g = data["grant"]
        print_pairs([("repaired record", f"{g['record_id']} due {g['due_date']}, {g['days_late']} days late")])
    for reason in data["reasons"]:
        print_pairs([(reason["code"], f"{reason['en']} / {reason['zh']}")])
