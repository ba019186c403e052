"""The book as polars frames for the analytics of `lendstack.monitoring`, and the loss allowance
and provision reads of the month-end provision: every SQL statement of `services/monitoring.py`.

Frames are the analytics' input type (the pure functions of monitoring/ take them), so the
repository returns them rather than rows.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
from sqlalchemy import Connection, Select, and_, func, or_, select

from lendstack.ledger import AccountCode, EntryKind
from lendstack.monitoring.portfolio import INSTALLMENT_COLUMNS, LOAN_COLUMNS
from lendstack.store.naming_repo import loan_id_column
from lendstack.store.tables import installments, journal_entries, ledger_balances, loans, postings
from lendstack.store.tables_origination import applicants, applications

# Beyond what the pure analytics require: what makes exposure on-balance (non-accrual, unearned
# capitalised interest) and net charge-off (recoveries).
LOAN_EXTRA_COLUMNS = ("non_accrual", "unearned_minor", "recovered_minor")
# Repayments reduce these receivables; penalty is left out because installments carry no penalty.
# A loan in non-accrual pays its interest off the memo account (9011), not 1311: that counts too.
PAID_ACCOUNTS = (AccountCode.LOAN_PRINCIPAL, AccountCode.INTEREST_RECEIVABLE, AccountCode.FEE_RECEIVABLE,
                 AccountCode.MEMO_INTEREST)
PAYMENT_KINDS = (EntryKind.REPAY, EntryKind.PREPAY)

AllowanceKey = tuple[str, str, str]  # (currency, funder, loan), as risk.ecl.AllowanceKey


def reversed_entries() -> Select[Any]:
    """The ids of entries a reversal undid (a subquery, for `entry_id NOT IN (...)`)."""
    e = journal_entries.c
    return select(e.reverses_entry_id).where(e.kind == EntryKind.REVERSAL.value, e.reverses_entry_id != "")


def polars_type(name: str) -> Any:
    """The polars type of a loans/installments column read into a frame."""
    if name in ("disbursed_on", "due_date"):
        return pl.Date
    if name in ("capitalized", "non_accrual"):
        return pl.Boolean
    if name.endswith("_minor") or name in ("days_past_due", "restructure_count", "seq"):
        return pl.Int64
    return pl.String


class PortfolioRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def loans_frame(self) -> pl.DataFrame:
        """Every loan: the analytics' LOAN_COLUMNS and LOAN_EXTRA_COLUMNS."""
        names = (*LOAN_COLUMNS, *LOAN_EXTRA_COLUMNS)
        rows = self.connection.execute(select(*(loans.c[name] for name in names))).all()
        schema = {name: polars_type(name) for name in names}
        return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")

    def installments_frame(self) -> pl.DataFrame:
        rows = self.connection.execute(select(*(installments.c[name] for name in INSTALLMENT_COLUMNS))).all()
        schema = {name: polars_type(name) for name in INSTALLMENT_COLUMNS}
        return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")

    def payments_frame(self) -> pl.DataFrame:
        """Per loan and effective date: principal + interest + fee repaid (credits of REPAY/PREPAY).

        A prepayment bills its fee and takes it in the same entry, so the fee receivable nets to zero
        there and only the fee income credit shows it: that credit counts too. Without it a loan paid
        off early with a fee never covered its last installment and looked delinquent for ever after.
        A payment a reversal undid (冲正) never paid anything: it is left out."""
        p, e = postings.c, journal_entries.c
        receivable = and_(e.kind.in_([k.value for k in PAYMENT_KINDS]),
                          p.account_code.in_([a.value for a in PAID_ACCOUNTS]))
        prepayment_fee = and_(e.kind == EntryKind.PREPAY.value, p.account_code == AccountCode.FEE_INCOME.value)
        query = (
            select(p.loan_id, e.effective_date, -func.sum(p.amount_minor))
            .select_from(postings.join(journal_entries))
            .where(or_(receivable, prepayment_fee), p.amount_minor < 0, p.loan_id != "",
                   e.entry_id.not_in(reversed_entries()))
            .group_by(p.loan_id, e.effective_date)
        )
        rows = [(str(r[0]), r[1], int(r[2])) for r in self.connection.execute(query).all()]
        return pl.DataFrame(rows, schema={"loan_id": pl.String, "paid_on": pl.Date, "amount_minor": pl.Int64},
                            orient="row")

    def loan_origins_frame(self) -> pl.DataFrame:
        """Per loan booked from an application: the applicant's segment and region."""
        a, p = applications.c, applicants.c
        rows = self.connection.execute(select(loan_id_column(applications), p.segment, p.region)
                                       .select_from(applications.join(applicants,
                                                                      a.applicant_id == p.applicant_id))).all()
        data = [(str(r[0]), str(r[1]), str(r[2])) for r in rows]
        return pl.DataFrame(data, schema={"loan_id": pl.String, "segment": pl.String, "region": pl.String},
                            orient="row")

    def allowances(self, currencies: list[str], as_of: date | None = None) -> dict[str, int]:
        """The loss allowance per currency as a positive amount (1304 is a contra-asset: credit), over
        every loan's allowance and any book-level one; as of a day from the postings."""
        b = ledger_balances.c
        if as_of is None:
            query = (select(b.currency, func.sum(b.balance_minor))
                     .where(b.account_code == AccountCode.LOSS_ALLOWANCE.value).group_by(b.currency))
        else:
            p, e = postings.c, journal_entries.c
            query = (select(p.currency, func.sum(p.amount_minor)).select_from(postings.join(journal_entries))
                     .where(p.account_code == AccountCode.LOSS_ALLOWANCE.value, e.effective_date <= as_of)
                     .group_by(p.currency))
        found = {str(c): -int(v) for c, v in self.connection.execute(query).all()}
        return {c: found.get(c, 0) for c in currencies}

    def loan_allowances(self) -> dict[AllowanceKey, int]:
        """Every non-zero loss allowance by (currency, funder, loan) as a positive amount."""
        b = ledger_balances.c
        rows = self.connection.execute(
            select(b.currency, b.funder_id, b.loan_id, b.balance_minor)
            .where(b.account_code == AccountCode.LOSS_ALLOWANCE.value, b.balance_minor != 0)).all()
        return {(str(c), str(f), str(loan)): -int(v) for c, f, loan, v in rows}

    def ledger_by_currency(self, code: AccountCode) -> dict[str, int]:
        """The balance of one account per currency, summed over funders and loans (debit positive)."""
        b = ledger_balances.c
        query = (select(b.currency, func.sum(b.balance_minor)).where(b.account_code == code.value)
                 .group_by(b.currency))
        return {str(r[0]): int(r[1] or 0) for r in self.connection.execute(query)}

    def provisions_on(self, day: date) -> int:
        """The provision entries already dated `day`."""
        e = journal_entries.c
        return int(self.connection.execute(select(func.count()).select_from(journal_entries)
                                           .where(e.kind == EntryKind.PROVISION.value, e.effective_date == day))
                   .scalar_one())

    def last_provision_on(self) -> date | None:
        """The effective date of the latest provision entry, None before the first."""
        e = journal_entries.c
        last = self.connection.execute(select(func.max(e.effective_date))
                                       .where(e.kind == EntryKind.PROVISION.value)).scalar()
        return last if isinstance(last, date) else None
