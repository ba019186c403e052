"""The portfolio dashboard: KPI tiles, ECharts charts and the same numbers as tables (readable
without JavaScript), for every staff role. The page and its JSON twin (/console/dashboard/data)
are computed on each request by `lendstack.services.dashboard`: nothing is cached, so a new
application, loan or repayment shows at the next load (the page refreshes itself every minute)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from markupsafe import Markup
from starlette.responses import JSONResponse, Response

from lendstack.api.common import engine_of
from lendstack.api.problems import problem_response
from lendstack.services.dashboard import DashboardInputError, dashboard, parse_filter
from lendstack.web.lang import language_of, translator
from lendstack.web.render import render

router = APIRouter(include_in_schema=False)
FILTER_LENGTH_MAX = 32
REFRESH_SECONDS = 60
NO_STORE = {"Cache-Control": "no-store"}  # every load is computed afresh; no browser or proxy copy either
FilterText = Annotated[str, Query(max_length=FILTER_LENGTH_MAX)]

# The words the charts draw (axis names, series, titles): sent to the page's script in the
# reader's language, so the charts speak it too.
CHART_LABEL_KEYS = (
    "dash.chart.applications", "dash.chart.approved", "dash.chart.declined", "dash.chart.referred",
    "dash.chart.disbursed_month", "dash.chart.buckets", "dash.chart.classes", "dash.chart.vintages",
    "dash.chart.ecl", "dash.col.applications", "dash.col.approved", "dash.col.amount", "dash.col.loans",
    "dash.col.principal", "dash.col.mob", "dash.col.ever_dpd30", "dash.col.stage", "dash.col.ecl",
    "dash.col.ead", "dash.tier.normal", "dash.tier.special_mention", "dash.tier.substandard", "dash.tier.doubtful",
    "dash.tier.loss",
)


@router.get("/console/dashboard")
def dashboard_page(request: Request, start: FilterText = "", end: FilterText = "",
                   currency: FilterText = "") -> Response:
    form = {"start": start, "end": end, "currency": currency}
    try:
        filters = parse_filter(start, end, currency)
    except DashboardInputError as exc:
        return render(request, "dashboard.html", {"data": None, "form": form, "error": exc, "data_json": "",
                                                  "refresh_s": REFRESH_SECONDS}, status_code=422)
    data = dashboard(engine_of(request), filters)
    form = {"start": data["filters"]["start"], "end": data["filters"]["end"], "currency": currency.upper()}
    labels = {key: translator(language_of(request))(key) for key in CHART_LABEL_KEYS}
    return render(request, "dashboard.html", {
        "data": data, "form": form, "error": None, "refresh_s": REFRESH_SECONDS,
        "data_json": script_json({"data": data, "labels": labels, "lang": language_of(request)}),
        "tiles": tiles(data), "vintage_table": vintage_table(data["vintages"]),
    }, headers=NO_STORE)


@router.get("/console/dashboard/data")
def dashboard_data(request: Request, start: FilterText = "", end: FilterText = "",
                   currency: FilterText = "") -> Response:
    try:
        filters = parse_filter(start, end, currency)
    except DashboardInputError as exc:
        return problem_response(422, "invalid", exc.message, exc.field)
    return JSONResponse(dashboard(engine_of(request), filters), headers=NO_STORE)


def script_json(value: Any) -> Markup:
    """JSON safe inside <script type="application/json">: no '<', '>' or '&' can end the element."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def tiles(data: dict[str, Any]) -> list[dict[str, Any]]:
    """One row of KPI tiles per currency: outstanding, live loans, disbursed in range, DPD 30+, NPL, ECL."""
    rows = []
    for currency in data["currencies"]:
        out = data["outstanding"][currency]
        rows.append({
            "currency": currency, "outstanding_minor": out["principal_minor"], "live_loans": out["live_loans"],
            "disbursed_minor": data["disbursed"]["total_minor"][currency], "dpd30_ratio": out["dpd30_ratio"],
            "npl_ratio": data["npl_ratio"][currency], "ecl_minor": data["ecl"]["total_minor"][currency],
            "allowance_minor": data["ecl"]["allowance_minor"][currency], "reconciled": out["reconciled"],
            "ledger_principal_minor": out["ledger_principal_minor"],
        })
    return rows


def vintage_table(vintages: list[dict[str, Any]]) -> dict[str, Any]:
    """Vintages as a matrix: one row per origination month, one column per month on book."""
    mobs = sorted({int(v["mob"]) for v in vintages})
    rows: dict[str, dict[int, float]] = {}
    loans: dict[str, int] = {}
    for v in vintages:
        rows.setdefault(v["vintage"], {})[int(v["mob"])] = float(v["ever_dpd30_share"])
        loans[v["vintage"]] = int(v["loans"])
    return {"mobs": mobs, "rows": [{"vintage": k, "loans": loans[k], "cells": [rows[k].get(m) for m in mobs]}
                                   for k in sorted(rows)]}
