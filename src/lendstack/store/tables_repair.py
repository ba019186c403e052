"""Credit repair tables: program applications and grants. Created by migration 0010."""

from __future__ import annotations

from lendstack.store.tables import metadata  # noqa: F401
