"""Every SQL statement of collections: `CollectionsRepository` over one connection (the caller's unit of
work or a read-only connection). Methods take and return values (`collections/records.py`,
`collections/planning.py`), never rows.

The daily run is set-based: each read takes a list of ids and runs one query per IN_CHUNK of them; each
write takes a list of values and runs one executemany per set of columns. The run's cost grows with
the book, not with statements per loan.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection, Table, and_, bindparam, func, insert, select, update

from lendstack.collections.domain import LANGUAGES
from lendstack.collections.planning import (
    CaseClosing,
    CaseEscalation,
    CaseUpdate,
    PromiseEvaluation,
)
from lendstack.collections.records import (
    Case,
    CollectorAccount,
    Contact,
    HistoryEntry,
    InstallmentAmounts,
    LoanBalances,
    PromiseToPay,
    SentMessage,
    columns_of,
)
from lendstack.invariants import check
from lendstack.ledger import AccountCode, EntryKind
from lendstack.servicing.loan import LIVE_STATUSES
from lendstack.store.naming_repo import LoanNamingRepository, loan_id_column
from lendstack.store.tables import installments, journal_entries, loans, postings
from lendstack.store.tables_collections import (
    collection_cases,
    collection_contacts,
    collection_history,
    collection_messages,
    collection_promises,
)
from lendstack.store.tables_decisioning import decisions
from lendstack.store.tables_monitoring import ew_alerts
from lendstack.store.tables_origination import applicants, applications
from lendstack.store.tables_staff import staff_users

IN_CHUNK = 500  # ids per IN (...) list: well under every backend's parameter limit
CASH = AccountCode.SETTLEMENT_CASH.value
CASH_KINDS = (EntryKind.REPAY.value, EntryKind.PREPAY.value)
ALERT_SEVERITIES = ("high", "critical")  # the early-warning alerts the roll model counts
_BALANCE_COLUMNS = tuple(f for f in LoanBalances.__dataclass_fields__)
_INSTALLMENT_COLUMNS = tuple(f for f in InstallmentAmounts.__dataclass_fields__)


def _chunks(ids: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), IN_CHUNK):
        yield list(ids[start:start + IN_CHUNK])


# Rows become records positionally: each query selects exactly the record's columns in its field order
# (the whole table for a stored record; tests/collections/test_repository.py checks the orders agree).
# A row's _mapping is built anew on every access, which the daily run cannot afford per row.


def _case(row: Any) -> Case:
    return Case(*row)


def _promise(row: Any) -> PromiseToPay:
    return PromiseToPay(*row)


def _balances(row: Any) -> LoanBalances:
    return LoanBalances(*row)


def _installment(row: Any) -> InstallmentAmounts:
    return InstallmentAmounts(*row[:len(_INSTALLMENT_COLUMNS)])


class CollectionsRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    # ----------------------------------------------------------------------- the book, as the run reads it

    def overdue_loans(self) -> list[LoanBalances]:
        """Loans end of day left overdue, in loan-id order."""
        query = (select(*(loans.c[k] for k in _BALANCE_COLUMNS))
                 .where(loans.c.status == "overdue", loans.c.days_past_due > 0).order_by(loans.c.loan_id))
        return [_balances(r) for r in self.connection.execute(query)]

    def loan_balances(self, loan_id: str) -> LoanBalances:
        query = select(*(loans.c[k] for k in _BALANCE_COLUMNS)).where(loans.c.loan_id == loan_id)
        return _balances(self.connection.execute(query).one())

    def loan_statuses(self, loan_ids: Sequence[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for chunk in _chunks(loan_ids):
            query = select(loans.c.loan_id, loans.c.status).where(loans.c.loan_id.in_(chunk))
            out.update({str(r.loan_id): str(r.status) for r in self.connection.execute(query)})
        return out

    def installments(self, loan_ids: Sequence[str]) -> dict[str, list[InstallmentAmounts]]:
        """Each loan's installments in schedule order."""
        out: dict[str, list[InstallmentAmounts]] = defaultdict(list)
        i = installments.c
        for chunk in _chunks(loan_ids):
            query = (select(*(i[k] for k in _INSTALLMENT_COLUMNS)).where(i.loan_id.in_(chunk))
                     .order_by(i.loan_id, i.seq))
            for r in self.connection.execute(query):
                out[r.loan_id].append(_installment(r))
        return out

    def installments_due_on(self, days: Sequence[date]) -> list[tuple[InstallmentAmounts, str]]:
        """Installments of loans in good standing (active) falling due on one of these days, with the
        loan's currency, in (loan, seq) order."""
        i = installments.c
        query = (select(*(i[k] for k in _INSTALLMENT_COLUMNS), loans.c.currency)
                 .join(loans, loans.c.loan_id == i.loan_id)
                 .where(loans.c.status == "active", i.due_date.in_(list(days)))
                 .order_by(i.loan_id, i.seq))
        return [(_installment(r), str(r.currency)) for r in self.connection.execute(query)]

    def cash_received(self, loan_ids: Sequence[str], since: date) -> dict[str, list[tuple[date, int]]]:
        """Cash each loan received (repayments and prepayments, the debit to settlement cash) from `since`,
        per day."""
        out: dict[str, list[tuple[date, int]]] = defaultdict(list)
        e, p = journal_entries, postings
        for chunk in _chunks(loan_ids):
            query = (select(e.c.loan_id, e.c.effective_date, func.sum(p.c.amount_minor).label("cash"))
                     .join(p, p.c.entry_id == e.c.entry_id)
                     .where(e.c.loan_id.in_(chunk), e.c.kind.in_(CASH_KINDS), e.c.effective_date >= since,
                            p.c.account_code == CASH, p.c.amount_minor > 0)
                     .group_by(e.c.loan_id, e.c.effective_date))
            for r in self.connection.execute(query):
                out[r.loan_id].append((r.effective_date, int(r.cash)))
        return out

    def origination_pd(self, loan_ids: Sequence[str]) -> dict[str, Decimal]:
        """The PD of the acting decision of loans booked from an application (store.naming_repo)."""
        booked_from = LoanNamingRepository(self.connection).applications_of(loan_ids)
        by_app = {app: loan_id for loan_id, app in booked_from.items()}
        out: dict[str, Decimal] = {}
        for chunk in _chunks(list(by_app)):
            query = select(decisions.c.application_id, decisions.c.pd).where(
                decisions.c.application_id.in_(chunk), decisions.c.acting.is_(True))
            for r in self.connection.execute(query):
                try:
                    out[by_app[r.application_id]] = Decimal(r.pd)
                except InvalidOperation:
                    continue  # a decision without a numeric PD (e.g. a knockout) says nothing about risk
        return out

    def open_alert_counts(self, loan_ids: Sequence[str]) -> dict[str, int]:
        """Open early-warning alerts of severity high or critical, per loan (loans with none are absent)."""
        out: dict[str, int] = {}
        for chunk in _chunks(loan_ids):
            query = (select(ew_alerts.c.loan_id, func.count().label("n"))
                     .where(ew_alerts.c.loan_id.in_(chunk), ew_alerts.c.status != "closed",
                            ew_alerts.c.severity.in_(ALERT_SEVERITIES))
                     .group_by(ew_alerts.c.loan_id))
            out.update({r.loan_id: int(r.n) for r in self.connection.execute(query)})
        return out

    def borrower_languages(self) -> dict[str, str]:
        """Live loans whose borrower stated a language (applicants.language), loan id → "en" | "zh-CN".
        Loans not listed get the strategy's default_language. Only stated languages are held, so the map
        is at most the live book."""
        a, app = applicants.c, applications.c
        query = (select(loans.c.loan_id, a.language)
                 .join(applications, loans.c.loan_id == loan_id_column(applications))
                 .join(applicants, a.applicant_id == app.applicant_id)
                 .where(a.language != "", loans.c.status.in_([s.value for s in LIVE_STATUSES])))
        found = {str(loan_id): str(language) for loan_id, language in self.connection.execute(query)}
        check(set(found.values()) <= set(LANGUAGES), "applicants.language holds only en, zh-CN or ''")
        return found

    # ----------------------------------------------------------------------- cases

    def case(self, case_id: str, *, for_update: bool = False) -> Case | None:
        """One case; `for_update` locks it (PostgreSQL) so that two collectors acting at once cannot both
        pass the checks."""
        query = select(collection_cases).where(collection_cases.c.case_id == case_id)
        if for_update and self.connection.dialect.name == "postgresql":
            query = query.with_for_update()
        row = self.connection.execute(query).first()
        return _case(row) if row is not None else None

    def open_cases(self) -> list[Case]:
        c = collection_cases.c
        return [_case(r) for r in self.connection.execute(select(collection_cases).where(c.status == "open"))]

    def open_cases_of(self, loan_ids: Sequence[str]) -> dict[str, Case]:
        """loan id → its open case, for the loans that have one."""
        c = collection_cases.c
        query = select(collection_cases).where(c.status == "open", c.loan_id.in_(list(loan_ids)))
        return {r.loan_id: _case(r) for r in self.connection.execute(query)}

    def unassigned_open_cases(self) -> list[Case]:
        c = collection_cases.c
        query = select(collection_cases).where(c.status == "open", c.collector == "")
        return [_case(r) for r in self.connection.execute(query)]

    def queue(self, *, collector: str | None = None, unassigned: bool = False) -> list[Case]:
        """Open cases (unordered: the queue order is domain.queue_order), optionally one collector's or the
        unassigned ones."""
        c = collection_cases.c
        query = select(collection_cases).where(c.status == "open")
        if collector is not None:
            query = query.where(c.collector == collector)
        if unassigned:
            query = query.where(c.collector == "")
        return [_case(r) for r in self.connection.execute(query)]

    def cases(self, *, status: str | None, loan_id: str | None, limit: int) -> list[Case]:
        """Cases, newest first."""
        c = collection_cases.c
        query = select(collection_cases).order_by(c.opened_on.desc(), c.case_id)
        if status is not None:
            query = query.where(c.status == status)
        if loan_id is not None:
            query = query.where(c.loan_id == loan_id)
        return [_case(r) for r in self.connection.execute(query.limit(limit))]

    def insert_cases(self, cases: Sequence[Case]) -> None:
        if cases:
            self.connection.execute(insert(collection_cases), [columns_of(c) for c in cases])

    def update_cases(self, updates: Sequence[CaseUpdate]) -> None:
        self._update_many(collection_cases, "case_id", [{"case_id": u.case_id, **u.columns()} for u in updates])

    def escalate(self, escalations: Sequence[CaseEscalation]) -> None:
        self._update_many(collection_cases, "case_id", [
            {"case_id": e.case_id, "escalated": True, "broken_promises": e.broken_promises,
             "next_action": "escalate", "updated_at": e.updated_at} for e in escalations])

    def close_cases(self, closings: Sequence[CaseClosing]) -> None:
        """Close the cases and cancel their still-pending promises."""
        if not closings:
            return
        self._update_many(collection_cases, "case_id", [
            {"case_id": c.case_id, "status": "closed", "closed_on": c.as_of, "close_reason": c.close_reason,
             "next_action": "", "as_of": c.as_of, "updated_at": c.updated_at} for c in closings])
        p = collection_promises.c
        self.connection.execute(
            update(collection_promises).where(p.case_id == bindparam("b_case_id"), p.status == "pending")
            .values(status="cancelled", evaluated_on=bindparam("b_evaluated_on")),
            [{"b_case_id": c.case_id, "b_evaluated_on": c.as_of} for c in closings])

    def assign(self, case_id: str, collector: str, at: datetime) -> None:
        self.connection.execute(update(collection_cases).where(collection_cases.c.case_id == case_id)
                                .values(collector=collector, assigned_at=at, updated_at=at))

    def set_next_action(self, case_id: str, next_action: str, at: datetime) -> None:
        self.connection.execute(update(collection_cases).where(collection_cases.c.case_id == case_id)
                                .values(next_action=next_action, updated_at=at))

    def open_load(self, collectors: Sequence[str]) -> dict[str, int]:
        """Open cases per collector (collectors with none are absent)."""
        c = collection_cases.c
        rows = self.connection.execute(select(c.collector, func.count().label("n")).where(
            c.status == "open", c.collector.in_(list(collectors))).group_by(c.collector))
        return {r.collector: int(r.n) for r in rows}

    def collector_accounts(self, names: Sequence[str]) -> dict[str, CollectorAccount]:
        """The staff users of these names that exist: their role and whether they are enabled."""
        u = staff_users.c
        rows = self.connection.execute(select(u.username, u.role, u.disabled_at).where(u.username.in_(list(names))))
        return {r.username: CollectorAccount(r.username, r.role, r.disabled_at is None) for r in rows}

    # ----------------------------------------------------------------------- promises

    def pending_promises(self, case_ids: Sequence[str]) -> list[PromiseToPay]:
        """Pending promises of these cases, in (loan, promise id) order."""
        p = collection_promises
        out: list[PromiseToPay] = []
        for chunk in _chunks(case_ids):
            query = (select(p).where(p.c.status == "pending", p.c.case_id.in_(chunk))
                     .order_by(p.c.loan_id, p.c.promise_id))
            out += [_promise(r) for r in self.connection.execute(query)]
        out.sort(key=lambda r: (r.loan_id, r.promise_id))
        return out

    def pending_promise_of(self, case_id: str) -> PromiseToPay | None:
        p = collection_promises.c
        row = self.connection.execute(select(collection_promises).where(
            p.case_id == case_id, p.status == "pending")).first()
        return _promise(row) if row is not None else None

    def cases_holding(self, loan_ids: Sequence[str]) -> set[str]:
        """Cases of these loans with a promise pending (the run holds their dunning)."""
        p = collection_promises.c
        query = select(p.case_id).where(p.status == "pending", p.loan_id.in_(list(loan_ids)))
        return {str(case_id) for case_id in self.connection.execute(query).scalars()}

    def add_promise(self, promise: PromiseToPay) -> None:
        self.connection.execute(insert(collection_promises).values(**columns_of(promise)))

    def record_evaluations(self, evaluations: Sequence[PromiseEvaluation]) -> None:
        self._update_many(collection_promises, "promise_id", [
            {"promise_id": e.promise_id, "status": e.status, "paid_minor": e.paid_minor,
             "evaluated_on": e.evaluated_on} for e in evaluations])

    # ----------------------------------------------------------------------- contacts, history, messages

    def add_contact(self, contact: Contact) -> None:
        check(contact.id is None, "a contact is stored once; the database numbers it")
        values = columns_of(contact)
        del values["id"]
        self.connection.execute(insert(collection_contacts).values(**values))

    def add_history(self, entries: Sequence[HistoryEntry]) -> None:
        check(all(e.id is None for e in entries), "history is appended; the database numbers it")
        if entries:
            rows = [{k: v for k, v in columns_of(e).items() if k != "id"} for e in entries]
            self.connection.execute(insert(collection_history), rows)

    def add_messages(self, messages: Sequence[SentMessage]) -> None:
        if messages:
            self.connection.execute(insert(collection_messages), [columns_of(m) for m in messages])

    def stored_message_ids(self, message_ids: Sequence[str]) -> set[str]:
        """Which of these message ids are stored already: one query per IN chunk."""
        m = collection_messages.c
        out: set[str] = set()
        for chunk in _chunks(message_ids):
            out.update(self.connection.execute(select(m.message_id).where(m.message_id.in_(chunk))).scalars())
        return out

    def contacts(self, case_id: str) -> list[Contact]:
        c = collection_contacts.c
        query = select(collection_contacts).where(c.case_id == case_id).order_by(c.contacted_at, c.id)
        return [Contact(*r) for r in self.connection.execute(query)]

    def promises(self, case_id: str) -> list[PromiseToPay]:
        p = collection_promises.c
        query = select(collection_promises).where(p.case_id == case_id).order_by(p.made_on, p.created_at)
        return [_promise(r) for r in self.connection.execute(query)]

    def messages_of_case(self, case_id: str) -> list[SentMessage]:
        m = collection_messages.c
        query = select(collection_messages).where(m.case_id == case_id).order_by(m.as_of, m.message_id)
        return [SentMessage(*r) for r in self.connection.execute(query)]

    def history(self, case_id: str) -> list[HistoryEntry]:
        h = collection_history.c
        query = select(collection_history).where(h.case_id == case_id).order_by(h.id)
        return [HistoryEntry(*r) for r in self.connection.execute(query)]

    def messages(self, *, loan_id: str | None, as_of: date | None, limit: int) -> list[SentMessage]:
        """Messages sent, newest day first."""
        m = collection_messages.c
        query = select(collection_messages).order_by(m.as_of.desc(), m.message_id)
        conditions = [cond for cond in (m.loan_id == loan_id if loan_id else None,
                                        m.as_of == as_of if as_of else None) if cond is not None]
        if conditions:
            query = query.where(and_(*conditions))
        return [SentMessage(*r) for r in self.connection.execute(query.limit(limit))]

    # ----------------------------------------------------------------------- bulk updates

    def _update_many(self, table: Table, key: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """UPDATE table SET <the rows' other keys> WHERE key = row[key], one executemany per set of columns."""
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            groups[tuple(sorted(row))].append({(f"b_{k}" if k == key else k): v for k, v in row.items()})
        for columns, params in groups.items():
            statement = update(table).where(table.c[key] == bindparam(f"b_{key}"))
            statement = statement.values({c: bindparam(c) for c in columns if c != key})
            self.connection.execute(statement, params)
