"""Collections tables: cases, contact log, promises to pay. Created by migration 0009."""

from __future__ import annotations

from lendstack.store.tables import metadata  # noqa: F401
