"""The loan page's refund form: shown with the suspense balance while there is some, to the roles that
take repayments; CSRF-checked; one form key refunds once; bad input re-draws the page with the error
under the refund form and writes nothing. Commands are dated on the book's business date (the
forms' default); the tests move it with end of day (tests.book_dates.advance_to)."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import Engine, select

from lendstack.money import Money
from lendstack.money.money import format_minor
from lendstack.services.loans import book_loan, disburse_loan, get_loan, prepay_loan, repay_loan
from lendstack.store.tables import journal_entries
from lendstack.web.lang import LANGUAGES, catalog
from tests.book_dates import advance_to
from tests.services.test_services_loans import prepay_anytime
from tests.web.conftest import TODAY, Login, counts, csrf_of
from tests.web.test_console_pages import hidden

OVERPAID_MINOR = 100_000


def overpaid_loan(engine: Engine, loan_id: str = "R1") -> str:
    book_loan(engine, loan_id=loan_id, product="consumer_cny_12m", amount=Money(12_000_00, "CNY"), term=12,
              on=TODAY, key=f"book-{loan_id}")
    disburse_loan(engine, loan_id, TODAY, f"disb-{loan_id}")
    advance_to(engine, TODAY + timedelta(days=1))
    repay_loan(engine, loan_id, TODAY + timedelta(days=1), Money(OVERPAID_MINOR, "CNY"), f"over-{loan_id}")
    return loan_id


def test_the_form_shows_the_suspense_to_who_may_refund(login_as: Login, engine: Engine) -> None:
    loan_id = overpaid_loan(engine)
    for role, shown in (("admin", True), ("collections_agent", True), ("credit_officer", False),
                        ("risk_manager", False), ("auditor", False)):
        page = login_as(role).get(f"/console/loans/{loan_id}")
        assert page.status_code == 200
        assert ('data-testid="refund-form"' in page.text) is shown, role
        if shown:
            assert 'data-testid="refund-suspense">1,000.00 CNY<' in page.text
            prefilled = re.search(r'name="refund_amount"[^>]*value="([^"]*)"', page.text)
            assert prefilled is not None and prefilled.group(1) == "1000.00"  # the whole balance, ready to refund


def test_refund_once_per_form_key_and_bad_input_changes_nothing(login_as: Login, engine: Engine) -> None:
    loan_id = overpaid_loan(engine)
    on = (TODAY + timedelta(days=2)).isoformat()
    advance_to(engine, TODAY + timedelta(days=2))
    collector = login_as("collections_agent")
    page = collector.get(f"/console/loans/{loan_id}")
    key = hidden(page.text, "refund_key")
    assert re.search(rf'name="refund_on"[^>]*value="{on}"', page.text)  # the business date, prefilled
    form = {"csrf_token": csrf_of(collector), "refund_key": key, "refund_amount": "400.00", "refund_on": on}
    done = collector.post(f"/console/loans/{loan_id}/refund", data=form, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].endswith("?flash=refunded")
    after = get_loan(engine, loan_id)
    assert after.suspense_minor == OVERPAID_MINOR - 40_000
    retry = collector.post(f"/console/loans/{loan_id}/refund", data=form, follow_redirects=False)
    assert retry.status_code == 303 and get_loan(engine, loan_id) == after  # the same form key: refunded once

    before = counts(engine)
    for field, bad, error_field in (("refund_amount", "600.01", "amount_minor"), ("refund_amount", "0", "amount_minor"),
                                    ("refund_amount", "-5", "amount_minor"), ("refund_amount", "1.001", "amount"),
                                    ("refund_amount", "", "refund_amount"), ("refund_on", "2999-01-01", "on"),
                                    ("refund_on", (TODAY + timedelta(days=3)).isoformat(), "on"),
                                    ("refund_on", TODAY.isoformat(), "on")):
        page = collector.post(f"/console/loans/{loan_id}/refund", data={**form, "refund_key": f"k-{bad}", field: bad})
        assert page.status_code == 422, (field, bad)
        assert f'data-testid="error-{error_field}"' in page.text, (field, bad, error_field)
        # One field error, under the refund form: the repay form (also on the page) does not claim it.
        assert page.text.count('class="field-error"') == 1 and 'id="repay-form"' in page.text
        refund_part = page.text.split('id="refund-form"', 1)[1].split("</form>", 1)[0]
        assert f'data-testid="error-{error_field}"' in refund_part
    assert counts(engine) == before and get_loan(engine, loan_id) == after
    over = collector.post(f"/console/loans/{loan_id}/refund", data={**form, "refund_key": "k-over",
                                                                    "refund_amount": "600.01"})
    assert "suspense balance of 60000 minor units" in over.text

    no_csrf = collector.post(f"/console/loans/{loan_id}/refund", data={**form, "csrf_token": "", "refund_key": "k9"})
    assert no_csrf.status_code == 403 and no_csrf.json()["field"] == "csrf_token"
    assert counts(engine) == before

    rest = collector.post(f"/console/loans/{loan_id}/refund", data={**form, "refund_key": "k-rest",
                                                                    "refund_amount": "600.00"}, follow_redirects=False)
    assert rest.status_code == 303 and get_loan(engine, loan_id).suspense_minor == 0
    shown = collector.get(f"/console/loans/{loan_id}?flash=refunded")
    assert 'data-testid="refund-form"' not in shown.text and 'data-testid="flash"' in shown.text
    assert shown.text.count("loan.refunded") >= 2  # the history lists both refunds


def test_a_loan_with_nothing_in_suspense_has_no_refund_form(login_as: Login, engine: Engine) -> None:
    book_loan(engine, loan_id="R2", product="consumer_cny_12m", amount=Money(12_000_00, "CNY"), term=12, on=TODAY,
              key="book-R2")
    disburse_loan(engine, "R2", TODAY, "disb-R2")
    page = login_as("admin").get("/console/loans/R2")
    assert page.status_code == 200 and 'data-testid="refund-form"' not in page.text


def test_the_refund_words_are_in_both_languages() -> None:
    for lang in LANGUAGES:
        words = catalog(lang)
        for key in ("loan.refund", "loan.refund_help", "loan.refund_amount", "flash.refunded"):
            assert words[key].strip(), (lang, key)
    assert catalog("zh-CN")["loan.refund"] != catalog("en")["loan.refund"]


def test_a_closed_loans_overpayment_is_refunded_from_the_console(login_as: Login, engine: Engine) -> None:
    # Paid off in its first period: a product without consumer_cny_12m's 3 periods before a prepayment.
    book_loan(engine, loan_id="R3", product=prepay_anytime(), amount=Money(12_000_00, "CNY"), term=12, on=TODAY,
              key="book-R3")
    disburse_loan(engine, "R3", TODAY, "disb-R3")
    advance_to(engine, TODAY + timedelta(days=20))
    closed = prepay_loan(engine, "R3", TODAY + timedelta(days=20), Money(13_000_00, "CNY"), "payoff", full=True)
    assert closed["status"] == "closed" and closed["suspense_minor"] > 0
    admin = login_as("admin")
    page = admin.get("/console/loans/R3")
    assert 'data-testid="refund-form"' in page.text and 'id="repay-form"' not in page.text
    form = {"csrf_token": csrf_of(admin), "refund_key": hidden(page.text, "refund_key"),
            "refund_amount": format_minor(closed["suspense_minor"], "CNY")}  # value date: the business date
    done = admin.post("/console/loans/R3/refund", data=form, follow_redirects=False)
    assert done.status_code == 303, done.text[:500]
    refunded = get_loan(engine, "R3")
    assert refunded.suspense_minor == 0 and refunded.status.value == "closed"
    with engine.connect() as conn:
        [refund_day] = conn.execute(select(journal_entries.c.effective_date).where(
            journal_entries.c.loan_id == "R3", journal_entries.c.kind == "refund")).scalars().all()
    assert str(refund_day) == (TODAY + timedelta(days=20)).isoformat()
