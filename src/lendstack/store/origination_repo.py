"""Applications, their snapshots and the blacklist in the database; `SqlFraudContext` for the fraud checks.

The repositories write on the caller's connection and never commit: a `UnitOfWork` makes one
submission (applicant + application + first status) a single transaction, so nothing is half-stored.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, insert, select, update

from lendstack.fraud import BlacklistEntry
from lendstack.invariants import check
from lendstack.origination import (
    Application,
    ApplicationError,
    DataBundle,
    Snapshot,
    application_document,
    parse_application,
)
from lendstack.origination.status import check_transition
from lendstack.store.tables_origination import (
    IDENTIFIER_COLUMNS,
    applicants,
    application_snapshots,
    application_status_history,
    applications,
    blacklist_entries,
)

_FAR_FUTURE = date(9999, 12, 31)  # stored documents were checked against 'today' when submitted


@dataclass(frozen=True, slots=True)
class StoredApplication:
    application: Application
    status: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class StatusChange:
    status: str
    reason: str
    changed_at: datetime


@dataclass(frozen=True, slots=True)
class ApplicationListing:
    """One line of a listing of applications, under the id its reader knows it by (a partner: its reference)."""

    application_id: str
    status: str
    product_id: str
    partner_id: str
    applied_on: date
    currency: str
    requested_amount_minor: int
    requested_term_months: int

    def to_json(self, *, term: bool = False) -> dict[str, Any]:
        """The listing's fields in the API's order (dates as dates: the caller encodes them)."""
        shown: dict[str, Any] = {"application_id": self.application_id, "status": self.status,
                                 "product_id": self.product_id, "partner_id": self.partner_id,
                                 "applied_on": self.applied_on, "currency": self.currency,
                                 "requested_amount_minor": self.requested_amount_minor}
        if term:
            shown["requested_term_months"] = self.requested_term_months
        return shown


@dataclass(frozen=True, slots=True)
class ApplicantRecord:
    applicant_id: str  # the book's id
    applicant_type: str
    segment: str
    region: str
    created_at: datetime


PAGE_LIMIT_MAX = 1_000  # rows per listing page; the API asks for at most 201


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


# The statements of every submission, built once (values go in as parameters): building and
# hashing a statement per call cost more than running it.
_a = applications.c
_EXISTS = select(func.count()).select_from(applications).where(_a.application_id == bindparam("application_id"))
_STATUS = select(_a.status).where(_a.application_id == bindparam("application_id"))
_SET_STATUS = (update(applications).where(_a.application_id == bindparam("id"), _a.status == bindparam("from_status"))
               .values(status=bindparam("status"), updated_at=bindparam("at")))
_APPLICANT = select(applicants.c.applicant_id).where(applicants.c.applicant_id == bindparam("applicant_id"))
_BY_REFERENCE = select(_a.application_id).where(_a.partner_id == bindparam("partner_id"),
                                                _a.reference == bindparam("reference"))
_APPLICANT_BY_REFERENCE = select(applicants.c.applicant_id).where(
    applicants.c.partner_id == bindparam("partner_id"), applicants.c.reference == bindparam("reference"))
_LOAN_OF = select(_a.loan_id).where(_a.application_id == bindparam("application_id"))
_CLAIM_LOAN = (update(applications).where(_a.application_id == bindparam("id"), _a.loan_id == "")
               .values(loan_id=bindparam("loan_id")))
ID_LENGTH_MAX = 64  # the document's Id bound: a book id made here is re-read through parse_application
_DERIVED_PREFIX_CHARS = 27  # the partner's id shortened, kept for people reading the console; + "." + 36 hex
_INSERT_APPLICANT = insert(applicants)
_INSERT_APPLICATION = insert(applications)
_INSERT_HISTORY = insert(application_status_history)
_INSERT_SNAPSHOTS = insert(application_snapshots)


class ApplicationRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def add(self, application: Application, *, now: datetime | None = None) -> None:
        """Store a new application as "received" (and its applicant when first seen)."""
        at = _now(now)
        reference = application.reference or application.application_id  # what the caller named it
        if self._exists(application.application_id):
            raise ApplicationError("application_id", f"{reference!r} already exists")
        # A partner's scoped ids were chosen free in this transaction; staff naming a partner's id may clash.
        unscoped = not application.reference and application.partner_id
        if unscoped and self.find(application.partner_id, reference) is not None:
            raise ApplicationError("application_id", f"{reference!r} already exists for partner "
                                                     f"{application.partner_id!r}")
        self._ensure_applicant(application, at)
        self.connection.execute(_INSERT_APPLICATION, self._row(application, at))
        self._log(application.application_id, "received", "submitted", at)

    def submit(
        self, document: dict[str, Any], *, today: date | None = None, now: datetime | None = None
    ) -> Application:
        """Parse then add: a bad document raises `ApplicationError` before anything is written."""
        application = parse_application(document, today=today)
        self.add(application, now=now)
        return application

    def get(self, application_id: str) -> StoredApplication | None:
        query = select(applications.c.document, applications.c.status, applications.c.created_at,
                       applications.c.updated_at).where(applications.c.application_id == application_id)  # fmt: skip
        row = self.connection.execute(query).first()
        if row is None:
            return None
        application = parse_application(row.document, today=_FAR_FUTURE)
        return StoredApplication(application, row.status, row.created_at, row.updated_at)

    def exists(self, application_id: str) -> bool:
        return self._exists(application_id)

    def find(self, partner_id: str, reference: str) -> str | None:
        """The book's id of the application `partner_id` names `reference` ('' partner: staff's own)."""
        found = self.connection.execute(_BY_REFERENCE, {"partner_id": partner_id, "reference": reference})
        return found.scalar_one_or_none()

    def find_applicant(self, partner_id: str, reference: str) -> str | None:
        """The book's id of the applicant `partner_id` names `reference`."""
        found = self.connection.execute(_APPLICANT_BY_REFERENCE, {"partner_id": partner_id, "reference": reference})
        return found.scalar_one_or_none()

    def scoped_ids(self, partner_id: str, application_ref: str, applicant_ref: str) -> tuple[str, str]:
        """The book's ids for a partner's (application, applicant) references: the records this partner
        already has under them, else the reference itself when no record anywhere uses it as its id,
        else an id derived from (partner, reference). Whichever it is, the partner's answers are the
        same (the API shows it its own references), so nothing tells it another partner's ids."""
        assert partner_id, "staff ids are the book's ids: only a partner's are scoped"
        application_id = self.find(partner_id, application_ref)
        if application_id is None:
            application_id = self._free_id("application", partner_id, application_ref, self._exists)
        applicant_id = self.find_applicant(partner_id, applicant_ref)
        if applicant_id is None:
            applicant_id = self._free_id("applicant", partner_id, applicant_ref, self._applicant_exists)
        return application_id, applicant_id

    @staticmethod
    def _free_id(kind: str, partner_id: str, reference: str, taken: Callable[[str], bool]) -> str:
        # The derived id is deterministic (a retry finds the same one); anyone can compute it, so one
        # already used (a partner submitted it as its own id) gives way to a random one.
        for candidate in (reference, derived_id(kind, partner_id, reference)):
            if not taken(candidate):
                return candidate
        return derived_id(kind, partner_id, reference, salt=secrets.token_hex(16))

    def _applicant_exists(self, applicant_id: str) -> bool:
        return self.connection.execute(_APPLICANT, {"applicant_id": applicant_id}).first() is not None

    def loan_id(self, application_id: str) -> str:
        """The loan the application's accepted offer booked ('' when none yet)."""
        return str(self.connection.execute(_LOAN_OF, {"application_id": application_id}).scalar_one_or_none() or "")

    def claim_loan_id(self, application_id: str, candidate: str) -> str:
        """The application's loan id: `candidate` if it had none, else the one it already has. The update
        only applies while the id is '' (a concurrent accept waits on the row, then keeps the first)."""
        assert candidate, "a loan id is never empty"
        self.connection.execute(_CLAIM_LOAN, {"id": application_id, "loan_id": candidate})
        loan_id = self.loan_id(application_id)
        assert loan_id, f"no application {application_id!r} to book a loan for"
        return loan_id

    def status_of(self, application_id: str) -> str:
        status = self.connection.execute(_STATUS, {"application_id": application_id}).scalar_one_or_none()
        if status is None:
            raise ApplicationError("application_id", f"no application {application_id!r}")
        return str(status)

    def set_status(self, application_id: str, status: str, *, reason: str = "", now: datetime | None = None,
                   current: str | None = None) -> None:
        """Move the application along its lifecycle; an illegal move raises `StatusError` and changes nothing.

        A caller that knows the current status (it just wrote it) passes `current` and saves the read;
        the update then only applies from that status, and anything else is a broken invariant."""
        at = _now(now)
        known = current if current is not None else self.status_of(application_id)
        check_transition(application_id, known, status)
        updated = self.connection.execute(_SET_STATUS, {"id": application_id, "status": status, "at": at,
                                                        "from_status": known})
        assert updated.rowcount == 1, f"{application_id!r} was not in status {known!r}"
        self._log(application_id, status, reason, at)

    def status_or_none(self, application_id: str) -> str | None:
        status = self.connection.execute(_STATUS, {"application_id": application_id}).scalar_one_or_none()
        return None if status is None else str(status)

    def history(self, application_id: str) -> list[StatusChange]:
        h = application_status_history.c
        query = select(h.status, h.reason, h.changed_at).where(h.application_id == application_id).order_by(h.id)
        return [StatusChange(r.status, r.reason, r.changed_at) for r in self.connection.execute(query)]

    def owned(self, partner_id: str, application_id: str) -> tuple[str, str] | None:
        """(the book's id, the partner id) of the application its reader names `application_id`: a
        partner ('' = staff) names its own by reference, staff by the book's id. None when there is none."""
        c = applications.c
        query = select(c.application_id, c.partner_id)
        if partner_id:
            query = query.where(c.partner_id == partner_id, c.reference == application_id)
        else:
            query = query.where(c.application_id == application_id)
        row = self.connection.execute(query).first()
        return None if row is None else (str(row.application_id), str(row.partner_id))

    def partner_of(self, application_id: str) -> str | None:
        """The partner that brought the application ('' for staff's own; None when there is none)."""
        found = self.connection.execute(select(_a.partner_id).where(_a.application_id == application_id))
        partner = found.scalar_one_or_none()
        return None if partner is None else str(partner)

    def page(self, partner_id: str, status: str | None, limit: int, offset: int) -> list[ApplicationListing]:
        """A page of applications ordered by the reader's ids: the book's ('' partner), or one partner's
        under its references."""
        c = applications.c
        shown = c.reference if partner_id else c.application_id
        query = self._listing(shown).order_by(shown)
        if partner_id:
            query = query.where(c.partner_id == partner_id)
        return self._listed(query, status, limit, offset)

    def applicant(self, partner_id: str, applicant_id: str) -> ApplicantRecord | None:
        """The applicant its reader names `applicant_id` (a partner by its reference, staff by the book's id)."""
        a = applicants.c
        query = select(a.applicant_id, a.applicant_type, a.segment, a.region, a.created_at)
        if partner_id:
            query = query.where(a.partner_id == partner_id, a.reference == applicant_id)
        else:
            query = query.where(a.applicant_id == applicant_id)
        row = self.connection.execute(query).first()
        if row is None:
            return None
        return ApplicantRecord(str(row.applicant_id), row.applicant_type, row.segment, row.region, row.created_at)

    def applicant_page(self, applicant_id: str, partner_id: str, status: str | None, limit: int,
                       offset: int) -> list[ApplicationListing]:
        """A page of one applicant's (book id) applications, newest first; a partner sees only its own."""
        c = applications.c
        shown = c.reference if partner_id else c.application_id
        query = self._listing(shown).where(c.applicant_id == applicant_id).order_by(c.applied_on.desc(), shown)
        if partner_id:
            query = query.where(c.partner_id == partner_id)
        return self._listed(query, status, limit, offset)

    @staticmethod
    def _listing(shown: Any) -> Any:
        c = applications.c
        return select(shown.label("application_id"), c.status, c.product_id, c.partner_id, c.applied_on, c.currency,
                      c.requested_amount_minor, c.requested_term_months)

    def _listed(self, query: Any, status: str | None, limit: int, offset: int) -> list[ApplicationListing]:
        check(1 <= limit <= PAGE_LIMIT_MAX and offset >= 0, "a bounded page")
        if status is not None:
            query = query.where(applications.c.status == status)
        rows = self.connection.execute(query.limit(limit).offset(offset))
        return [ApplicationListing(r.application_id, r.status, r.product_id, r.partner_id, r.applied_on, r.currency,
                                   r.requested_amount_minor, r.requested_term_months) for r in rows]

    def save_snapshots(self, application_id: str, bundle: DataBundle) -> None:
        # The application must exist: the foreign key on application_id refuses a snapshot without one.
        rows = [_snapshot_row(application_id, snap) for snap in bundle.snapshots.values()]
        if rows:
            self.connection.execute(_INSERT_SNAPSHOTS, rows)  # one executemany for every source

    def snapshots(self, application_id: str) -> DataBundle:
        """The latest snapshot per source, as saved."""
        s = application_snapshots.c
        query = select(application_snapshots).where(s.application_id == application_id).order_by(s.id)
        latest = {row.source: _snapshot(row) for row in self.connection.execute(query)}
        return DataBundle(dict(sorted(latest.items())))

    def add_blacklist(self, entries: Iterable[BlacklistEntry], *, now: datetime | None = None) -> int:
        """Insert or replace entries by (kind, value); returns how many were written."""
        at, written = _now(now), 0
        for entry in entries:
            key = and_(blacklist_entries.c.kind == entry.kind, blacklist_entries.c.value == entry.value)
            values = {"reason": entry.reason, "listed_on": entry.listed_on, "imported_at": at}
            if self.connection.execute(update(blacklist_entries).where(key).values(**values)).rowcount == 0:
                self.connection.execute(insert(blacklist_entries).values(kind=entry.kind, value=entry.value, **values))
            written += 1
        return written

    def _exists(self, application_id: str) -> bool:
        return bool(self.connection.execute(_EXISTS, {"application_id": application_id}).scalar_one())

    def _ensure_applicant(self, application: Application, at: datetime) -> None:
        a = application.applicant
        if self.connection.execute(_APPLICANT, {"applicant_id": a.applicant_id}).first() is None:
            reference = a.reference or a.applicant_id
            unscoped = not a.reference and application.partner_id
            if unscoped and self.find_applicant(application.partner_id, reference) is not None:
                raise ApplicationError("applicant.applicant_id", f"{reference!r} already exists for partner "
                                                                 f"{application.partner_id!r}")
            self.connection.execute(_INSERT_APPLICANT, {
                "applicant_id": a.applicant_id, "applicant_type": a.applicant_type, "segment": a.segment,
                "region": a.region, "created_at": at, "language": a.language,
                "partner_id": application.partner_id, "reference": reference,
            })  # fmt: skip
        elif a.language:  # a later application that states a language: the borrower's latest word counts
            self.connection.execute(update(applicants).where(applicants.c.applicant_id == a.applicant_id)
                                    .values(language=a.language))

    @staticmethod
    def _row(application: Application, at: datetime) -> dict[str, Any]:
        d = application.declared
        return {
            "application_id": application.application_id, "applicant_id": application.applicant.applicant_id,
            "status": "received", "applied_on": application.applied_on, "currency": application.currency,
            "requested_amount_minor": d.requested_amount_minor,
            "declared_monthly_revenue_minor": d.declared_monthly_revenue_minor,
            "requested_term_months": d.requested_term_months, "product_id": application.product_id,
            "partner_id": application.partner_id, "reference": application.reference or application.application_id,
            **application.applicant.identifiers.as_dict(),
            "document": application_document(application), "created_at": at, "updated_at": at,
        }  # fmt: skip

    def _log(self, application_id: str, status: str, reason: str, at: datetime) -> None:
        self.connection.execute(
            _INSERT_HISTORY, {"application_id": application_id, "status": status, "reason": reason, "changed_at": at}
        )


