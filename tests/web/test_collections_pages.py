"""The collections pages through create_site, on SQLite and PostgreSQL, over a small real book (booked,
disbursed, end of day, the daily collections run): the queue in priority order for the roles that may
read it, in English and Chinese, forbidden roles 403; "mine" for the logged-in collector; assignment by
admin only; a contact and a promise posted through the console appear on the case page and in the
database, audited; promises kept and broken show with the messages the run sent; bad input names the
field and writes nothing, and neither does a post without the CSRF token."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from lendstack.api.permissions import MATRIX
from lendstack.collections import service as col
from lendstack.money import Money
from lendstack.services import staff
from lendstack.services.eod import run_eod
from lendstack.services.loans import book_loan, disburse_loan, repay_loan
from lendstack.store.tables_api import api_audit
from lendstack.store.tables_collections import collection_contacts, collection_promises
from lendstack.web.routes_collections import LOGGED_OUTCOMES, QUEUE_VIEWS
from tests.web.conftest import Login, counts, csrf_of


def js(value: Any) -> Any:
    """The JSON document a shell prints of a service result (a record, a report, or a list of records)."""
    return [v.to_json() for v in value] if isinstance(value, list) else value.to_json()


ON = date(2026, 1, 10)
DUE = date(2026, 2, 10)  # the first installment of a loan booked on ON
OVERDUE_DAY = date(2026, 2, 20)
READERS = ("admin", "risk_manager", "collections_agent", "auditor")


@pytest.fixture
def book(engine: Engine) -> dict[str, str]:
    """L0 (12,000) and L2 (24,000) miss their first installment, L1 pays it; end of day and the
    collections run closed 2026-02-20. Returns {loan id: case id} of the open cases."""
    for loan_id, major in {"L0": 12_000, "L1": 12_000, "L2": 24_000}.items():
        book_loan(engine, loan_id=loan_id, product="consumer_cny_12m", amount=Money(major * 100, "CNY"), term=12,
                  on=ON, key=f"book-{loan_id}")
        disburse_loan(engine, loan_id, ON, f"disb-{loan_id}")
    run_eod(engine, DUE - timedelta(days=2), hooks=False)
    repay_loan(engine, "L1", DUE - timedelta(days=1), Money(1_200_00, "CNY"), "pay-L1")
    run_eod(engine, OVERDUE_DAY, hooks=False)
    col.run(engine, OVERDUE_DAY)
    return {c["loan_id"]: c["case_id"] for c in js(col.list_cases(engine, status="open"))}


def _rows(engine: Engine, table: Any, case_id: str) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(table).where(table.c.case_id == case_id)))


def _queue_order(html: str) -> list[str]:
    return re.findall(r'data-testid="queue-row" data-case-id="([^"]+)"', html)


def test_pages_render_for_readers_in_both_languages_and_refuse_the_rest(login_as: Login, book: dict[str, str]
                                                                       ) -> None:
    case = book["L0"]
    pages = {"/console/collections": "/console/collections",
             **{f"/console/collections?view={v}": "/console/collections" for v in QUEUE_VIEWS},
             f"/console/collections/{case}": "/console/collections/{case_id}"}
    assert set(READERS) == set(MATRIX[("GET", "/console/collections")])
    for role in staff.STAFF_ROLES:
        client = login_as(role)
        for url, route in pages.items():
            for lang, title in (("en", "Collections"), ("zh-CN", "催收")):
                client.cookies.set("ls_lang", lang)
                response = client.get(url)
                if role in MATRIX[("GET", route)]:
                    assert response.status_code == 200, (role, url, lang)
                    assert title in response.text and f'<html lang="{lang}">' in response.text
                    assert 'data-testid="nav-collections"' in response.text
                else:
                    assert response.status_code == 403, (role, url)
        home = client.get("/console/loans")
        assert ('data-testid="nav-collections"' in home.text) == (role in READERS)


def test_queue_is_in_priority_order_with_mine_and_assignment_by_admin(login_as: Login, engine: Engine,
                                                                      book: dict[str, str]) -> None:
    admin, agent = login_as("admin"), login_as("collections_agent")
    other = login_as("collections_agent")
    agent_name = "collectionsagent1"  # login_as names users <role without _><n>
    queue = admin.get("/console/collections")
    # L2 owes twice what L0 owes at the same P(roll): the service's work order, and the page's.
    assert _queue_order(queue.text) == [book["L2"], book["L0"]] == [c["case_id"] for c in js(col.list_queue(engine))]
    assert queue.text.count('data-testid="assign-form"') == 2 and agent_name in queue.text
    assert 'data-testid="assign-form"' not in agent.get("/console/collections").text
    assert _queue_order(agent.get("/console/collections?view=mine").text) == []

    assigned = admin.post(f"/console/collections/{book['L0']}/assign", follow_redirects=False,
                          data={"csrf_token": csrf_of(admin), "collector": agent_name, "back": "queue"})
    assert assigned.status_code == 303 and assigned.headers["location"].startswith("/console/collections?")
    assert _queue_order(agent.get("/console/collections?view=mine").text) == [book["L0"]]
    assert _queue_order(other.get("/console/collections?view=mine").text) == []
    assert _queue_order(agent.get("/console/collections?view=unassigned").text) == [book["L2"]]
    case_page = agent.get(f"/console/collections/{book['L0']}")
    assert f'data-testid="case-collector">{agent_name}<' in case_page.text

    before = counts(engine)
    for bad in ("nobody", "admin0", ""):  # not an enabled collections agent (admin0 is the admin)
        refused = admin.post(f"/console/collections/{book['L2']}/assign",
                             data={"csrf_token": csrf_of(admin), "collector": bad})
        assert refused.status_code == 422 and 'data-testid="error-collector"' in refused.text, bad
    forbidden = agent.post(f"/console/collections/{book['L2']}/assign",
                           data={"csrf_token": csrf_of(agent), "collector": agent_name})
    assert forbidden.status_code == 403
    assert counts(engine) == before
    assert js(col.get_case(engine, book["L2"]))["collector"] == ""
    # the other collector may not work a case assigned to someone else
    blocked = other.post(f"/console/collections/{book['L0']}/contacts",
                         data={"csrf_token": csrf_of(other), "outcome": "reached", "note": "not mine"})
    assert blocked.status_code == 422 and 'data-testid="form-error"' in blocked.text and "assigned to" in blocked.text
    assert js(col.get_case(engine, book["L0"]))["collector"] == agent_name
    assert counts(engine) == before


def test_contact_and_promise_posted_through_the_console_are_stored_shown_and_audited(
        login_as: Login, engine: Engine, book: dict[str, str]) -> None:
    case_id = book["L0"]
    agent = login_as("collections_agent")
    page = agent.get(f"/console/collections/{case_id}")
    assert 'data-testid="contact-form"' in page.text and 'data-testid="promise-form"' in page.text
    assert 'data-testid="message"' in page.text  # the run's dunning message, through the outbox channel
    logged = agent.post(f"/console/collections/{case_id}/contacts", follow_redirects=False, data={
        "csrf_token": csrf_of(agent), "outcome": "no_answer", "note": "rang twice <b>at noon</b>"})
    assert logged.status_code == 303 and logged.headers["location"].endswith("flash=contact_logged")
    (contact,) = _rows(engine, collection_contacts, case_id)
    assert (contact.outcome, contact.note, contact.by) == ("no_answer", "rang twice <b>at noon</b>",
                                                           "collectionsagent0")

    promised_for = OVERDUE_DAY + timedelta(days=5)
    made = agent.post(f"/console/collections/{case_id}/promises", follow_redirects=False, data={
        "csrf_token": csrf_of(agent), "amount": "1,234.56", "promised_for": promised_for.isoformat(),
        "note": "salary on Friday"})
    assert made.status_code == 303
    (promise,) = _rows(engine, collection_promises, case_id)
    assert (promise.amount_minor, promise.promised_for, promise.made_on, promise.status, promise.by) == (
        123456, promised_for, OVERDUE_DAY, "pending", "collectionsagent0")

    shown = agent.get(logged.headers["location"].replace("contact_logged", "promise_recorded"))
    assert 'data-testid="flash"' in shown.text
    assert shown.text.count('data-testid="contact"') == 2  # the call, and the contact the promise was made in
    assert "rang twice &lt;b&gt;at noon&lt;/b&gt;" in shown.text  # escaped, never markup
    assert 'data-testid="promise" data-status="pending"' in shown.text and "1,234.56 CNY" in shown.text
    agent.cookies.set("ls_lang", "zh-CN")
    zh = agent.get(f"/console/collections/{case_id}")
    assert "无人接听" in zh.text and "待定" in zh.text
    with engine.connect() as conn:
        audited = {tuple(r) for r in conn.execute(select(api_audit.c.key_id, api_audit.c.method, api_audit.c.path,
                                                         api_audit.c.status))}
    assert {("user:collectionsagent0", "POST", f"/console/collections/{case_id}/contacts", 303),
            ("user:collectionsagent0", "POST", f"/console/collections/{case_id}/promises", 303)} <= audited


BAD_CONTACTS = [
    ({"outcome": "promised"}, "outcome"),  # a promise needs its own form (amount and date)
    ({"outcome": "shouted"}, "outcome"),
    ({"outcome": ""}, "outcome"),
    ({"outcome": "reached", "note": "x" * 2001}, "note"),
]
BAD_PROMISES = [
    ({"amount": "", "promised_for": "2026-02-22"}, "amount"),
    ({"amount": "12.345", "promised_for": "2026-02-22"}, "amount"),  # below a fen
    ({"amount": "-5", "promised_for": "2026-02-22"}, "amount"),
    ({"amount": "0", "promised_for": "2026-02-22"}, "amount"),
    ({"amount": "abc", "promised_for": "2026-02-22"}, "amount"),
    ({"amount": "99999999", "promised_for": "2026-02-22"}, "amount"),  # more than the loan owes
    ({"amount": "100", "promised_for": ""}, "promised_for"),
    ({"amount": "100", "promised_for": "22/02/2026"}, "promised_for"),
    ({"amount": "100", "promised_for": "2026-02-19"}, "promised_for"),  # before the business date
    ({"amount": "100", "promised_for": "2026-03-07"}, "promised_for"),  # 15 days ahead: over the limit of 14
]


def test_bad_input_names_the_field_and_writes_nothing(login_as: Login, engine: Engine, book: dict[str, str]
                                                      ) -> None:
    case_id = book["L2"]
    admin = login_as("admin")
    before = counts(engine)
    for form, field in BAD_CONTACTS:
        answer = admin.post(f"/console/collections/{case_id}/contacts", data={"csrf_token": csrf_of(admin), **form})
        assert answer.status_code == 422, form
        assert f'data-testid="error-{field}"' in answer.text and 'data-testid="form-error"' in answer.text, form
    for form, field in BAD_PROMISES:
        answer = admin.post(f"/console/collections/{case_id}/promises", data={"csrf_token": csrf_of(admin), **form})
        assert answer.status_code == 422, form
        assert f'data-testid="error-{field}"' in answer.text, (form, answer.text[:2000])
        assert f'value="{form["amount"]}"' in answer.text  # the form comes back as typed
    assert counts(engine) == before
    # the boundary: 14 days ahead is still a promise
    ok = admin.post(f"/console/collections/{case_id}/promises", follow_redirects=False, data={
        "csrf_token": csrf_of(admin), "amount": "0.01", "promised_for": (OVERDUE_DAY + timedelta(days=14)).isoformat()})
    assert ok.status_code == 303 and len(_rows(engine, collection_promises, case_id)) == 1
    second = admin.post(f"/console/collections/{case_id}/promises", data={
        "csrf_token": csrf_of(admin), "amount": "1", "promised_for": "2026-02-25"})
    assert second.status_code == 422 and "still pending" in second.text  # one pending promise at a time
    after = counts(engine)
    for path, form in ((f"/console/collections/{case_id}/contacts", {"outcome": "reached"}),
                       (f"/console/collections/{case_id}/promises", {"amount": "1", "promised_for": "2026-02-25"}),
                       (f"/console/collections/{case_id}/assign", {"collector": "x"})):
        for token in ({}, {"csrf_token": "forged"}):
            refused = admin.post(path, data={**form, **token})
            assert refused.status_code == 403 and refused.json()["field"] == "csrf_token", path
    assert counts(engine) == after
    missing = admin.post("/console/collections/C-nope/contacts", data={"csrf_token": csrf_of(admin),
                                                                      "outcome": "reached"})
    assert missing.status_code == 404 and counts(engine) == after


def test_promises_kept_and_broken_show_on_the_case_page(login_as: Login, engine: Engine, book: dict[str, str]
                                                       ) -> None:
    agent = login_as("collections_agent")
    due = (OVERDUE_DAY + timedelta(days=1)).isoformat()
    for loan_id, amount in (("L0", "500.00"), ("L2", "500.00")):
        posted = agent.post(f"/console/collections/{book[loan_id]}/promises", follow_redirects=False,
                            data={"csrf_token": csrf_of(agent), "amount": amount, "promised_for": due})
        assert posted.status_code == 303
    repay_loan(engine, "L2", OVERDUE_DAY + timedelta(days=1), Money(500_00, "CNY"), "keep-L2")  # L0 pays nothing
    later = OVERDUE_DAY + timedelta(days=3)  # the promised day + 1 grace day has passed
    run_eod(engine, later, hooks=False)
    report = js(col.run(engine, later))
    assert (report["promises_kept"], report["promises_broken"]) == (1, 1)
    kept = agent.get(f"/console/collections/{book['L2']}")
    assert 'data-testid="promise" data-status="kept"' in kept.text and ">500.00 CNY<" in kept.text
    broken = agent.get(f"/console/collections/{book['L0']}")
    assert 'data-testid="promise" data-status="broken"' in broken.text
    assert "the payment you promised has not arrived" in broken.text  # the promise_broken SMS, in English
    assert "Escalated" in broken.text
    agent.cookies.set("ls_lang", "zh-CN")
    zh = agent.get(f"/console/collections/{book['L0']}")
    assert "您承诺的还款未按时到账" in zh.text and "已违约" in zh.text


def test_every_logged_outcome_has_words_in_both_languages() -> None:
    from lendstack.web.lang import LANGUAGES, catalog

    for lang in LANGUAGES:
        words = catalog(lang)
        assert all(f"collections.outcome.{o}" in words for o in (*LOGGED_OUTCOMES, "promised"))
        assert all(f"collections.view.{v}" in words for v in QUEUE_VIEWS)
