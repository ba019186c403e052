"""Issue 12 §5, in a real browser: the console works under its Content-Security-Policy. No page logs a
CSP violation; the charts (ECharts from /static) draw; the filter selects submit on change (the
handler moved from inline `onchange` to /static/console.js); htmx runs."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect

from tests.e2e.conftest import Book
from tests.e2e.test_console_e2e import NewPage, log_in, wait_for_htmx

VIOLATION = re.compile(r"content security policy|refused to (execute|load|apply)", re.I)


def watch_violations(page: Page) -> list[str]:
    """Every CSP violation the page reports (console messages and securitypolicyviolation events)."""
    seen: list[str] = []
    page.on("console", lambda message: seen.append(message.text) if VIOLATION.search(message.text) else None)
    page.add_init_script("""document.addEventListener("securitypolicyviolation", function (e) {
        console.error("Content Security Policy violation: " + e.violatedDirective + " " + e.blockedURI);
    });""")
    return seen


def test_pages_run_under_the_csp_without_violations(console: str, book: Book, new_page: NewPage) -> None:
    page = new_page()
    violations = watch_violations(page)
    log_in(page, console, book, "admin")
    response = page.goto(f"{console}/console/dashboard")
    assert response is not None and "script-src 'self'" in (response.headers.get("content-security-policy") or "")
    wait_for_htmx(page)
    expect(page.locator("canvas").first).to_be_visible()  # ECharts drew the dashboard
    page.goto(f"{console}/console/loans/{book.active_loan_id}")
    wait_for_htmx(page)
    if page.locator("#dpd-chart").count():
        expect(page.locator("#dpd-chart canvas")).to_be_visible()
    page.goto(f"{console}/console/applications")
    wait_for_htmx(page)
    select = page.locator("select[data-autosubmit]").first
    values: list[Any] = select.locator("option").evaluate_all("options => options.map(o => o.value)")
    choice = next(v for v in values if v)
    select.select_option(choice)  # console.js submits the form
    expect(page).to_have_url(re.compile(rf"[?&]{select.get_attribute('name')}={re.escape(str(choice))}"))
    for path in ("/console/reviews", "/console/alerts", "/console/reports", "/console/staff"):
        page.goto(console + path)
        wait_for_htmx(page)
    assert violations == []
