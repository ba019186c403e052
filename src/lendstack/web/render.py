"""Rendering pages: one Jinja2 environment (autoescaped, strict about undefined names) and
`render(request, template, context)`, which adds what every template needs: the user, the
language and t(), the CSRF token, can(method, route) and the navigation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from lendstack.api.common import engine_of
from lendstack.api.permissions import allowed
from lendstack.money.money import format_minor_grouped
from lendstack.services.business_date import business_date
from lendstack.web.auth import CSRF_FIELD, csrf_token, optional_user
from lendstack.web.lang import LANGUAGES, catalog, language_of, translator

TEMPLATES_DIR = Path(__file__).parent / "templates"

# The navigation: (route template, i18n key). An item shows only when the app has the route and
# the user's role may GET it, so pages added later (dashboard, catalog) appear by themselves.
NAV: list[tuple[str, str]] = [
    ("/console/dashboard", "nav.dashboard"),
    ("/console/applications", "nav.applications"),
    ("/console/reviews", "nav.reviews"),
    ("/console/applications/new", "nav.submit"),
    ("/console/loans", "nav.loans"),
    ("/console/alerts", "nav.alerts"),
    ("/console/webhooks", "nav.webhooks"),
    ("/console/products", "nav.products"),
    ("/console/policies", "nav.policies"),
    ("/console/models", "nav.models"),
]


def money(amount_minor: int | None, currency: str) -> str:
    """'12,345.67 CNY' from minor units, exact (`format_minor_grouped`) with the currency code."""
    if amount_minor is None:
        return "—"
    return f"{format_minor_grouped(int(amount_minor), currency)} {currency}"


environment = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=select_autoescape(["html"]),
                          undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
environment.filters["money"] = money


def _routes(request: Request) -> set[str]:
    return {str(getattr(route, "path", "")) for route in request.app.router.routes}


def _flash(request: Request, language: str) -> str:
    """A one-line notice after a redirect (?flash=repaid), only for keys the catalog has."""
    key = "flash." + request.query_params.get("flash", "")[:40]
    return catalog(language).get(key, "")


def render(request: Request, template: str, context: dict[str, Any] | None = None, *, status_code: int = 200,
           headers: dict[str, str] | None = None) -> HTMLResponse:
    user = optional_user(request)
    language = language_of(request)

    def can(method: str, route: str) -> bool:
        return user is not None and allowed(method, route, user.role)

    routes = _routes(request)
    nav = [(path, key) for path, key in NAV if path in routes and can("GET", path)]
    base = {"request": request, "user": user, "lang": language, "languages": LANGUAGES, "t": translator(language),
            "csrf_token": csrf_token(request), "csrf_field": CSRF_FIELD, "can": can, "nav": nav,
            "path": request.url.path, "flash_text": _flash(request, language),
            "business_date": business_date(engine_of(request)) if user is not None else None}
    html = environment.get_template(template).render({**base, **(context or {})})
    return HTMLResponse(html, status_code=status_code, headers=headers)
