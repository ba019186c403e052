"""`lendstack serve`: the open API (/v1) and the staff console (/console) on uvicorn; `--create-key`
prints a new API key once instead."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lendstack.cli.context import open_engine
from lendstack.cli.output import console, fail, print_json

if TYPE_CHECKING:  # only for annotations: the library loads inside the commands
    from sqlalchemy import Engine

    from lendstack.services.sqlite_files import Checkpointer


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
    insecure_http: Annotated[bool, typer.Option(
        "--insecure-http", help="development only: plain http, cookies without Secure (also LENDSTACK_INSECURE_HTTP=1)",
    )] = False,
) -> None:
    """Serve the API at http://HOST:PORT/v1 (OpenAPI at /v1/openapi.json) and the console at /console.

    The console's cookies are Secure: put the site behind an HTTPS proxy, or, on your own machine
    only, pass --insecure-http."""
    engine = open_engine()
    if create_key:
        _create_key(engine, role, partner, label, as_json)
        return
    run_site(engine, host, port, insecure_http=insecure_http)


def announce_transport(host: str, port: int, *, insecure_http: bool) -> None:
    """Say loudly, at start (on stderr: stdout may be a --json document), how the cookies travel:
    plain http is for development only."""
    out = console(stderr=True)
    if insecure_http:
        out.print(f"[bold red]INSECURE: --insecure-http: serving plain http on {host}:{port}; the session "
                  "cookie is sent without Secure and can be read on the network. Development only: never "
                  "expose this to anyone else.[/bold red]", highlight=False)
        if host not in ("127.0.0.1", "::1", "localhost"):
            out.print(f"[bold red]INSECURE: and {host} is not a loopback address.[/bold red]", highlight=False)
        return
    out.print("cookies are Secure (HTTPS only): serve this behind a TLS proxy; for local development "
              "without TLS, pass --insecure-http", highlight=False)


def run_site(engine: Engine, host: str, port: int, registry_dir: Path | None = None, *,
             insecure_http: bool = False, announce: bool = True) -> None:
    """uvicorn over the API + console. The champion model is loaded before the first request, then
    the start-up heap is frozen: a full garbage collection over it otherwise lands on some request
    (~150 ms measured by the API benchmark)."""
    import gc

    import uvicorn

    from lendstack.scoring import Registry
    from lendstack.services.models import default_registry_dir, scoring_model
    from lendstack.web import create_site

    root = registry_dir or default_registry_dir()
    _announce_proxies(announce)
    from lendstack.web.site import insecure_http_from_env

    insecure_http = insecure_http or insecure_http_from_env()
    site = create_site(engine, registry_dir=root, secure_cookies=not insecure_http)
    if announce:
        announce_transport(host, port, insecure_http=insecure_http)
    if Registry(root).champion() is not None:  # never train at start-up: that is the demo's or an operator's call
        scoring_model(root)
    checkpointer = _wal_checkpointer(engine)
    gc.collect()
    gc.freeze()
    try:
        # proxy_headers=False: uvicorn would believe X-Forwarded-For from any 127.0.0.1 peer; the site
        # believes it only from LENDSTACK_TRUSTED_PROXIES (api/proxies.py), none by default.
        uvicorn.run(site, host=host, port=port, log_level="info", proxy_headers=False)
    finally:
        if checkpointer is not None:
            checkpointer.stop()


def _announce_proxies(announce: bool) -> None:
    """A wrong LENDSTACK_TRUSTED_PROXIES is refused by name before serving; the right one is shown
    (unless the caller keeps stdout for one JSON document)."""
    from lendstack.api.proxies import ENV, TrustedProxies, TrustedProxiesError

    try:
        proxies = TrustedProxies.from_env()
    except TrustedProxiesError as exc:
        fail(exc.field, exc.message, as_json=False)
    trusted = ", ".join(str(n) for n in proxies.networks) or "none (the peer's address is the client's)"
    if announce:
        console().print(f"X-Forwarded-For believed from: {trusted} ({ENV})")


def _wal_checkpointer(engine: Engine) -> Checkpointer | None:
    """SQLite on a file: checkpoints in the background, not inside a request (store.db.WalCheckpointer)."""
    from lendstack.services.sqlite_files import start_wal_checkpointer

    return start_wal_checkpointer(engine)


def _create_key(engine: Engine, role: str, partner: str, label: str, as_json: bool) -> None:
    from lendstack.services.api_access import ApiKeyError, create_key

    try:
        new = create_key(engine, role, partner_id=partner, label=label)
    except ApiKeyError as exc:
        fail(exc.field, exc.message, as_json=as_json)
    if as_json:
        print_json({"key_id": new.key_id, "key": new.token, "role": new.role, "partner_id": new.partner_id})
        return
    console().print(f"key_id {new.key_id}  role {new.role}  partner {new.partner_id or '-'}")
    console().print(f"[bold]{new.token}[/bold]  (shown once: only its hash is stored)")
