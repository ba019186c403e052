"""Loan-level reconciliation: every loan's stored counters against its sub-ledger, in SQL.

`servicing.loan.expected_balances` says what the ledger must hold for a loan on its sub-ledger
accounts (principal, interest, fee, penalty, suspense, unearned and the memo accounts). The same
formulas are written here over the loans table, so a whole book is checked in two grouped scans
(a test holds this SQL to the domain's function on random loans): loans whose stored balances differ
from their counters, and sub-ledger balances of loans that do not exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Connection, and_, case, cast, func, literal, or_, select

from lendstack.ledger import AccountCode
from lendstack.servicing.loan import SUBLEDGER_CODES, LoanStatus
from lendstack.store import balance_sql
from lendstack.store.tables import ledger_balances, loans

MISMATCHES_MAX = 1_000  # a report, not a dump: the count says how many more there are
A = AccountCode


@dataclass(frozen=True, slots=True)
class LoanReconciliation:
    loans_checked: int
    loans_differing: int
    orphan_balances: int  # sub-ledger balances whose loan id is not a loan
    differences: tuple[dict[str, Any], ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.loans_differing == 0 and self.orphan_balances == 0


def expected_columns() -> dict[AccountCode, ColumnElement[Any]]:
    """Per loan, the debit-positive balance each sub-ledger account must have (SQL twin of
    servicing.loan.expected_balances)."""
    c = loans.c
    # The balances are the Loan properties' SQL twins (store/balance_sql.py), as expected_balances uses them.
    claim = case((c.status == LoanStatus.WRITTEN_OFF.value, balance_sql.claim_after_write_off_minor()), else_=0)
    interest_memo, penalty_memo = balance_sql.interest_memo_minor(), balance_sql.penalty_memo_minor()
    out: dict[AccountCode, ColumnElement[Any]] = {
        A.LOAN_PRINCIPAL: balance_sql.principal_outstanding_minor(),
        A.INTEREST_RECEIVABLE: balance_sql.interest_on_balance_minor(),
        A.FEE_RECEIVABLE: balance_sql.fee_receivable_minor(),
        A.PENALTY_RECEIVABLE: balance_sql.penalty_on_balance_minor(),
        A.SUSPENSE: -c.suspense_minor,
        A.UNEARNED_CAPITALISED: -c.unearned_minor,
        A.MEMO_INTEREST: interest_memo,
        A.MEMO_PENALTY: penalty_memo,
        A.MEMO_WRITTEN_OFF: claim,
        A.MEMO_CONTRA: -(interest_memo + penalty_memo + claim),
    }
    assert set(out) == set(SUBLEDGER_CODES)
    return out


def _ledger_side() -> Any:
    """Per loan, the stored balance of each sub-ledger account (0 when it has none)."""
    b = ledger_balances.c
    pivots = [func.sum(case((b.account_code == code.value, b.balance_minor), else_=0)).label(f"b{code.value}")
              for code in SUBLEDGER_CODES]
    return (select(b.loan_id, *pivots)
            .where(b.loan_id != "", b.account_code.in_([code.value for code in SUBLEDGER_CODES]))
            .group_by(b.loan_id).subquery("stored"))


def reconcile_loans(conn: Connection, mismatches_max: int = MISMATCHES_MAX) -> LoanReconciliation:
    """Every loan against its sub-ledger; the first `mismatches_max` differences in detail."""
    assert 0 <= mismatches_max <= MISMATCHES_MAX
    stored = _ledger_side()
    wanted = expected_columns()
    pairs = [(code, cast(expr, BigInteger), func.coalesce(stored.c[f"b{code.value}"], literal(0)))
             for code, expr in wanted.items()]
    differs = or_(*(exp != got for _code, exp, got in pairs))
    joined = loans.outerjoin(stored, stored.c.loan_id == loans.c.loan_id)
    checked = int(conn.execute(select(func.count()).select_from(loans)).scalar_one())
    differing = int(conn.execute(select(func.count()).select_from(joined).where(differs)).scalar_one())
    rows = conn.execute(
        select(loans.c.loan_id, *(e.label(f"e{code.value}") for code, e, _g in pairs),
               *(g.label(f"g{code.value}") for code, _e, g in pairs))
        .select_from(joined).where(differs).order_by(loans.c.loan_id).limit(mismatches_max)).all()
    orphans = int(conn.execute(
        select(func.count()).select_from(stored.outerjoin(loans, loans.c.loan_id == stored.c.loan_id))
        .where(and_(loans.c.loan_id.is_(None), or_(*(stored.c[f"b{c.value}"] != 0 for c in SUBLEDGER_CODES))))
    ).scalar_one())
    return LoanReconciliation(checked, differing, orphans, tuple(_difference(r._mapping) for r in rows))


def _difference(row: Mapping[Any, Any]) -> dict[str, Any]:
    accounts = {code.value: {"loan_minor": int(row[f"e{code.value}"]), "ledger_minor": int(row[f"g{code.value}"])}
                for code in SUBLEDGER_CODES if int(row[f"e{code.value}"]) != int(row[f"g{code.value}"])}
    return {"loan_id": str(row["loan_id"]), "accounts": accounts}
