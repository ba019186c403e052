"""Reports in the console: the same HTML report `lendstack report KIND` writes (portfolio, models,
fairness, stress, audit), gathered by lendstack.services.report_data (and services.audit_bundle) and
rendered by lendstack.reporting, shown inside the console page in a sandboxed iframe (the report is a
self-contained page with its own styles and no scripts), with a PDF download (WeasyPrint) and the
bare page for saving.

Each kind is its own route, so THE permission matrix says who reads which: the audit bundle (security
checks over the API audit trail) is for admin, auditor and risk manager only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from sqlalchemy import Engine
from starlette.responses import HTMLResponse, Response

from lendstack.api.common import engine_of
from lendstack.monitoring.drift import DriftInputError
from lendstack.monitoring.fairness import FairnessInputError
from lendstack.reporting import REPORT_KINDS, ReportRenderError, render_html, render_pdf
from lendstack.risk.stress import StressError
from lendstack.services import report_data
from lendstack.services.audit_bundle import audit_bundle
from lendstack.services.report_data import FAIRNESS_GROUPS, ReportDataError
from lendstack.web.forms import FormError
from lendstack.web.render import render

router = APIRouter(include_in_schema=False)
FORMATS = ("page", "html", "pdf")
INPUT_FIELDS = frozenset({"as_of", "group", "quarter", "format"})  # errors in these are the reader's to fix
REPORT_ERRORS = (ReportDataError, ReportRenderError, StressError, FairnessInputError, DriftInputError, FormError)
NO_STORE = {"Cache-Control": "no-store"}  # reports hold personal and portfolio data: never cached
# The report page is trusted output of our own templates, but it is shown bare only with nothing to run.
BARE_PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
QueryText = Annotated[str, Query(max_length=16)]


def report_route(kind: str) -> str:
    assert kind in REPORT_KINDS, kind
    return f"/console/reports/{kind}"


@router.get("/console/reports")
def reports_index(request: Request) -> Response:
    return render(request, "reports.html", {"kinds": REPORT_KINDS, "route": report_route})


def parse_day(text: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise FormError("as_of", f"not a date in YYYY-MM-DD form: {text!r}") from exc


def gather(engine: Engine, registry_dir: Path, kind: str, day: date | None, group: str, quarter: str
           ) -> dict[str, Any]:
    """The report's data, exactly as the CLI gathers it (cli/report.py)."""
    if kind == "portfolio":
        return report_data.portfolio_data(engine, day).to_json()
    if kind == "models":
        return report_data.models_data(engine, day, registry_dir)
    if kind == "fairness":
        return report_data.fairness_data(engine, day, group or "gender").to_json()
    if kind == "stress":
        return report_data.stress_data(engine, day).to_json()
    assert kind == "audit", kind
    return audit_bundle(engine, day, quarter=quarter or None, registry_dir=registry_dir).to_json()


def _report(request: Request, kind: str, as_of: str, group: str, quarter: str, form: str) -> Response:
    inputs = {"as_of": as_of, "group": group, "quarter": quarter}
    try:
        if form not in FORMATS:
            raise FormError("format", f"must be one of {', '.join(FORMATS)}, got {form!r}")
        if kind == "fairness" and group and group not in FAIRNESS_GROUPS:
            raise FormError("group", f"must be one of {', '.join(FAIRNESS_GROUPS)}, got {group!r}")
        data = gather(engine_of(request), request.app.state.registry_dir, kind, parse_day(as_of), group, quarter)
        page = render_html(kind, data)
    except REPORT_ERRORS as exc:
        field = str(getattr(exc, "field", "form"))
        error = {"field": field, "message": str(getattr(exc, "message", exc))}
        status = 422 if field in INPUT_FIELDS else 200  # else the book lacks something (e.g. no champion model)
        return render(request, "reports_view.html", {"kind": kind, "inputs": inputs, "error": error,
                                                     "report_html": "", "status": None, "groups": FAIRNESS_GROUPS,
                                                     "links": {}},
                      status_code=status, headers=NO_STORE)
    if form == "pdf":
        name = f"lendstack-{kind}-{data.get('as_of') or data.get('quarter') or 'report'}.pdf"
        return Response(render_pdf(page), media_type="application/pdf",
                        headers={**NO_STORE, "Content-Disposition": f'attachment; filename="{name}"'})
    if form == "html":
        return HTMLResponse(page, headers={**NO_STORE, "Content-Security-Policy": BARE_PAGE_CSP})
    given = {k: v for k, v in inputs.items() if v}
    links = {f: f"{report_route(kind)}?{urlencode({**given, 'format': f})}" for f in ("pdf", "html")}
    return render(request, "reports_view.html", {"kind": kind, "inputs": inputs, "error": None, "report_html": page,
                                                 "status": data.get("status"), "groups": FAIRNESS_GROUPS,
                                                 "links": links}, headers=NO_STORE)


def _handler(kind: str) -> Callable[..., Response]:
    def report_page(request: Request, as_of: QueryText = "", group: QueryText = "", quarter: QueryText = "",
                    format: QueryText = "page") -> Response:
        return _report(request, kind, as_of.strip(), group.strip(), quarter.strip(), format.strip())

    report_page.__name__ = f"report_{kind}"
    return report_page


for _kind in REPORT_KINDS:
    router.add_api_route(report_route(_kind), _handler(_kind), methods=["GET"], name=f"console_report_{_kind}")
