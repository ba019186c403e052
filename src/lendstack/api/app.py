"""The FastAPI app: routers under /v1, problem+json errors, API-key auth with one permission
matrix, an audit trail of every state-changing call, a 64 KiB body limit. OpenAPI at /v1/openapi.json."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import Engine

from lendstack.api import routes_catalog, routes_loans, routes_origination, routes_webhooks
from lendstack.api.problems import BodyLimit, install_error_handlers
from lendstack.api.security import install_security
from lendstack.services.models import default_registry_dir
from lendstack.store.db import make_engine


def create_app(engine: Engine | None = None, *, registry_dir: str | Path | None = None) -> FastAPI:
    """The API over `engine` (default: LENDSTACK_DATABASE_URL, migrated by the caller)."""
    app = FastAPI(title="lendstack open API", version="1", openapi_url="/v1/openapi.json", docs_url="/v1/docs",
                  redoc_url=None, swagger_ui_oauth2_redirect_url=None)
    app.state.engine = engine if engine is not None else make_engine()
    app.state.registry_dir = Path(registry_dir) if registry_dir is not None else default_registry_dir()
    for module in (routes_catalog, routes_origination, routes_loans, routes_webhooks):
        # The routes join the app's own table (not a nested include): the permission check and its
        # test see every route with its full template, e.g. "/v1/loans/{loan_id}".
        app.router.routes.extend(module.router.routes)
    install_error_handlers(app)
    install_security(app, app.state.engine)
    app.add_middleware(BodyLimit)  # added last = outermost: oversized bodies never reach auth or routes
    return app
