"""The schema is made by the migrations, on both backends, and equals the Core tables."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from lendstack.store.db import downgrade, upgrade
from lendstack.store.tables import metadata

TABLES = {"journal_entries", "postings", "ledger_balances", "outbox", "idempotency_keys", "loans", "installments"}
HEAD = "0015"


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def test_upgrade_creates_every_table_at_head(engine: Engine) -> None:
    assert _tables(engine) >= TABLES
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() is not None
        assert HEAD in {row[0] for row in conn.exec_driver_sql("SELECT version_num FROM alembic_version")}


def test_migrated_schema_matches_the_core_tables(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = [d for d in compare_metadata(context, metadata) if _is_ours(d)]
    assert diffs == []


def _is_ours(diff: object) -> bool:
    # Tables added later by other contexts' migrations (0002 loans, ...) are not in our metadata.
    if isinstance(diff, tuple) and diff and diff[0] == "remove_table":
        return str(diff[1].name) in TABLES
    return True


def test_downgrade_to_base_and_upgrade_again(engine: Engine) -> None:
    downgrade(engine, "base")
    assert _tables(engine) == set()
    upgrade(engine)
    assert _tables(engine) >= TABLES


def test_head_revision_constant_is_alembics_head() -> None:
    # upgrade() skips Alembic when the database is at HEAD_REVISION: a new migration must move it.
    from alembic.script import ScriptDirectory

    from lendstack.store.db import HEAD_REVISION, alembic_config

    assert ScriptDirectory.from_config(alembic_config()).get_heads() == [HEAD_REVISION]


def test_upgrade_at_head_is_a_no_op_and_an_older_database_still_migrates(engine: Engine) -> None:
    from lendstack.store.db import stored_revision

    assert stored_revision(engine) == HEAD
    upgrade(engine)  # at head: answered from one SELECT
    downgrade(engine, "0014")
    assert stored_revision(engine) == "0014"
    upgrade(engine)  # behind: Alembic runs the missing migration
    assert stored_revision(engine) == HEAD
