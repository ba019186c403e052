"""The console in a real browser (Debian chromium, headless, driven by Playwright), over a seeded
SQLite book served by uvicorn: log in, submit, review, open a loan, disburse, repay, watch the
dashboard move, switch to 中文, log out; and the auditor's read-only view. Screenshots of every key
step land in test-artifacts/e2e/ (paths printed; `pytest -s` shows them)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from lendstack.api.app import create_app
from lendstack.api.keys import create_key
from lendstack.services.business_date import business_date
from lendstack.services.decisions import list_reviews
from lendstack.services.loans import get_loan
from lendstack.store import UnitOfWork
from lendstack.store.decision_repo import DecisionRepository
from lendstack.store.origination_repo import ApplicationRepository
from lendstack.web.lang import catalog
from lendstack.web.render import money
from tests.book_dates import advance_to
from tests.e2e.conftest import Book

EN, ZH = catalog("en"), catalog("zh-CN")
Shot = Callable[[Any, str], Path]
NewPage = Callable[..., Page]
CJK = re.compile(r"[\u4e00-\u9fff]")


def month_before(day: date) -> date:
    """The same day a month earlier (clamped to the 28th, which every month has)."""
    year, month = (day.year, day.month - 1) if day.month > 1 else (day.year - 1, 12)
    return date(year, month, min(day.day, 28))


def wait_for_htmx(page: Page) -> None:
    """The page has loaded and htmx (a deferred script) has taken over its hx- forms."""
    page.wait_for_load_state("load")
    page.wait_for_function("() => typeof window.htmx !== 'undefined'")


def log_in(page: Page, base_url: str, book: Book, role: str) -> None:
    username, password = book.login(role)
    page.goto(base_url + "/login")
    page.get_by_test_id("username").fill(username)
    page.get_by_test_id("password").fill(password)
    page.get_by_test_id("login-submit").click()
    expect(page).to_have_url(re.compile(r"/console/"))
    expect(page.get_by_test_id("whoami")).to_contain_text(EN[f"role.{role}"])


def stored_status(book: Book, application_id: str) -> str:
    with UnitOfWork(book.engine) as uow:
        return ApplicationRepository(uow.connection).status_of(application_id)


def stored_reason_codes(book: Book, application_id: str) -> list[str]:
    with UnitOfWork(book.engine) as uow:
        stored = DecisionRepository(uow.connection).get(application_id)
    assert stored is not None, f"{application_id} has a stored decision"
    return [r["code"] for r in stored.decision["reasons"]]


def application_count(book: Book) -> int:
    with book.engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT count(*) FROM applications").scalar_one())


def dashboard_numbers(page: Page, base_url: str) -> tuple[str, str]:
    """(outstanding CNY, live CNY loans) as the dashboard tiles show them."""
    page.goto(base_url + "/console/dashboard")
    return (page.get_by_test_id("kpi-outstanding-CNY").inner_text().strip(),
            page.get_by_test_id("kpi-live-CNY").inner_text().strip())


# --------------------------------------------------------------------------- the harness on its own


def test_harness_serves_the_api_and_its_docs(live_server: Callable[..., str], book: Book, new_page: NewPage,
                                             shot: Shot) -> None:
    """The seeded book is what the served app (another thread) sees, fetched by the browser."""
    base_url = live_server(create_app(book.engine, registry_dir=book.registry_dir), "/v1/openapi.json")
    page = new_page(script_errors_ok=True)  # Swagger UI's script comes from a CDN, which is out of reach
    response = page.goto(base_url + "/v1/docs")
    assert response is not None and response.status == 200
    assert "lendstack open API" in page.title()
    spec = page.evaluate("async () => (await fetch('/v1/openapi.json')).text()")
    assert json.loads(spec)["openapi"].startswith("3.")
    token = create_key(book.engine, "auditor").token
    listed = page.evaluate("""async (token) => {
        const r = await fetch('/v1/applications?status=referred', {headers: {Authorization: 'Bearer ' + token}});
        return [r.status, await r.text()]; }""", token)
    assert listed[0] == 200, listed
    assert sorted(a["application_id"] for a in json.loads(listed[1])["items"]) == sorted(book.decided["refer"])
    shot(page, "api-docs")


# --------------------------------------------------------------------------- the whole journey


def test_login_submit_review_book_repay_dashboard_language_logout(console: str, book: Book, new_page: NewPage,
                                                                   shot: Shot) -> None:
    steps = StepClock()
    officer = new_page()
    with steps("bad password"):
        _login_refuses_a_bad_password(officer, console, book, shot)
    with steps("log in, dashboard"):
        log_in(officer, console, book, "credit_officer")
        outstanding_before, live_before = dashboard_numbers(officer, console)
        shot(officer, "02-dashboard-before")
    with steps("submit"):
        _submit_an_application(officer, console, book, shot)
    referred = book.decided["refer"][0]
    with steps("review"):
        _review_and_approve(officer, console, book, referred, shot)
    with steps("accept, disburse"):
        loan_id = _accept_and_disburse(officer, console, book, referred, shot)
    collector = new_page()
    with steps("collector repays"):
        log_in(collector, console, book, "collections_agent")
        _repay_first_installment(collector, console, book, loan_id, shot)
    with steps("dashboard after"):
        outstanding_after, live_after = dashboard_numbers(officer, console)
        shot(officer, "09-dashboard-after")
        assert int(live_after) == int(live_before) + 1, (live_before, live_after)
        assert outstanding_after != outstanding_before, outstanding_after
        expected_outstanding = sum(get_loan(book.engine, i).principal_outstanding_minor
                                   for i in (book.active_loan_id, loan_id))
        assert outstanding_after == money(expected_outstanding, "CNY")
        expect(officer.get_by_test_id("kpi-reconciled-CNY")).to_have_text(EN["dash.kpi.reconciled"])
    with steps("中文, log out"):
        _switch_to_chinese(officer, shot)
        _log_out(officer, console, shot)
    print("steps:", steps)


class StepClock:
    """Wall time per step of a journey, printed at the end (`pytest -s`): where a slow run spends it."""

    def __init__(self) -> None:
        self.ms: dict[str, int] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.ms[name] = round((time.perf_counter() - started) * 1000)

    def __str__(self) -> str:
        return ", ".join(f"{name} {ms} ms" for name, ms in self.ms.items())


def _login_refuses_a_bad_password(page: Page, base_url: str, book: Book, shot: Shot) -> None:
    username, _password = book.login("credit_officer")
    page.goto(base_url + "/console/loans")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fconsole%2Floans$"))  # not logged in: sent to log in
    page.get_by_test_id("username").fill(username)
    page.get_by_test_id("password").fill("not-the-password")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-error")).to_have_text(EN["login.error_bad"])
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_test_id("whoami")).to_have_count(0)
    shot(page, "01-bad-password")


def _fill_application(page: Page, amount: str) -> None:
    page.get_by_test_id("product_id").select_option("consumer_cny_12m")
    page.get_by_test_id("amount").fill(amount)
    page.get_by_test_id("term_months").fill("12")
    page.get_by_test_id("purpose").select_option(index=0)
    page.get_by_test_id("collateral").select_option("none")
    page.get_by_test_id("applicant_type").select_option("individual")
    page.get_by_test_id("age").fill("35")
    page.get_by_test_id("phone").fill("+86 138 0000 0001")
    page.get_by_test_id("monthly_income").fill("15000.00")
    page.get_by_test_id("bureau_score").fill("720")


def _submit_an_application(page: Page, base_url: str, book: Book, shot: Shot) -> None:
    page.get_by_test_id("nav-submit").click()
    expect(page).to_have_url(base_url + "/console/applications/new")
    count_before = application_count(book)
    _fill_application(page, "twenty thousand")  # not an amount: refused, naming the field, nothing stored
    page.get_by_test_id("submit-application").click()
    expect(page.get_by_test_id("form-error")).to_contain_text("amount")
    expect(page.get_by_test_id("error-amount")).to_be_visible()
    assert application_count(book) == count_before
    shot(page, "03-submit-invalid-amount")

    page.get_by_test_id("amount").fill("20000.00")
    page.get_by_test_id("submit-application").click()
    expect(page).to_have_url(re.compile(r"/console/applications/C[0-9]{8}-[0-9a-f]{10}\?flash=submitted$"))
    expect(page.get_by_test_id("flash")).to_have_text(EN["flash.submitted"])
    application_id = page.get_by_test_id("application-id").inner_text().strip()
    assert application_count(book) == count_before + 1
    status = stored_status(book, application_id)
    assert status in ("approved", "referred", "declined"), status
    expect(page.get_by_test_id("status").first).to_have_text(EN[f"status.{status}"])
    # Every stored reason code is on the page, each with its English and Chinese text.
    codes = stored_reason_codes(book, application_id)
    assert codes, "a decision carries reason codes"
    rows = page.get_by_test_id("reason")
    expect(rows).to_have_count(len(codes))
    for i, code in enumerate(codes):
        cells = rows.nth(i).locator("td")
        expect(cells.nth(0)).to_have_text(code)
        assert cells.nth(2).inner_text().strip(), f"{code} has English text"
        assert CJK.search(cells.nth(3).inner_text()), f"{code} has Chinese text"
    shot(page, "04-decision")


def _review_and_approve(page: Page, base_url: str, book: Book, application_id: str, shot: Shot) -> None:
    assert stored_status(book, application_id) == "referred"
    page.get_by_test_id("nav-reviews").click()
    expect(page).to_have_url(base_url + "/console/reviews")
    wait_for_htmx(page)  # else a quick click posts the plain form before htmx takes it over
    row = page.locator(f"tr[data-testid=review-row][data-application-id='{application_id}']")
    expect(row.get_by_test_id("review-status")).to_have_text(EN["review_status.open"])
    # An approval without a note is refused, naming the field (the browser's own `required` check is
    # lifted, so the server's check is what is tested); the row stays open.
    row.get_by_test_id("review-note").evaluate("input => input.removeAttribute('required')")
    row.get_by_test_id("review-approve").click()
    expect(row.get_by_test_id("row-error")).to_contain_text("note")
    expect(row.get_by_test_id("review-status")).to_have_text(EN["review_status.open"])
    assert stored_status(book, application_id) == "referred"
    shot(page, "05-review-needs-a-note")

    row.get_by_test_id("review-note").fill("Income confirmed with the employer by phone")
    row.get_by_test_id("review-approve").click()  # htmx swaps the row in place
    expect(row.get_by_test_id("review-status")).to_have_text(EN["review_status.done"])
    expect(page).to_have_url(base_url + "/console/reviews")  # no reload: the row was swapped
    expect(row.get_by_test_id("review-action")).to_have_text(EN["review_action.approve"])
    expect(row.get_by_test_id("review-form")).to_have_count(0)
    assert stored_status(book, application_id) == "approved"
    shot(page, "06-reviewed")


def _accept_and_disburse(page: Page, base_url: str, book: Book, application_id: str, shot: Shot) -> str:
    page.goto(f"{base_url}/console/applications/{application_id}")
    expect(page.get_by_test_id("status").first).to_have_text(EN["status.approved"])
    page.get_by_test_id("accept-offer").click()
    expect(page).to_have_url(re.compile(r"/console/loans/LN-[0-9a-f]+\?flash=booked$"))  # a random loan id
    with UnitOfWork(book.engine) as uow:
        loan_id = ApplicationRepository(uow.connection).loan_id(application_id)
    expect(page).to_have_url(f"{base_url}/console/loans/{loan_id}?flash=booked")
    expect(page.get_by_test_id("loan-status")).to_have_text(EN["loan_status.approved"])
    # Money moves on the book's business date: the form offers it, and a back-dated value date (a day
    # end of day has closed) is refused, naming the date, with nothing paid out.
    opened = business_date(book.engine)
    assert opened is not None, "the seeding opened the book"
    expect(page.get_by_test_id("business-date")).to_contain_text(opened.isoformat())
    expect(page.get_by_test_id("disburse-on")).to_have_value(opened.isoformat())
    page.get_by_test_id("disburse-on").fill(month_before(opened).isoformat())
    page.get_by_test_id("disburse-submit").click()
    expect(page.get_by_test_id("form-error")).to_contain_text("before the business date")
    expect(page.get_by_test_id("loan-status")).to_have_text(EN["loan_status.approved"])
    assert get_loan(book.engine, loan_id).disbursed_on is None
    shot(page, "07a-disburse-back-dated-refused")
    page.get_by_test_id("disburse-on").fill(opened.isoformat())
    page.get_by_test_id("disburse-submit").click()
    expect(page).to_have_url(f"{base_url}/console/loans/{loan_id}?flash=disbursed")
    expect(page.get_by_test_id("loan-status")).to_have_text(EN["loan_status.active"])
    loan = get_loan(book.engine, loan_id)
    assert loan.principal_outstanding_minor == loan.principal_minor > 0 and loan.disbursed_on == opened
    expect(page.get_by_test_id("outstanding")).to_have_text(money(loan.principal_minor, "CNY"))
    expect(page.get_by_test_id("installment")).to_have_count(loan.term)
    expect(page.get_by_test_id("repay-form")).to_have_count(0)  # a credit officer does not take payments
    shot(page, "07-loan-disbursed")
    return loan_id


def _repay_first_installment(page: Page, base_url: str, book: Book, loan_id: str, shot: Shot) -> None:
    """Pays the first installment on its due date: principal falls by exactly its principal part, and
    nothing is left over in suspense. End of day first moves the book to the due date (a simulation
    a month ahead of the calendar, as `lendstack eod --allow-future` would)."""
    loan = get_loan(book.engine, loan_id)
    first = loan.installments[0]
    advance_to(book.engine, first.due_date)
    assert business_date(book.engine) == first.due_date
    page.goto(f"{base_url}/console/loans/{loan_id}")
    expect(page.get_by_test_id("business-date")).to_contain_text(first.due_date.isoformat())
    expect(page.get_by_test_id("repay-on")).to_have_value(first.due_date.isoformat())  # the business date
    due_minor = first.principal_minor + first.interest_minor + first.fee_minor
    expect(page.get_by_test_id("payment")).to_have_count(0)
    page.get_by_test_id("repay-amount").fill("-5")  # refused, naming the field; nothing posted
    page.get_by_test_id("repay-submit").click()
    expect(page.get_by_test_id("error-amount")).to_be_visible()
    expect(page.get_by_test_id("payment")).to_have_count(0)
    assert get_loan(book.engine, loan_id).principal_outstanding_minor == loan.principal_minor

    page.get_by_test_id("repay-amount").fill(money(due_minor, "CNY").removesuffix(" CNY"))
    expect(page.get_by_test_id("repay-on")).to_have_value(first.due_date.isoformat())
    page.get_by_test_id("repay-submit").click()
    expect(page).to_have_url(f"{base_url}/console/loans/{loan_id}?flash=repaid")
    expect(page.get_by_test_id("flash")).to_have_text(EN["flash.repaid"])
    payments = page.get_by_test_id("payment")
    expect(payments).to_have_count(1)
    expect(payments.first.locator("td").nth(2)).to_have_text(money(due_minor, "CNY"))
    after = get_loan(book.engine, loan_id)
    assert after.principal_outstanding_minor == loan.principal_minor - first.principal_minor
    assert after.suspense_minor == 0
    expect(page.get_by_test_id("outstanding")).to_have_text(money(after.principal_outstanding_minor, "CNY"))
    shot(page, "08-repaid")


def _switch_to_chinese(page: Page, shot: Shot) -> None:
    page.get_by_test_id("lang-zh-CN").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_test_id("nav-loans")).to_have_text(ZH["nav.loans"])
    expect(page.get_by_test_id("logout")).to_have_text(ZH["nav.logout"])
    assert CJK.search(page.locator("h1").first.inner_text()), "the page heading is in Chinese"
    shot(page, "10-dashboard-zh")


def _log_out(page: Page, base_url: str, shot: Shot) -> None:
    page.get_by_test_id("logout").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_test_id("login-form")).to_be_visible()
    page.goto(base_url + "/console/loans")  # the session is gone: back to the login form
    expect(page).to_have_url(re.compile(r"/login\?next="))
    shot(page, "11-logged-out")


# --------------------------------------------------------------------------- the auditor only reads


def test_auditor_sees_no_review_or_repay_buttons_and_a_direct_post_is_refused(console: str, book: Book,
                                                                              new_page: NewPage,
                                                                              shot: Shot) -> None:
    page = new_page()
    log_in(page, console, book, "auditor")
    referred = book.decided["refer"][1]
    page.goto(console + "/console/reviews")
    row = page.locator(f"tr[data-testid=review-row][data-application-id='{referred}']")
    expect(row).to_have_count(1)
    expect(row.get_by_test_id("review-form")).to_have_count(0)
    expect(page.get_by_test_id("review-approve")).to_have_count(0)
    expect(page.get_by_test_id("assign-to-me")).to_have_count(0)
    shot(page, "reviews-read-only")

    loan_before = get_loan(book.engine, book.active_loan_id)
    page.goto(f"{console}/console/loans/{book.active_loan_id}")
    expect(page.get_by_test_id("loan-status")).to_have_text(EN["loan_status.active"])
    expect(page.get_by_test_id("repay-form")).to_have_count(0)
    expect(page.get_by_test_id("disburse-form")).to_have_count(0)
    shot(page, "loan-read-only")

    # Straight to the endpoints with the auditor's own session and a valid CSRF token: refused by role.
    csrf = page.locator("body").get_attribute("data-csrf-token")
    assert csrf, "the page carries the session's CSRF token"
    repaid = page.request.post(f"{console}/console/loans/{book.active_loan_id}/repay", form={
        "csrf_token": csrf, "amount": "100.00", "idempotency_key": "auditor-try", "on": ""})
    assert repaid.status == 403, repaid.text()
    assert repaid.json()["field"] == "role"
    resolved = page.request.post(f"{console}/console/reviews/{referred}/resolve", form={
        "csrf_token": csrf, "action": "approve", "note": "auditor tries"})
    assert resolved.status == 403, resolved.text()
    # Nothing moved: no payment, the review still open.
    loan_after = get_loan(book.engine, book.active_loan_id)
    assert (loan_after.principal_outstanding_minor, loan_after.suspense_minor) == (
        loan_before.principal_outstanding_minor, loan_before.suspense_minor)
    assert [r.status for r in list_reviews(book.engine) if r.application_id == referred] == ["open"]
    assert stored_status(book, referred) == "referred"
    page.reload()
    expect(page.get_by_test_id("payment")).to_have_count(0)


# --------------------------------------------------------------------------- every page, both languages


def test_every_page_in_the_navigation_renders_in_english_and_chinese(console: str, book: Book, new_page: NewPage,
                                                                     shot: Shot) -> None:
    """The admin sees every page; each answers 200 with a heading, shows no raw i18n key (a missing
    translation) and, in Chinese, a Chinese heading. Uncaught script errors fail the test (new_page)."""
    page = new_page()
    log_in(page, console, book, "admin")
    links = page.locator("#nav a")
    hrefs = [links.nth(i).get_attribute("href") or "" for i in range(links.count())]
    assert {"/console/dashboard", "/console/applications", "/console/reviews", "/console/loans"} <= set(hrefs), hrefs
    hrefs += [f"/console/loans/{book.active_loan_id}", f"/console/applications/{book.decided['decline'][0]}"]
    keys = set(EN)
    for language, words in (("en", EN), ("zh-CN", ZH)):
        page.goto(f"{console}/lang/{language}?next=/console/loans")
        expect(page.locator("html")).to_have_attribute("lang", language)
        for href in hrefs:
            response = page.goto(console + href)
            assert response is not None and response.status == 200, (href, language)
            heading = page.locator("h1").first.inner_text().strip()
            assert heading, f"{href} has a heading"
            shown = set(re.findall(r"[a-z_]+(?:\.[a-z0-9_-]+)+", page.locator("body").inner_text()))
            assert not shown & keys, f"{href} ({language}) shows untranslated keys {sorted(shown & keys)}"
            if language == "zh-CN":
                assert CJK.search(heading), f"{href}: the heading {heading!r} is not in Chinese"
        assert page.get_by_test_id("nav-loans").inner_text() == words["nav.loans"]
    shot(page, "last-page-zh")


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(console: str, book: Book,
                                                                      new_page: NewPage) -> None:
    page = new_page()
    log_in(page, console, book, "admin")  # admin may repay: only the missing token stops this one
    before = get_loan(book.engine, book.active_loan_id)
    refused = page.request.post(f"{console}/console/loans/{book.active_loan_id}/repay",
                                form={"amount": "100.00", "idempotency_key": "no-csrf", "on": ""})
    assert refused.status == 403, refused.text()
    assert refused.json()["field"] == "csrf_token"
    after = get_loan(book.engine, book.active_loan_id)
    assert (after.principal_outstanding_minor, after.suspense_minor) == (
        before.principal_outstanding_minor, before.suspense_minor)
