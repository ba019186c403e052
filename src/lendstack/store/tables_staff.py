"""Staff users (argon2-hashed passwords, roles) and console sessions. Created by migration 0008."""

from __future__ import annotations

from lendstack.store.tables import metadata  # noqa: F401
