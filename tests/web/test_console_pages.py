"""Pages render for their roles in both languages; the review flow, submitting, accepting, disbursing
and repaying through the console; the i18n catalogs are complete."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from lendstack.api.permissions import MATRIX
from lendstack.origination.status import STATUSES
from lendstack.services import staff
from lendstack.services.business_date import open_book
from lendstack.services.decisions import accept_offer, list_reviews
from lendstack.services.loans import get_loan
from lendstack.servicing.aging import FiveTier
from lendstack.sim import APPLICANT_TYPES, COLLATERALS, PURPOSES, REGIONS, SEGMENTS
from lendstack.store.tables_api import api_audit
from lendstack.store.tables_origination import applications
from lendstack.web.lang import CATALOG_DIR, LANGUAGES, catalog, catalog_files
from lendstack.web.render import TEMPLATES_DIR
from lendstack.web.routes_applications import GENDERS, REVIEW_ACTIONS
from lendstack.web.routes_loans import LOAN_STATUSES
from lendstack.web.routes_ops import ALERT_COMMANDS, ALERT_STATUSES
from lendstack.webhooks.service import STATUSES as DELIVERY_STATUSES
from tests.book_dates import advance_to
from tests.web.conftest import TODAY, Login, csrf_of, decide_until, hidden

FAMILIES: dict[str, tuple[str, ...]] = {
    "status": STATUSES, "loan_status": LOAN_STATUSES, "review_status": ("open", "assigned", "done"),
    "review_action": REVIEW_ACTIONS, "alert_status": ALERT_STATUSES, "alert_command": ALERT_COMMANDS,
    "delivery_status": DELIVERY_STATUSES, "role": staff.STAFF_ROLES, "lang": LANGUAGES, "purpose": PURPOSES,
    "collateral": COLLATERALS, "segment": SEGMENTS, "region": REGIONS, "applicant_type": APPLICANT_TYPES,
    "gender": GENDERS, "five_tier": tuple(t.value for t in FiveTier), "outcome": ("approve", "refer", "decline"),
}
PAGES = ["/console/applications", "/console/reviews", "/console/applications/new", "/console/loans",
         "/console/alerts", "/console/webhooks"]


def test_catalogs_have_the_same_keys_and_cover_every_template_key() -> None:
    keys = {lang: set(catalog(lang)) for lang in LANGUAGES}
    assert keys["en"] == keys["zh-CN"], keys["en"] ^ keys["zh-CN"]
    assert {p.stem for p in CATALOG_DIR.glob("*.yaml")} == set(LANGUAGES)
    areas = {lang: {p.name for p in catalog_files(lang)[1:]} for lang in LANGUAGES}
    assert areas["en"] == areas["zh-CN"], areas  # every area file exists in both languages
    used: set[str] = set()
    for template in TEMPLATES_DIR.rglob("*.html"):
        used |= set(re.findall(r"""\bt\(\s*['"]([\w.-]+)['"]""", template.read_text(encoding="utf-8")))
    prefixes = {k for k in used if k.endswith(".")}  # t('status.' ~ s): a family of keys
    assert used and used - prefixes - keys["en"] == set()
    assert all(any(k.startswith(p) for k in keys["en"]) for p in prefixes), prefixes
    for prefix, values in FAMILIES.items():
        assert {f"{prefix}.{v}" for v in values} <= keys["en"], prefix
    assert all(catalog(lang)[k].strip() for lang in LANGUAGES for k in keys[lang])


def test_every_page_renders_for_its_roles_in_both_languages(login_as: Login, engine: Engine, registry_dir: Path,
                                                            documents: list[dict[str, Any]]) -> None:
    found = decide_until(engine, registry_dir, documents, {"approve", "refer"})
    loan_id = accept_offer(engine, found["approve"], TODAY, "pages-accept")["loan_id"]
    pages = [*PAGES, f"/console/applications/{found['refer']}", f"/console/applications/{found['approve']}",
             f"/console/loans/{loan_id}"]
    for role in staff.STAFF_ROLES:
        client = login_as(role)
        for url in pages:
            route = re.sub(r"/console/(applications|loans)/(?!new)[^/]+$", r"/console/\1/{\1_id}", url)
            route = route.replace("{applications_id}", "{application_id}").replace("{loans_id}", "{loan_id}")
            for lang, word in (("en", "Log out"), ("zh-CN", "退出登录")):
                client.cookies.set("ls_lang", lang)
                response = client.get(url)
                if role in MATRIX[("GET", route)]:
                    assert response.status_code == 200, (role, url, lang)
                    assert word in response.text and f'<html lang="{lang}">' in response.text
                else:
                    assert response.status_code == 403, (role, url)


