"""Webhook tables: partner subscriptions (URL, event types, signing secret) and one delivery row per
(event, subscription) with its retry state. Created by migration 0007; no dependency on other
contexts' tables (ownership is resolved at fan-out time, not by foreign keys)."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, ForeignKey, Index, Integer, Table, Text, UniqueConstraint

from lendstack.store.tables import UtcDateTime, metadata

webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("subscription_id", Text, primary_key=True),
    Column("partner_id", Text, nullable=False),  # '' = a staff (admin) subscription: receives every event
    Column("url", Text, nullable=False),
    Column("event_types", JSON, nullable=False),  # sorted list of event type names
    # HMAC signing needs the secret itself, so it cannot be hashed like an API key: it is sealed
    # (AES-256-GCM under the server key, bound to subscription_id; lendstack.secretbox). Migration
    # 0015 sealed the secrets older books kept in clear.
    Column("secret", Text, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_by", Text, nullable=False),  # API key id ('' from the CLI)
    Column("created_at", UtcDateTime, nullable=False),
    Column("deactivated_at", UtcDateTime, nullable=True),
    Index(None, "partner_id"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("delivery_id", Text, primary_key=True),  # derived from (event_id, subscription_id): fan-out is idempotent
    Column("event_id", Text, nullable=False),
    Column("subscription_id", Text, ForeignKey("webhook_subscriptions.subscription_id"), nullable=False),
    Column("event_type", Text, nullable=False),
    Column("event", JSON, nullable=False),  # the body as sent: retries never re-read the outbox
    Column("status", Text, nullable=False),  # pending | delivered | dead
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("delivered_at", UtcDateTime, nullable=True),
    UniqueConstraint("event_id", "subscription_id"),
    Index(None, "status", "next_attempt_at"),  # the "due" scan of every dispatch pass
    Index(None, "subscription_id"),
)
