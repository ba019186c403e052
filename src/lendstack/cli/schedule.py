"""`lendstack schedule`: print a repayment schedule with its APR and totals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

import typer

from lendstack.cli.output import fail, print_json, print_pairs, print_table, run_or_fail
from lendstack.money import DayCount, Money, MoneyError, RoundingMode
from lendstack.money.money import format_minor
from lendstack.schedule import Frequency, Schedule, ScheduleMethod, apr_of, build_schedule

_COLUMNS = ("seq", "due date", "principal", "interest", "fee", "total", "remaining principal")


def _choices(kind: type[Any]) -> str:
    return "|".join(member.value for member in kind)


@dataclass(frozen=True)
class _Request:
    amount: str
    annual_rate: str
    term: int
    method: str
    start: str
    currency: str
    frequency: str
    day_count: str
    rounding: str
    first_due: str | None


def register(app: typer.Typer) -> None:
    app.command("schedule")(schedule_command)


def schedule_command(
    amount: Annotated[
        str, typer.Option(help="Principal in MAJOR units, as a decimal string: 1000000 or 1234.56")
    ],
    annual_rate: Annotated[str, typer.Option(help="Contract annual rate as a decimal: 0.049 for 4.9 %")],
    start: Annotated[str, typer.Option(help="Disbursement date, YYYY-MM-DD")],
    term_months: Annotated[int | None, typer.Option(help="Number of monthly installments")] = None,
    term: Annotated[int | None, typer.Option(help="Number of periods (any frequency)")] = None,
    method: Annotated[
        str, typer.Option(help=_choices(ScheduleMethod))
    ] = ScheduleMethod.EQUAL_INSTALLMENT.value,
    currency: Annotated[str, typer.Option(help="ISO 4217 code")] = "CNY",
    frequency: Annotated[str, typer.Option(help=_choices(Frequency))] = Frequency.MONTHLY.value,
    day_count: Annotated[str, typer.Option(help=_choices(DayCount))] = DayCount.ACT_365F.value,
    rounding: Annotated[str, typer.Option(help=_choices(RoundingMode))] = RoundingMode.HALF_UP.value,
    first_due: Annotated[str | None, typer.Option(help="First due date for a broken first period")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document")] = False,
) -> None:
    """Print the repayment schedule of a loan, its APR (IRR method) and totals."""
    periods = _one_term(term_months, term, frequency, as_json=as_json)
    request = _Request(
        amount, annual_rate, periods, method, start, currency, frequency, day_count, rounding, first_due
    )
    schedule = run_or_fail(lambda: _build(request), as_json=as_json)
    apr = run_or_fail(lambda: apr_of(schedule), as_json=as_json)
    if as_json:
        print_json(schedule_document(schedule, apr))
    else:
        _print_schedule(schedule, apr)


def _one_term(term_months: int | None, term: int | None, frequency: str, *, as_json: bool) -> int:
    """--term-months for monthly loans, --term (periods) for any frequency; exactly one of them."""
    if term_months is not None and term is not None:
        fail("term", "give --term-months or --term, not both", as_json=as_json)
    if term_months is not None and frequency != Frequency.MONTHLY.value:
        fail(
            "term_months",
            f"--term-months needs a monthly frequency; use --term for {frequency}",
            as_json=as_json,
        )
    chosen = term_months if term_months is not None else term
    if chosen is None:
        fail("term", "give the number of installments with --term-months (or --term)", as_json=as_json)
    return chosen


def _build(request: _Request) -> Schedule:
    money = Money.of_major(request.amount, request.currency)
    return build_schedule(
        amount_minor=money.amount_minor,
        rate_annual=request.annual_rate,
        term=request.term,
        method=request.method,
        start=_parse_date(request.start, "start"),
        currency=money.currency,
        frequency=request.frequency,
        day_count=request.day_count,
        rounding=request.rounding,
        first_due_date=None
        if request.first_due is None
        else _parse_date(request.first_due, "first_due_date"),
    )


def _parse_date(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise MoneyError(field, f"not a date in YYYY-MM-DD form: {text!r}") from None


def schedule_document(schedule: Schedule, apr: Decimal) -> dict[str, Any]:
    """The JSON form: amounts as exact major-unit decimal strings."""

    def major(amount_minor: int) -> str:
        return format_minor(amount_minor, schedule.currency)

    return {
        "currency": schedule.currency,
        "method": schedule.method.value,
        "frequency": schedule.frequency.value,
        "amount": major(schedule.amount_minor),
        "rate_annual": str(schedule.rate_annual),
        "apr": str(apr),
        "total_interest": major(schedule.total_interest_minor),
        "total_fee": major(schedule.total_fee_minor),
        "total_repayment": major(schedule.total_minor),
        "maturity_date": schedule.maturity_date.isoformat(),
        "installments": [
            {
                "seq": line.seq,
                "due_date": line.due_date.isoformat(),
                "principal": major(line.principal_minor),
                "interest": major(line.interest_minor),
                "fee": major(line.fee_minor),
                "total": major(line.total_minor),
                "remaining_principal": major(line.remaining_principal_minor),
            }
            for line in schedule.lines
        ],
    }


def _print_schedule(schedule: Schedule, apr: Decimal) -> None:
    document = schedule_document(schedule, apr)
    rows = [
        (
            str(i["seq"]),
            i["due_date"],
            i["principal"],
            i["interest"],
            i["fee"],
            i["total"],
            i["remaining_principal"],
        )
        for i in document["installments"]
    ]
    amount = f"{document['amount']} {schedule.currency}"
    title = f"{schedule.method.value} schedule: {amount} at {schedule.rate_annual} a year"
    print_table(title, _COLUMNS, rows, numeric_from=2)
    print_pairs(
        [
            ("APR (IRR method)", f"{apr * 100:.4f} %"),
            ("total interest", document["total_interest"]),
            ("total fees", document["total_fee"]),
            ("total repayment", document["total_repayment"]),
            ("maturity", document["maturity_date"]),
        ]
    )
