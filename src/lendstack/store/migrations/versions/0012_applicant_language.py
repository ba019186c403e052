"""The language a borrower is written to in (collections messages): en or zh-CN, '' when not stated.

An empty value means the application did not say; the collections strategy's default_language then
applies, as it did for everyone before this column.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("applicants") as batch:
        batch.add_column(sa.Column("language", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("applicants") as batch:
        batch.drop_column("language")