def derived_id(kind: str, partner_id: str, reference: str, *, salt: str = "") -> str:
    """A book id for a partner's reference that another record already uses as its id: the reference
    shortened (for people reading the console), then 144 bits of SHA-256 of (kind, partner, reference,
    salt). Within the document's Id rules: parse_application re-reads stored documents."""
    assert kind in ("application", "applicant") and partner_id and reference
    digest = hashlib.sha256(f"{kind}\x00{partner_id}\x00{reference}\x00{salt}".encode()).hexdigest()[:36]
    derived = f"{reference[:_DERIVED_PREFIX_CHARS]}.{digest}"
    assert len(derived) <= ID_LENGTH_MAX
    return derived


def _snapshot_row(application_id: str, snap: Snapshot) -> dict[str, Any]:
    return {
        "application_id": application_id, "source": snap.source, "status": snap.status,
        "fingerprint": snap.fingerprint, "payload": snap.payload, "error": snap.error,
        "latency_ms": snap.latency_ms, "fetched_at": snap.fetched_at,
    }  # fmt: skip


def _snapshot(row: Any) -> Snapshot:
    snap = Snapshot(row.source, row.status, row.fetched_at, row.payload, row.fingerprint, row.error, row.latency_ms)
    assert Snapshot.make(snap.source, snap.status, snap.payload, snap.fetched_at).fingerprint == snap.fingerprint, (
        f"stored snapshot {row.id} no longer matches its fingerprint"
    )
    return snap


