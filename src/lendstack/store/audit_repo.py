"""The audit trail (api_audit): one row per change and per read of personal data, written in the
caller's transaction. Who writes what, and the bounds on each text, is services/staff.py
`record_action`; this module only holds the SQL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select

from lendstack.invariants import check
from lendstack.store.tables_api import api_audit

KEY_IDS_MAX = 1_000  # one IN list of key ids (the staff list page's bound)
_AUDIT_INSERT = insert(api_audit)  # built once; each row goes in as parameters (the decision path's hot spot)


class AuditRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def add(self, row: Mapping[str, Any]) -> None:
        """One audit row: key_id, role, partner_id, method, path, client, idempotency_key, at, status."""
        self.connection.execute(_AUDIT_INSERT, dict(row))

    def newest_at(self, key_ids: Sequence[str], *, path: str, status: int) -> dict[str, datetime]:
        """{key_id: time of its newest row with this path and status}, for the key ids that have one."""
        check(len(key_ids) <= KEY_IDS_MAX, f"at most {KEY_IDS_MAX} key ids per query")
        if not key_ids:
            return {}
        a = api_audit.c
        query = (select(a.key_id, func.max(a.at)).where(a.key_id.in_(list(key_ids)), a.path == path,
                                                         a.status == status).group_by(a.key_id))
        return {str(key_id): at for key_id, at in self.connection.execute(query).all()}