def test_review_flow_assign_then_approve_changes_the_status(login_as: Login, engine: Engine, registry_dir: Path,
                                                            documents: list[dict[str, Any]]) -> None:
    referred = decide_until(engine, registry_dir, documents, {"refer"})["refer"]
    client = login_as("risk_manager")
    queue = client.get("/console/reviews")
    assert f'data-application-id="{referred}"' in queue.text and 'data-testid="review-approve"' in queue.text
    row = client.post(f"/console/reviews/{referred}/assign", data={"csrf_token": csrf_of(client)},
                      headers={"HX-Request": "true"})
    assert row.status_code == 200 and row.text.lstrip().startswith("<tr") and "riskmanager" in row.text
    missing_note = client.post(f"/console/reviews/{referred}/resolve", headers={"HX-Request": "true"},
                               data={"csrf_token": csrf_of(client), "action": "approve", "note": " "})
    assert missing_note.status_code == 422 and 'data-testid="row-error"' in missing_note.text
    assert _status(engine, referred) == "referred"
    done = client.post(f"/console/reviews/{referred}/resolve", follow_redirects=False,
                       data={"csrf_token": csrf_of(client), "action": "approve", "note": "income verified"})
    assert done.status_code == 303
    assert _status(engine, referred) == "approved"
    assert [i.status for i in list_reviews(engine) if i.application_id == referred] == ["done"]
    with engine.connect() as conn:
        audited = [tuple(r) for r in conn.execute(select(api_audit.c.key_id, api_audit.c.method, api_audit.c.path,
                                                         api_audit.c.status))]
    assert ("user:riskmanager0", "POST", f"/console/reviews/{referred}/resolve", 303) in audited


def _status(engine: Engine, application_id: str) -> str:
    with engine.connect() as conn:
        return str(conn.execute(select(applications.c.status).where(
            applications.c.application_id == application_id)).scalar_one())


def test_submit_simulated_then_typed_application(login_as: Login, engine: Engine) -> None:
    client = login_as("credit_officer")
    form = client.get("/console/applications/new")
    assert form.status_code == 200 and 'data-testid="simulate-applicant"' in form.text
    application_id = hidden(form.text, "application_id")
    answer = client.post("/console/applications", follow_redirects=False, data={
        "csrf_token": csrf_of(client), "application_id": application_id, "simulate": "1"})
    location = answer.headers["location"]
    assert answer.status_code == 303 and location.startswith(f"/console/applications/{application_id}")
    detail = client.get(location)
    assert 'data-testid="outcome"' in detail.text and 'data-testid="reasons"' in detail.text
    assert 'data-testid="source"' in detail.text and 'data-testid="flash"' in detail.text
    again = client.post("/console/applications", follow_redirects=False, data={  # the same form twice: one application
        "csrf_token": csrf_of(client), "application_id": application_id, "simulate": "1"})
    assert again.status_code == 303
    with engine.connect() as conn:
        assert len(conn.execute(select(applications.c.application_id)).all()) == 1
    typed = {"csrf_token": csrf_of(client), "application_id": "C-typed-1", "product_id": "consumer_cny_12m",
             "amount": "8000.00", "term_months": "12", "purpose": "consumption", "collateral": "none",
             "applicant_type": "individual", "segment": "salaried", "region": "east", "gender": "female",
             "age": "17", "phone": "13800000000"}
    refused = client.post("/console/applications", data=typed)
    assert refused.status_code == 422 and 'data-testid="error-age"' in refused.text
    with engine.connect() as conn:
        assert len(conn.execute(select(applications.c.application_id)).all()) == 1
    accepted = client.post("/console/applications", data={**typed, "age": "35"}, follow_redirects=False)
    assert accepted.status_code == 303, accepted.text[:500]


