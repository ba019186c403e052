"""The site: the open API (lendstack.api.create_app, /v1) plus the staff console (/console),
its static files (/static) and its session guard. `lendstack serve` and `make demo` serve this.

CONSOLE_ROUTERS lists the console's router modules; each has a module-level `router`. Their routes
join the app's own table (like the API's), so the guard and the permission walk see every route
with its full template, e.g. "/console/loans/{loan_id}"."""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.middleware import Middleware

from lendstack.api.app import create_app
from lendstack.web import (
    routes_applications,
    routes_auth,
    routes_catalog,
    routes_collections,
    routes_dashboard,
    routes_loans,
    routes_ops,
    routes_reports,
    routes_staff,
)
from lendstack.web.guard import ConsoleGuard

STATIC_DIR = Path(__file__).parent / "static"

CONSOLE_ROUTERS: list[ModuleType] = [routes_auth, routes_applications, routes_loans, routes_ops]
CONSOLE_ROUTERS += [routes_dashboard, routes_catalog]  # console-pages: dashboard, products, policies, models
CONSOLE_ROUTERS += [routes_collections, routes_reports]  # console-ops: collections queue and cases, reports
CONSOLE_ROUTERS += [routes_staff]  # staff management (admin only)


INSECURE_HTTP_ENV = "LENDSTACK_INSECURE_HTTP"  # "1": plain http for development (`lendstack serve --insecure-http`)


def insecure_http_from_env() -> bool:
    return os.environ.get(INSECURE_HTTP_ENV, "").strip().lower() in ("1", "true", "yes")


def create_site(engine: Engine | None = None, *, registry_dir: str | Path | None = None,
                secure_cookies: bool | None = None) -> FastAPI:
    """API + console over `engine` (default: LENDSTACK_DATABASE_URL, migrated by the caller).

    Cookies (session, login CSRF, language) are Secure, i.e. sent over HTTPS only (the site is
    meant to be behind a TLS proxy), unless the caller asks for plain http explicitly:
    `secure_cookies=False`, or LENDSTACK_INSECURE_HTTP=1 when `secure_cookies` is None. A session
    cookie sent over plain http can be read by anyone on the network path."""
    app = create_app(engine, registry_dir=registry_dir)
    app.title = "lendstack"
    if secure_cookies is None:
        secure_cookies = not insecure_http_from_env()
    app.state.secure_cookies = secure_cookies
    for module in CONSOLE_ROUTERS:
        app.router.routes.extend(module.router.routes)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # Innermost (after the body limit and the API's key guard, which passes non-/v1 paths through):
    # the guard then sees only bodies within the limit.
    app.user_middleware.append(Middleware(ConsoleGuard, site=app, engine=app.state.engine))
    return app
