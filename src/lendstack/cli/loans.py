"""`lendstack loan ...`: book, disburse, repay, prepay, refund, restructure, write off, recover, reverse,
show. Every money command is dated on the book's business date (`--on` may only repeat it)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer

from lendstack.cli.context import open_engine, parse_day
from lendstack.cli.output import print_json, print_pairs, print_table, run_or_fail
from lendstack.money import Money
from lendstack.money.money import format_minor

# The service (and with it SQLAlchemy, the store and the products) loads inside each command, so that
# `lendstack --help` starts at once.

loan_app = typer.Typer(help="Loan accounts: book, disburse, repay, prepay, refund, restructure, write off, recover, "
                            "reverse.",
                       no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document")]
Key = Annotated[str, typer.Option(help="Idempotency key: a retry with the same key does nothing twice")]
OnOpt = Annotated[str | None, typer.Option("--on", help="Value date, YYYY-MM-DD: the book's business date (the "
                                                         "default); any other date is refused")]


def register(app: typer.Typer) -> None:
    app.add_typer(loan_app, name="loan")


def _print(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(result)
        return
    currency = result.get("currency", "CNY")
    print_pairs([(k, format_minor(v, currency) if k.endswith("_minor") and isinstance(v, int) else str(v))
                 for k, v in result.items()])


def _on(on: str | None) -> date | None:
    return None if on is None else parse_day(on, "on")


def _money(amount: str, currency: str) -> Money:
    return Money.of_major(amount, currency)


@loan_app.command("book")
def book_cmd(loan_id: Annotated[str, typer.Option()], product: Annotated[str, typer.Option()],
             amount: Annotated[str, typer.Option(help="Major units, e.g. 50000.00")],
             term: Annotated[int, typer.Option()], key: Key, on: OnOpt = None,
             currency: Annotated[str, typer.Option()] = "CNY",
             rate: Annotated[str | None, typer.Option(help="Annual rate, e.g. 0.12")] = None,
             as_json: JsonOpt = False) -> None:
    """Book an approved loan on a product (not yet disbursed)."""
    from lendstack.services import loans as svc

    _print(run_or_fail(lambda: svc.book_loan(open_engine(), loan_id=loan_id, product=product,
                                             amount=_money(amount, currency), term=term,
                                             on=_on(on), key=key, rate_annual=rate),
                       as_json=as_json), as_json)


@loan_app.command("disburse")
def disburse_cmd(loan_id: Annotated[str, typer.Argument()], key: Key, on: OnOpt = None,
                 as_json: JsonOpt = False) -> None:
    """Pay out an approved loan (T+0) and fix its schedule."""
    from lendstack.services import loans as svc

    _print(run_or_fail(lambda: svc.disburse_loan(open_engine(), loan_id, _on(on), key),
                       as_json=as_json), as_json)


@loan_app.command("repay")
def repay_cmd(loan_id: Annotated[str, typer.Argument()], amount: Annotated[str, typer.Option()], key: Key,
              on: OnOpt = None, currency: Annotated[str, typer.Option()] = "CNY", as_json: JsonOpt = False) -> None:
    """Apply a repayment in the product's allocation order; an overpayment waits in suspense."""
    from lendstack.services import loans as svc

    _print(run_or_fail(lambda: svc.repay_loan(open_engine(), loan_id, _on(on),
                                              _money(amount, currency), key), as_json=as_json), as_json)


@loan_app.command("prepay")
def prepay_cmd(loan_id: Annotated[str, typer.Argument()], amount: Annotated[str, typer.Option()], key: Key,
               on: OnOpt = None, currency: Annotated[str, typer.Option()] = "CNY",
               full: Annotated[bool, typer.Option(help="Pay the loan off")] = False, as_json: JsonOpt = False) -> None:
    """Prepay principal (reduce installment or term, as the product says), with any prepayment fee."""
    from lendstack.services import loans as svc

    _print(run_or_fail(lambda: svc.prepay_loan(open_engine(), loan_id, _on(on),
                                               _money(amount, currency), key, full=full), as_json=as_json), as_json)


