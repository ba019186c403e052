"""What the people-facing reports read: the aging of the live book (services/reports.py), the
stored decisions with their loans' outcomes (services/report_data.py) and the API audit trail with
the API keys' lifecycle (services/audit_bundle.py). Rows leave as frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, case, func, select

from lendstack.servicing.loan import LIVE_STATUSES
from lendstack.store.balance_sql import principal_outstanding_minor
from lendstack.store.tables import loans
from lendstack.store.tables_api import api_audit, api_keys
from lendstack.store.tables_decisioning import decisions

NPL_TIERS = ("substandard", "doubtful", "loss")
LOAN_IDS_PER_QUERY = 5_000  # bounded IN lists


@dataclass(frozen=True, slots=True)
class AgingGroup:
    """Live loans of one currency, bucket and five-tier class: how many, and their outstanding principal."""

    currency: str
    bucket: str
    five_tier: str
    loans: int
    principal_minor: int


@dataclass(frozen=True, slots=True)
class NplSums:
    """Per currency, the outstanding principal of live loans classed substandard or worse, and of all."""

    currency: str
    bad_minor: int
    total_minor: int


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """A stored decision as the reports read it (pd and rate as their exact decimal text)."""

    application_id: str
    arm: str
    acting: bool
    outcome: str
    pd: str
    rate_annual: str
    model_version: str
    input: dict[str, Any]


@dataclass(frozen=True, slots=True)
class LoanOutcome:
    loan_id: str
    status: str
    disbursed_on: date | None
    days_past_due: int


@dataclass(frozen=True, slots=True)
class AuditedCall:
    """One api_audit row, without its time and idempotency key."""

    key_id: str
    role: str
    partner_id: str
    method: str
    path: str
    status: int
    client: str


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """An API key's public facts (never its hash)."""

    key_id: str
    role: str
    partner_id: str
    label: str
    created_at: datetime
    revoked_at: datetime | None


class ReportRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    # ----------------------------------------------------------------------- aging

    def aging_groups(self) -> list[AgingGroup]:
        """Live loans grouped by currency, bucket and five-tier class."""
        c = loans.c
        rows = self.connection.execute(
            select(c.currency, c.bucket, c.five_tier, func.count(), func.sum(principal_outstanding_minor()))
            .where(_live()).group_by(c.currency, c.bucket, c.five_tier)).all()
        return [AgingGroup(str(r[0]), str(r[1]), str(r[2]), int(r[3]), int(r[4] or 0)) for r in rows]

    def loans_by_status(self) -> dict[str, int]:
        rows = self.connection.execute(select(loans.c.status, func.count()).group_by(loans.c.status)).all()
        return {str(s): int(n) for s, n in rows}

    def non_accrual_loans(self) -> int:
        """Live loans in non-accrual."""
        return int(self.connection.execute(select(func.count()).select_from(loans)
                                           .where(_live(), loans.c.non_accrual.is_(True))).scalar_one())

    def npl_sums(self) -> list[NplSums]:
        outstanding = principal_outstanding_minor()
        rows = self.connection.execute(
            select(loans.c.currency, func.sum(case((loans.c.five_tier.in_(NPL_TIERS), outstanding), else_=0)),
                   func.sum(outstanding))
            .where(_live()).group_by(loans.c.currency)).all()
        return [NplSums(str(c), int(bad or 0), int(total or 0)) for c, bad, total in rows]

    # ----------------------------------------------------------------------- decisions and outcomes

    def newest_decisions(self, limit: int) -> list[DecisionRecord]:
        """The newest `limit` stored decisions (acting and shadow), newest first."""
        assert limit > 0
        c = decisions.c
        query = (select(c.application_id, c.arm, c.acting, c.outcome, c.pd, c.rate_annual, c.model_version, c.input)
                 .order_by(c.id.desc()).limit(limit))
        return [DecisionRecord(str(r.application_id), str(r.arm), bool(r.acting), str(r.outcome), str(r.pd),
                               str(r.rate_annual), str(r.model_version), dict(r.input))
                for r in self.connection.execute(query)]

    def loan_outcomes(self, loan_ids: list[str]) -> list[LoanOutcome]:
        """Status, disbursement day and DPD of those of `loan_ids` that exist."""
        found: list[LoanOutcome] = []
        for start in range(0, len(loan_ids), LOAN_IDS_PER_QUERY):
            batch = loan_ids[start:start + LOAN_IDS_PER_QUERY]
            query = select(loans.c.loan_id, loans.c.status, loans.c.disbursed_on, loans.c.days_past_due).where(
                loans.c.loan_id.in_(batch))
            found += [LoanOutcome(str(r.loan_id), str(r.status), r.disbursed_on, int(r.days_past_due))
                      for r in self.connection.execute(query)]
        return found

    # ----------------------------------------------------------------------- the audit trail

    def audited_calls(self, start: datetime, end: datetime, limit: int) -> list[AuditedCall]:
        """Audited calls at or after `start` and before `end`, at most `limit`."""
        a = api_audit.c
        query = (select(a.key_id, a.role, a.partner_id, a.method, a.path, a.status, a.client)
                 .where(a.at >= start, a.at < end).limit(limit))
        return [AuditedCall(str(r.key_id), str(r.role), str(r.partner_id), str(r.method), str(r.path), int(r.status),
                            str(r.client))
                for r in self.connection.execute(query)]

    def api_keys(self) -> list[ApiKeyRecord]:
        k = api_keys.c
        rows = self.connection.execute(select(k.key_id, k.role, k.partner_id, k.label, k.created_at, k.revoked_at))
        return [ApiKeyRecord(str(r.key_id), str(r.role), str(r.partner_id), str(r.label), r.created_at, r.revoked_at)
                for r in rows]


def _live() -> Any:
    return loans.c.status.in_([s.value for s in LIVE_STATUSES])