class SqlFraudContext:
    """The `FraudContext` over the applications and blacklist tables (day-granular windows)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def count_recent(
        self, identifier_kind: str, value: str, since: datetime, *, until: datetime | None = None, excluding: str = ""
    ) -> int:
        assert identifier_kind in ("applicant_id", *IDENTIFIER_COLUMNS), f"unknown identifier {identifier_kind!r}"
        a = applications.c
        conditions = [a[identifier_kind] == value, a.applied_on >= since.date(), a.application_id != excluding]
        if until is not None:
            conditions.append(a.applied_on < until.date())
        query = select(func.count()).select_from(applications).where(*conditions)
        return int(self.connection.execute(query).scalar_one())

    def identity_neighbors(self, identifier_kind: str, value: str) -> frozenset[str]:
        assert identifier_kind in IDENTIFIER_COLUMNS, f"unknown identifier {identifier_kind!r}"
        query = select(applications.c.applicant_id).where(applications.c[identifier_kind] == value).distinct()
        return frozenset(self.connection.execute(query).scalars())

    def identifiers_of(self, applicant_id: str) -> dict[str, frozenset[str]]:
        columns = [applications.c[name] for name in IDENTIFIER_COLUMNS]
        rows = self.connection.execute(select(*columns).where(applications.c.applicant_id == applicant_id)).all()
        found = {name: frozenset(getattr(row, name) for row in rows) for name in IDENTIFIER_COLUMNS}
        return {name: values for name, values in found.items() if values}

    def is_blacklisted(self, kind: str, value: str) -> bool:
        b = blacklist_entries.c
        query = select(func.count()).select_from(blacklist_entries).where(b.kind == kind, b.value == value)
        return bool(self.connection.execute(query).scalar_one())
