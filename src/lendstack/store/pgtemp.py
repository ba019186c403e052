"""A throwaway PostgreSQL cluster for tests and benchmarks, from Debian's server binaries.

    with throwaway_cluster() as url:   # postgresql+psycopg://postgres@127.0.0.1:PORT/lendstack
        ...

It lives in a fresh temp dir, listens on 127.0.0.1 (a free port) and a unix socket in that dir,
trusts loopback connections and runs with fsync/synchronous_commit/full_page_writes off: its
data is worthless after the run. On exit (normal, exception or Ctrl-C) it is stopped with
`pg_ctl stop -m immediate` and the dir is removed. PostgreSQL refuses to run as root, so as root
the server runs as the `postgres` OS user (via runuser) and owns the dir.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg

PG_BIN_GLOB_ROOT = Path("/usr/lib/postgresql")
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 30
INITDB_TIMEOUT_S = 120
SERVER_USER = "postgres"
DATABASE_NAME = "lendstack"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def find_pg_bin() -> Path:
    """The bin dir of the highest installed Debian PostgreSQL version."""
    candidates = [d for d in PG_BIN_GLOB_ROOT.glob("*/bin") if (d / "initdb").exists()]
    if not candidates:
        raise PostgresUnavailable(
            f"no PostgreSQL server binaries under {PG_BIN_GLOB_ROOT}/*/bin: "
            "install Debian's postgresql (make test does it)"
        )
    return max(candidates, key=lambda d: _version_key(d.parent.name))


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", name)) or (0,)


def free_port() -> int:
    """A TCP port free right now on 127.0.0.1 (the kernel picks it; a race is retried by caller)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        assert isinstance(port, int)
        return port


@contextlib.contextmanager
def throwaway_cluster(dir_prefix: str = "lendstack-pg-") -> Iterator[str]:
    """Start a scratch cluster with one database `lendstack`; yield its SQLAlchemy URL."""
    bin_dir = find_pg_bin()
    root = Path(tempfile.mkdtemp(prefix=dir_prefix))
    data_dir = root / "data"
    started = False
    try:
        _hand_to_server_user(root)
        _run(
            bin_dir,
            [
                "initdb",
                "-D",
                str(data_dir),
                "-U",
                SERVER_USER,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
            INITDB_TIMEOUT_S,
        )
        port = _start(bin_dir, root, data_dir)
        started = True
        _create_database(port)
        yield f"postgresql+psycopg://{SERVER_USER}@127.0.0.1:{port}/{DATABASE_NAME}"
    finally:
        if started:
            _stop(bin_dir, data_dir)
        shutil.rmtree(root, ignore_errors=True)


def _as_root() -> bool:
    return os.geteuid() == 0


def _hand_to_server_user(root: Path) -> None:
    if not _as_root():
        return
    try:
        user = pwd.getpwnam(SERVER_USER)
    except KeyError as exc:
        raise PostgresUnavailable(f"running as root but there is no {SERVER_USER!r} OS user") from exc
    os.chown(root, user.pw_uid, user.pw_gid)


def _command(bin_dir: Path, argv: list[str]) -> list[str]:
    full = [str(bin_dir / argv[0]), *argv[1:]]
    return ["runuser", "-u", SERVER_USER, "--", *full] if _as_root() else full


def _run(bin_dir: Path, argv: list[str], timeout_s: float) -> None:
    result = subprocess.run(
        _command(bin_dir, argv),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C goes to us, not the server: we stop it in order
    )
    if result.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")


def _start(bin_dir: Path, root: Path, data_dir: Path, attempts: int = 3) -> int:
    """pg_ctl start on a free port; retried when another process grabbed the port meanwhile."""
    last_error: Exception | None = None
    for _ in range(attempts):
        port = free_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -k {root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        argv = [
            "pg_ctl",
            "-D",
            str(data_dir),
            "-l",
            str(root / "server.log"),
            "-w",
            "-t",
            str(START_TIMEOUT_S),
            "-o",
            options,
            "start",
        ]
        try:
            _run(bin_dir, argv, START_TIMEOUT_S + 10)
            return port
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            last_error = exc
            _stop(bin_dir, data_dir)  # a half-started server must not linger
    log = (root / "server.log").read_text(errors="replace") if (root / "server.log").exists() else ""
    raise RuntimeError(f"PostgreSQL did not start: {last_error}\n{log[-4000:]}")


def _create_database(port: int) -> None:
    conninfo = f"host=127.0.0.1 port={port} user={SERVER_USER} dbname=postgres connect_timeout=10"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {DATABASE_NAME}")


def _stop(bin_dir: Path, data_dir: Path) -> None:
    """Best effort: an immediate stop (no checkpoint; the data is thrown away next)."""
    argv = ["pg_ctl", "-D", str(data_dir), "-m", "immediate", "-w", "-t", str(STOP_TIMEOUT_S), "stop"]
    with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired, OSError):
        _run(bin_dir, argv, STOP_TIMEOUT_S + 10)
