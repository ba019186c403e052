"""Webhook signing secrets sealed at rest; no secret left in the idempotency records.

- webhook_subscriptions.secret: each secret still in clear is sealed under the server key
  (lendstack.secretbox: AES-256-GCM, bound to its subscription id). Rows already sealed are left.
- api_idempotency: the kept answers of POST /v1/webhooks/subscriptions held the secret for a replay;
  it is replaced by the withheld marker (a replay now opens the sealed secret again).

Data only, no schema change. The downgrade opens the secrets again (it needs the same server key);
the idempotency records keep the marker (the secrets cannot be put back there, nor should they be).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from lendstack import secretbox
from lendstack.webhooks.signing import SECRET_WITHHELD

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SUBSCRIBE_PATH = "/v1/webhooks/subscriptions"
# SECRET_WITHHELD comes from the pure signing module (no store, no services): the replay of a
# subscribe call recognises kept answers by exactly this text, so there is one copy of it.
ROWS_MAX = 1_000_000  # a bound: subscriptions are capped far below this, idempotency rows expire

subscriptions = sa.table("webhook_subscriptions", sa.column("subscription_id", sa.Text),
                         sa.column("secret", sa.Text))
idempotency = sa.table("api_idempotency", sa.column("key_id", sa.Text), sa.column("idempotency_key", sa.Text),
                       sa.column("method", sa.Text), sa.column("path", sa.Text), sa.column("status", sa.Integer),
                       sa.column("body", sa.JSON))


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(subscriptions.c.subscription_id, subscriptions.c.secret)
                        .limit(ROWS_MAX)).all()
    for subscription_id, secret in rows:
        if not secretbox.is_sealed(secret):
            conn.execute(sa.update(subscriptions).where(subscriptions.c.subscription_id == subscription_id)
                         .values(secret=secretbox.seal(secret, context=subscription_id)))
    i = idempotency.c
    kept = conn.execute(sa.select(i.key_id, i.idempotency_key, i.body)
                        .where(i.method == "POST", i.path == SUBSCRIBE_PATH).limit(ROWS_MAX)).all()
    for key_id, idempotency_key, body in kept:
        if isinstance(body, dict) and "secret" in body and body["secret"] != SECRET_WITHHELD:
            conn.execute(sa.update(idempotency).where(i.key_id == key_id, i.idempotency_key == idempotency_key)
                         .values(body={**body, "secret": SECRET_WITHHELD}))


def downgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(subscriptions.c.subscription_id, subscriptions.c.secret)
                        .limit(ROWS_MAX)).all()
    for subscription_id, secret in rows:
        if secretbox.is_sealed(secret):
            conn.execute(sa.update(subscriptions).where(subscriptions.c.subscription_id == subscription_id)
                         .values(secret=secretbox.open_(secret, context=subscription_id)))
