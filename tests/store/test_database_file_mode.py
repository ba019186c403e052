"""Issue 12 §5: the SQLite book holds personal data, so its file (and the -wal and -shm files SQLite
makes next to it) is readable by its owner only, whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from lendstack.store.db import make_engine, upgrade


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0o022)  # the usual umask: SQLite alone would make 0644 files
    try:
        yield
    finally:
        os.umask(previous)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_book_and_its_wal_files_are_0600(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "lendstack.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        upgrade(engine)
        with engine.connect() as conn:  # keeps the WAL and shared-memory files open while we look
            conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one()
            made = [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()]
            assert Path(f"{path}-wal") in made
            assert {p.name: mode_of(p) for p in made} == {p.name: 0o600 for p in made}
    finally:
        engine.dispose()


def test_an_existing_world_readable_book_is_narrowed_to_0600(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "old.db"
    path.touch(mode=0o644)
    path.chmod(0o644)
    engine = make_engine(f"sqlite:///{path}")
    engine.dispose()
    assert mode_of(path) == 0o600


def test_memory_databases_make_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    make_engine("sqlite://").dispose()
    assert list(tmp_path.iterdir()) == []
