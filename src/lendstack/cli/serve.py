"""`lendstack serve`: the open API (/v1) and the staff console (/console) on uvicorn; `--create-key`
prints a new API key once instead."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Engine

from lendstack.cli.context import open_engine
from lendstack.cli.output import console, fail, print_json
from lendstack.store.db import WalCheckpointer


def register(app: typer.Typer) -> None:
    app.command(name="serve")(serve)


def serve(
    host: Annotated[str, typer.Option(help="interface to bind (loopback by default)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    create_key: Annotated[bool, typer.Option("--create-key", help="create an API key, print it once, exit")] = False,
    role: Annotated[str, typer.Option(help="role of the new key")] = "admin",
    partner: Annotated[str, typer.Option(help="partner id (partner keys only)")] = "",
    label: Annotated[str, typer.Option(help="a note on who holds the key")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Serve the API at http://HOST:PORT/v1 (OpenAPI at /v1/openapi.json) and the console at /console."""
    engine = open_engine()
    if create_key:
        _create_key(engine, role, partner, label, as_json)
        return
    run_site(engine, host, port)


def run_site(engine: Engine, host: str, port: int, registry_dir: Path | None = None) -> None:
    """uvicorn over the API + console. The champion model is loaded before the first request, then
    the start-up heap is frozen: a full garbage collection over it otherwise lands on some request
    (~150 ms measured by the API benchmark)."""
    import gc

    import uvicorn

    from lendstack.scoring import Registry
    from lendstack.services.models import default_registry_dir, scoring_model
    from lendstack.web import create_site

    root = registry_dir or default_registry_dir()
    site = create_site(engine, registry_dir=root)
    if Registry(root).champion() is not None:  # never train at start-up: that is the demo's or an operator's call
        scoring_model(root)
    checkpointer = _wal_checkpointer(engine)
    gc.collect()
    gc.freeze()
    try:
        uvicorn.run(site, host=host, port=port, log_level="info")
    finally:
        if checkpointer is not None:
            checkpointer.stop()


def _wal_checkpointer(engine: Engine) -> WalCheckpointer | None:
    """SQLite on a file: checkpoints in the background, not inside a request (store.db.WalCheckpointer)."""
    database = engine.url.database or ""
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return None
    return WalCheckpointer(engine).start()


def _create_key(engine: Engine, role: str, partner: str, label: str, as_json: bool) -> None:
    from lendstack.api.keys import KeyError_, create_key

    try:
        new = create_key(engine, role, partner_id=partner, label=label)
    except KeyError_ as exc:
        fail(exc.field, exc.message, as_json=as_json)
    if as_json:
        print_json({"key_id": new.key_id, "key": new.token, "role": new.role, "partner_id": new.partner_id})
        return
    console().print(f"key_id {new.key_id}  role {new.role}  partner {new.partner_id or '-'}")
    console().print(f"[bold]{new.token}[/bold]  (shown once: only its hash is stored)")