def test_accept_disburse_and_repay_once(login_as: Login, engine: Engine, registry_dir: Path,
                                        documents: list[dict[str, Any]]) -> None:
    open_book(engine, TODAY)  # as `lendstack db upgrade --business-date` does: the console works on it
    approved = decide_until(engine, registry_dir, documents, {"approve"})["approve"]
    officer = login_as("credit_officer")
    booked = officer.post(f"/console/applications/{approved}/accept", data={"csrf_token": csrf_of(officer)},
                          follow_redirects=False)
    assert booked.status_code == 303, booked.text[:500]
    loan_id = booked.headers["location"].split("/")[-1].split("?")[0]
    page = officer.get(f"/console/loans/{loan_id}")
    assert f'name="on" type="date" value="{TODAY.isoformat()}"' in page.text  # the business date, prefilled
    disbursed = officer.post(f"/console/loans/{loan_id}/disburse", follow_redirects=False, data={
        "csrf_token": csrf_of(officer), "idempotency_key": hidden(page.text, "idempotency_key"),
        "on": TODAY.isoformat()})
    assert disbursed.status_code == 303 and get_loan(engine, loan_id).status.value == "active"
    assert get_loan(engine, loan_id).disbursed_on == TODAY
    pay_day = date(2026, 2, 1)
    advance_to(engine, pay_day)  # end of day moves the book to the payment's day
    collector = login_as("collections_agent")
    page = collector.get(f"/console/loans/{loan_id}")
    key = hidden(page.text, "idempotency_key")
    before = get_loan(engine, loan_id)
    form = {"csrf_token": csrf_of(collector), "idempotency_key": key, "amount": "100.00", "on": pay_day.isoformat()}
    assert collector.post(f"/console/loans/{loan_id}/repay", data=form, follow_redirects=False).status_code == 303
    after = get_loan(engine, loan_id)
    def taken(loan: Any) -> int:
        return int(loan.interest_paid_minor + loan.principal_repaid_minor + loan.fee_paid_minor
                   + loan.penalty_paid_minor + loan.suspense_minor)

    paid = taken(after) - taken(before)
    assert paid == 10000
    retry = collector.post(f"/console/loans/{loan_id}/repay", data=form, follow_redirects=False)
    assert retry.status_code == 303 and get_loan(engine, loan_id) == after  # the same form key: applied once
    bad = collector.post(f"/console/loans/{loan_id}/repay", data={**form, "idempotency_key": "k2", "amount": "1.001"})
    assert bad.status_code == 422 and 'data-testid="form-error"' in bad.text and get_loan(engine, loan_id) == after
    ahead = collector.post(f"/console/loans/{loan_id}/repay",
                           data={**form, "idempotency_key": "k3", "on": "2999-01-01"})
    assert ahead.status_code == 422 and "after the business date" in ahead.text and get_loan(engine, loan_id) == after
    closed = collector.post(f"/console/loans/{loan_id}/repay",
                            data={**form, "idempotency_key": "k4", "on": (pay_day - timedelta(days=1)).isoformat()})
    assert closed.status_code == 422 and "before the business date" in closed.text
    assert get_loan(engine, loan_id) == after
    shown = collector.get(f"/console/loans/{loan_id}?flash=repaid")
    assert 'data-testid="payment"' in shown.text and 'data-testid="flash"' in shown.text


def test_staff_reads_of_personal_data_are_audited_and_catalog_reads_are_not(login_as: Login, engine: Engine) -> None:
    auditor = login_as("auditor")

    def reads() -> list[tuple[str, str]]:
        with engine.connect() as conn:
            return sorted((r.key_id, r.path) for r in conn.execute(
                select(api_audit.c.key_id, api_audit.c.path, api_audit.c.method)) if r.method == "GET")

    before = reads()
    assert auditor.get("/console/applications").status_code == 200
    assert auditor.get("/console/products").status_code == 200
    after = reads()
    assert len(after) == len(before) + 1
    [(who, path)] = [row for row in after if row not in before]
    assert path == "/console/applications" and who.startswith("user:")
