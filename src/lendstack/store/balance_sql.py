"""The loan balances in SQL: one expression per `servicing.Loan` property, over the loans table.

`servicing/loan.py` keeps a loan's sub-ledger as counters and derives what is outstanding from them
(`Loan.principal_outstanding_minor`, `interest_receivable_minor`, ...). Queries that sum those
balances over many loans cannot load every loan, so they need the same arithmetic in SQL; it is
written here once, each function naming the property it mirrors, and
tests/store/test_balance_sql.py checks on SQLite and PostgreSQL, for random loans stored through
the repository, that every expression equals its property. The servicing domain stays free of
SQLAlchemy; this module is its SQL twin.

Each function takes the loans table (or an alias of it) and returns a column expression, so it
can be summed, grouped, labelled or compared like any column.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, FromClause, and_, case, func, literal, select

from lendstack.store.tables import installments, loans

INSTALLMENT_COMPONENTS = ("principal", "interest", "fee")  # what an installment bills (penalty is loan-level)


def principal_outstanding_minor(table: FromClause = loans) -> ColumnElement[Any]:
    """`Loan.principal_outstanding_minor`: disbursed + capitalised − repaid − written off."""
    c = table.c
    return (c.principal_disbursed_minor + c.principal_capitalized_minor - c.principal_repaid_minor
            - c.principal_written_off_minor)


def _receivable(table: FromClause, part: str, charged: str) -> ColumnElement[Any]:
    c = table.c
    return c[charged] - c[f"{part}_paid_minor"] - c[f"{part}_written_off_minor"] - c[f"{part}_capitalized_minor"]


def interest_receivable_minor(table: FromClause = loans) -> ColumnElement[Any]:
    """`Loan.interest_receivable_minor`: accrued − paid − written off − capitalised (contractual)."""
    return _receivable(table, "interest", "interest_accrued_minor")


def fee_receivable_minor(table: FromClause = loans) -> ColumnElement[Any]:
    """`Loan.fee_receivable_minor`: charged − paid − written off − capitalised."""
    return _receivable(table, "fee", "fee_charged_minor")


def penalty_receivable_minor(table: FromClause = loans) -> ColumnElement[Any]:
    """`Loan.penalty_receivable_minor`: accrued − paid − written off − capitalised (contractual)."""
    return _receivable(table, "penalty", "penalty_accrued_minor")


def interest_on_balance_minor(table: FromClause = loans) -> ColumnElement[Any]:
    """`Loan.interest_on_balance_minor`: the interest receivable on the balance sheet (1311), none
    in non-accrual."""
    return case((table.c.non_accrual.is_(False), interest_receivable_minor(table)), else_=0)


def interest_memo_minor(table: FromClause = loans) -> ColumnElement[Any]:
    """`Loan.interest_memo_minor`: interest carried off balance (9011), all of it in non-accrual."""
    return case((table.c.non_accrual.is_(False), 0), else_=interest_receivable_minor(table))


def penalty_on_balance_minor(table: FromClause = loans) -> ColumnElement[Any]:
    """`Loan.penalty_on_balance_minor`: the penalty receivable on the balance sheet, none in non-accrual."""
    return case((table.c.non_accrual.is_(False), penalty_receivable_minor(table)), else_=0)


def penalty_memo_minor(table: FromClause = loans) -> ColumnElement[Any]:
    """`Loan.penalty_memo_minor`: penalty carried off balance, all of it in non-accrual."""
    return case((table.c.non_accrual.is_(False), 0), else_=penalty_receivable_minor(table))


def written_off_minor(table: FromClause = loans) -> ColumnElement[Any]:
    """`Loan.written_off_minor`: principal, interest, fee and penalty written off."""
    c = table.c
    return (c.principal_written_off_minor + c.interest_written_off_minor + c.fee_written_off_minor
            + c.penalty_written_off_minor)


def claim_after_write_off_minor(table: FromClause = loans) -> ColumnElement[Any]:
    """`Loan.claim_after_write_off_minor`: written off less recovered (a claim still pursued, 9101)."""
    return written_off_minor(table) - table.c.recovered_minor


def installment_unpaid_minor(table: FromClause = installments) -> ColumnElement[Any]:
    """Σ `Installment.unpaid(part)` over principal, interest and fee: billed − paid, 0 once capitalised."""
    c = table.c
    billed = sum((c[f"{part}_minor"] - c[f"{part}_paid_minor"] for part in INSTALLMENT_COMPONENTS[1:]),
                 c.principal_minor - c.principal_paid_minor)
    return case((c.capitalized.is_(False), billed), else_=0)


def amount_due_minor(as_of: date, table: FromClause = loans) -> ColumnElement[Any]:
    """`servicing.balances.amount_due_minor(loan, as_of)`: what the installments due by `as_of`
    leave unpaid, plus the penalty receivable, less the suspense held; 0 when no installment due
    is unpaid (penalty alone is not a payment due), never negative."""
    i = installments
    unpaid = (select(func.coalesce(func.sum(installment_unpaid_minor(i)), literal(0)))
              .where(and_(i.c.loan_id == table.c.loan_id, i.c.due_date <= as_of))
              .scalar_subquery())
    owed = unpaid + penalty_receivable_minor(table) - table.c.suspense_minor
    return case((unpaid == 0, 0), (owed < 0, 0), else_=owed)