@loan_app.command("refund")
def refund_cmd(loan_id: Annotated[str, typer.Argument()],
               amount: Annotated[str, typer.Option(help="Major units, at most the suspense balance")], key: Key,
               on: OnOpt = None, currency: Annotated[str, typer.Option()] = "CNY", as_json: JsonOpt = False) -> None:
    """Pay money held in the loan's suspense (an overpayment) back to the borrower; closed loans too."""
    from lendstack.services import loans as svc

    _print(run_or_fail(lambda: svc.refund_loan(open_engine(), loan_id, _on(on),
                                               _money(amount, currency), key), as_json=as_json), as_json)


@loan_app.command("restructure")
def restructure_cmd(loan_id: Annotated[str, typer.Argument()], term: Annotated[int, typer.Option()], key: Key,
                    on: OnOpt = None, rate: Annotated[str | None, typer.Option()] = None,
                    as_json: JsonOpt = False) -> None:
    """Capitalise arrears and reschedule over a new term within the product's rules (history kept);
    the loan is at least 关注 through an observation period."""
    from lendstack.services import loans as svc

    _print(run_or_fail(lambda: svc.restructure_loan(open_engine(), loan_id, _on(on), term, key, rate),
                       as_json=as_json), as_json)


@loan_app.command("write-off")
def write_off_cmd(loan_id: Annotated[str, typer.Argument()], key: Key, on: OnOpt = None,
                  as_json: JsonOpt = False) -> None:
    """Write off what is still owed (核销), through the loan's loss allowance first."""
    from lendstack.services import loans as svc

    _print(run_or_fail(lambda: svc.write_off_loan(open_engine(), loan_id, _on(on), key),
                       as_json=as_json), as_json)


@loan_app.command("recover")
def recover_cmd(loan_id: Annotated[str, typer.Argument()],
                amount: Annotated[str, typer.Option(help="Major units collected, at most the open claim")], key: Key,
                on: OnOpt = None, currency: Annotated[str, typer.Option()] = "CNY", as_json: JsonOpt = False) -> None:
    """Book cash collected on a written-off loan (核销后收回), back through the loss allowance."""
    from lendstack.services import loans as svc

    _print(run_or_fail(lambda: svc.recover_loan(open_engine(), loan_id, _on(on), _money(amount, currency), key),
                       as_json=as_json), as_json)


@loan_app.command("reverse")
def reverse_cmd(loan_id: Annotated[str, typer.Argument()],
                entry: Annotated[str, typer.Option("--entry", help="The repayment's or prepayment's entry id")],
                key: Key, reason: Annotated[str, typer.Option(help="Why: bounced, misapplied, ...")],
                on: OnOpt = None, as_json: JsonOpt = False) -> None:
    """Reverse a repayment or prepayment (冲正), dated today: the loan is replayed without it and the
    differences for the days since are posted today; closed days are never rewritten."""
    from lendstack.services import loans as svc

    _print(run_or_fail(lambda: svc.reverse_loan_payment(open_engine(), loan_id, entry, _on(on), key, reason),
                       as_json=as_json), as_json)


@loan_app.command("show")
def show_cmd(loan_id: Annotated[str, typer.Argument()], as_json: JsonOpt = False) -> None:
    """A loan's state and its installments."""
    from lendstack.services import loans as svc

    loan = run_or_fail(lambda: svc.get_loan(open_engine(), loan_id), as_json=as_json)
    rows = [{"seq": i.seq, "due_date": i.due_date.isoformat(), "principal_minor": i.principal_minor,
             "interest_minor": i.interest_minor, "fee_minor": i.fee_minor,
             "principal_paid_minor": i.principal_paid_minor, "interest_paid_minor": i.interest_paid_minor,
             "fee_paid_minor": i.fee_paid_minor, "capitalized": i.capitalized} for i in loan.installments]
    data = {**svc.summary(loan), "accrued_through": str(loan.accrued_through), "installments": rows}
    if as_json:
        print_json(data)
        return
    _print({k: v for k, v in data.items() if k != "installments"}, False)
    c = loan.currency
    print_table(f"Installments of {loan_id}", ("seq", "due", "principal", "interest", "fee", "paid"),
                [(str(i.seq), i.due_date.isoformat(), format_minor(i.principal_minor, c),
                  format_minor(i.interest_minor, c), format_minor(i.fee_minor, c),
                  format_minor(i.principal_paid_minor + i.interest_paid_minor + i.fee_paid_minor, c))
                 for i in loan.installments], 2)
