"""Operations: early-warning alerts (acknowledge, assign, close) and webhook dead letters (redeliver)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from lendstack.api.common import engine_of
from lendstack.services.early_warning import act_on, alerts
from lendstack.web.auth import current_user
from lendstack.web.forms import FormError, form_text
from lendstack.web.render import render
from lendstack.webhooks.service import STATUSES as DELIVERY_STATUSES
from lendstack.webhooks.service import WebhookError, list_deliveries, redeliver

router = APIRouter(include_in_schema=False)
ALERT_STATUSES = ("open", "acknowledged", "assigned", "closed")
ALERT_COMMANDS = ("acknowledge", "assign", "close")
LIST_MAX = 200


def _error(exc: Exception) -> dict[str, str]:
    return {"field": str(getattr(exc, "field", "form")), "message": str(getattr(exc, "message", exc))}


def _alerts_page(request: Request, status: str, error: dict[str, str] | None = None, status_code: int = 200
                 ) -> Response:
    chosen = status if status in ALERT_STATUSES else ""
    shown = [a.to_json() for a in alerts(engine_of(request), status=chosen or None, limit=LIST_MAX)]
    return render(request, "alerts.html", {"alerts": shown, "status": chosen, "statuses": ALERT_STATUSES,
                                           "commands": ALERT_COMMANDS, "error": error}, status_code=status_code)


@router.get("/console/alerts")
def alerts_page(request: Request, status: str = "") -> Response:
    return _alerts_page(request, status)


@router.post("/console/alerts/{alert_id}/act")
async def alert_act(alert_id: str, request: Request) -> Response:
    from lendstack.monitoring.early_warning import EarlyWarningError

    user = current_user(request)
    form = await request.form()
    try:
        command = form_text(form, "command", required=True, length_max=20)
        if command not in ALERT_COMMANDS:
            raise FormError("command", f"must be one of {', '.join(ALERT_COMMANDS)}")
        assignee = form_text(form, "assignee", length_max=64) or (user.username if command == "assign" else "")
        note = form_text(form, "note", length_max=500)
        await run_in_threadpool(lambda: act_on(engine_of(request), alert_id, command, user.username,
                                               assignee=assignee, note=note))
    except (EarlyWarningError, FormError, ValueError) as exc:
        return _alerts_page(request, "", _error(exc), status_code=422)
    return RedirectResponse("/console/alerts?flash=alert_updated", status_code=303)


def _webhooks_page(request: Request, status: str, error: dict[str, str] | None = None, status_code: int = 200
                   ) -> Response:
    chosen = status if status in DELIVERY_STATUSES else "dead"
    deliveries = [d.to_json() for d in list_deliveries(engine_of(request), status=chosen, partner_id=None,
                                                       limit=LIST_MAX)]
    return render(request, "webhooks.html", {"deliveries": deliveries, "status": chosen,
                                             "statuses": DELIVERY_STATUSES, "error": error}, status_code=status_code)


@router.get("/console/webhooks")
def webhooks_page(request: Request, status: str = "dead") -> Response:
    return _webhooks_page(request, status)


@router.post("/console/webhooks/{delivery_id}/redeliver")
async def webhook_redeliver(delivery_id: str, request: Request) -> Response:
    try:
        await run_in_threadpool(lambda: redeliver(engine_of(request), delivery_id))
    except WebhookError as exc:
        return _webhooks_page(request, "dead", _error(exc), status_code=422)
    return RedirectResponse("/console/webhooks?flash=redelivered", status_code=303)
