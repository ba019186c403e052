"""Indexes for the exposure sums a decision reads (applicant, household, segment).

Every decision sums the approved exposure of its applicant, household and segment (concentration
caps). Without these indexes each sum scans the whole decisions table, and the columns sit behind
the large JSON documents, so the scan walks overflow pages: the cost of one decision grew with the
number already made. Each index ends in (acting, exposure_minor), so the sum is read from the index
alone.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_decisions_applicant_id_acting_exposure_minor": ["applicant_id", "acting", "exposure_minor"],
    "ix_decisions_household_key_acting_exposure_minor": ["household_key", "acting", "exposure_minor"],
    "ix_decisions_segment_acting_exposure_minor": ["segment", "acting", "exposure_minor"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "decisions", columns)


def downgrade() -> None:
    for name in reversed(INDEXES):
        op.drop_index(name, table_name="decisions")
