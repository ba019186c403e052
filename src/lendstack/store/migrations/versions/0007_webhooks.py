"""Webhook subscriptions and deliveries.

Revision ID: 0007
Revises: 0006
Create Date: 2026-01-07
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Tables are added by the webhooks work."""


def downgrade() -> None:
    """Nothing to undo yet."""
