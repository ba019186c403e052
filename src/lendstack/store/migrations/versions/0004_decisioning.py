"""Decisioning: policies, decisions, champion/challenger assignments, the manual review queue.

Revision ID: 0004
Revises: 0003
Create Date: 2026-01-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP_UTC = sa.DateTime(timezone=True)
SURROGATE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "decision_policies",
        sa.Column("policy_id", sa.Text(), nullable=False),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.Text(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("created_at", TIMESTAMP_UTC, nullable=False),
        sa.PrimaryKeyConstraint("policy_id", "version", name="pk_decision_policies"),
    )
    text_columns = ("outcome", "grade", "pd", "rate_annual")
    meta_columns = ("policy_id", "policy_version", "policy_hash", "model_version", "model_hash")
    op.create_table(
        "decisions",
        sa.Column("id", SURROGATE, autoincrement=True, nullable=False),
        sa.Column("application_id", sa.Text(), nullable=False),
        sa.Column("arm", sa.Text(), nullable=False),
        sa.Column("acting", sa.Boolean(), nullable=False),
        *(sa.Column(name, sa.Text(), nullable=False) for name in text_columns),
        sa.Column("limit_minor", sa.BigInteger(), nullable=False),
        *(sa.Column(name, sa.JSON(), nullable=False) for name in ("reasons", "flags", "fingerprints")),
        *(sa.Column(name, sa.Text(), nullable=False) for name in meta_columns),
        sa.Column("input", sa.JSON(), nullable=False),
        sa.Column("input_hash", sa.Text(), nullable=False),
        sa.Column("decision", sa.JSON(), nullable=False),
        *(sa.Column(name, sa.Text(), nullable=False) for name in ("applicant_id", "household_key", "segment")),
        sa.Column("exposure_minor", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TIMESTAMP_UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_decisions"),
        sa.UniqueConstraint("application_id", "arm", name="uq_decisions_application_id_arm"),
    )
    op.create_index("ix_decisions_outcome", "decisions", ["outcome"])
    op.create_table(
        "decision_assignments",
        sa.Column("application_id", sa.Text(), nullable=False),
        sa.Column("experiment", sa.Text(), nullable=False),
        sa.Column("arm", sa.Text(), nullable=False),
        sa.Column("mode", sa.Text(), nullable=False),
        sa.Column("created_at", TIMESTAMP_UTC, nullable=False),
        sa.PrimaryKeyConstraint("application_id", name="pk_decision_assignments"),
    )
    op.create_table(
        "review_queue",
        sa.Column("application_id", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        *(sa.Column(name, sa.Text(), server_default="", nullable=False) for name in ("assignee", "action", "note")),
        sa.Column("counter_offer", sa.JSON(), nullable=True),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.Column("created_at", TIMESTAMP_UTC, nullable=False),
        sa.Column("updated_at", TIMESTAMP_UTC, nullable=False),
        sa.PrimaryKeyConstraint("application_id", name="pk_review_queue"),
    )
    op.create_index("ix_review_queue_status", "review_queue", ["status"])


def downgrade() -> None:
    op.drop_index("ix_review_queue_status", table_name="review_queue")
    op.drop_table("review_queue")
    op.drop_table("decision_assignments")
    op.drop_index("ix_decisions_outcome", table_name="decisions")
    op.drop_table("decisions")
    op.drop_table("decision_policies")
