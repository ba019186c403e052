"""Open API: API keys, audit trail, HTTP idempotency record, loan → partner.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP_UTC = sa.DateTime(timezone=True)
SURROGATE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("key_hash", sa.Text(), nullable=False),
        *(sa.Column(name, sa.Text(), nullable=False) for name in ("role", "partner_id", "label")),
        sa.Column("created_at", TIMESTAMP_UTC, nullable=False),
        sa.Column("revoked_at", TIMESTAMP_UTC, nullable=True),
        sa.PrimaryKeyConstraint("key_id", name="pk_api_keys"),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )
    op.create_table(
        "api_audit",
        sa.Column("id", SURROGATE, autoincrement=True, nullable=False),
        sa.Column("at", TIMESTAMP_UTC, nullable=False),
        *(sa.Column(name, sa.Text(), nullable=False) for name in ("key_id", "role", "partner_id", "method", "path")),
        sa.Column("status", sa.Integer(), nullable=False),
        *(sa.Column(name, sa.Text(), nullable=False) for name in ("client", "idempotency_key")),
        sa.PrimaryKeyConstraint("id", name="pk_api_audit"),
    )
    op.create_index("ix_api_audit_key_id", "api_audit", ["key_id"])
    op.create_table(
        "api_idempotency",
        *(sa.Column(name, sa.Text(), nullable=False) for name in ("key_id", "idempotency_key", "method", "path")),
        sa.Column("request_hash", sa.Text(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", TIMESTAMP_UTC, nullable=False),
        sa.PrimaryKeyConstraint("key_id", "idempotency_key", name="pk_api_idempotency"),
    )
    op.create_table(
        "api_loan_partners",
        sa.Column("loan_id", sa.Text(), nullable=False),
        sa.Column("partner_id", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("loan_id", name="pk_api_loan_partners"),
    )
    op.create_index("ix_api_loan_partners_partner_id", "api_loan_partners", ["partner_id"])


def downgrade() -> None:
    op.drop_index("ix_api_loan_partners_partner_id", table_name="api_loan_partners")
    op.drop_table("api_loan_partners")
    op.drop_table("api_idempotency")
    op.drop_index("ix_api_audit_key_id", table_name="api_audit")
    op.drop_table("api_audit")
    op.drop_table("api_keys")
