"""The console's servicing additions: the business date in the header (English and 中文); a written-off
loan's page (written off / recovered / claim still open) with the recover form for admin, collections
and operations; the reverse form for admin and operations on a loan with logged repayments, and the
reversed payment marked; a non-accrual loan's accrual state and memo interest. Bad input re-draws the
page (422) with the field named under the posted form and writes nothing; one form key books once.
(Role × route refusals are walked in test_console_permissions.py.)"""

from __future__ import annotations

import re
from datetime import date, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from lendstack.money import Money
from lendstack.money.money import format_minor
from lendstack.services.business_date import business_date
from lendstack.services.loans import book_loan, disburse_loan, get_loan, repay_loan, write_off_loan
from lendstack.servicing import LoanStatus
from lendstack.store import UnitOfWork
from lendstack.store.reconcile_repo import reconcile_loans
from lendstack.store.tables import journal_entries, loan_commands
from lendstack.web.lang import LANGUAGES, catalog
from tests.book_dates import advance_to
from tests.web.conftest import TODAY, Login, counts, csrf_of, hidden

CNY = "CNY"
PAYMENT_MINOR = 20_000


def money(amount_minor: int) -> str:
    """As the console shows it: '12,345.67 CNY'."""
    major = format_minor(amount_minor, CNY)
    whole, _, cents = major.partition(".")
    return f"{int(whole):,}.{cents} {CNY}"


def book(engine: Engine, loan_id: str, on: date | None = TODAY) -> date:
    """A consumer loan booked and disbursed on `on` (None: the business date); its first due date."""
    book_loan(engine, loan_id=loan_id, product="consumer_cny_12m", amount=Money(1_200_000, CNY), term=12,
              on=on, key=f"book-{loan_id}")
    disburse_loan(engine, loan_id, on, f"disb-{loan_id}")
    return get_loan(engine, loan_id).installments[0].due_date


def written_off_loan(engine: Engine, loan_id: str = "WO") -> int:
    """More than 90 days past due (non-accrual), then written off: the claim written off."""
    first_due = book(engine, loan_id)
    advance_to(engine, first_due + timedelta(days=95))
    assert get_loan(engine, loan_id).non_accrual
    return int(write_off_loan(engine, loan_id, None, f"wo-{loan_id}")["written_off_minor"])


def paid_loan(engine: Engine, loan_id: str = "PD") -> list[str]:
    """Two repayments on the first due date, five days closed since: their entry ids."""
    first_due = book(engine, loan_id)
    advance_to(engine, first_due)
    for n in (1, 2):
        repay_loan(engine, loan_id, None, Money(PAYMENT_MINOR, CNY), f"pay-{n}")
    advance_to(engine, first_due + timedelta(days=5))
    return [f"{loan_id}/repay/pay-1", f"{loan_id}/repay/pay-2"]


def form_part(html: str, form_id: str) -> str:
    return html.split(f'id="{form_id}"', 1)[1].split("</form>", 1)[0]


def text_of(html: str, name: str) -> str:
    """The text of the element with data-testid `name` (tags inside dropped)."""
    found = re.search(rf'<(\w+)[^>]*data-testid="{name}"[^>]*>(.*?)</\1>', html, re.S)
    assert found is not None, f"no data-testid={name}"
    return re.sub(r"<[^>]+>", "", found.group(2)).strip()


# --------------------------------------------------------------------------- the business date


def test_the_header_shows_the_business_date_in_both_languages(login_as: Login, engine: Engine) -> None:
    client = login_as("auditor")
    assert text_of(client.get("/console/loans").text, "business-date") == f"{catalog('en')['book.business_date']} —"
    book(engine, "BD")  # the first money command opens the book on its date
    advance_to(engine, TODAY + timedelta(days=3))
    day = (TODAY + timedelta(days=3)).isoformat()
    for lang, word in (("en", "Business date"), ("zh-CN", "营业日期")):
        client.cookies.set("ls_lang", lang)
        for url in ("/console/loans", "/console/loans/BD", "/console"):
            page = client.get(url)
            assert page.status_code == 200, (lang, url)
            assert text_of(page.text, "business-date") == f"{word} {day}", (lang, url)
    advance_to(engine, TODAY + timedelta(days=4))  # end of day moves it; the next page shows it
    assert text_of(client.get("/console/loans").text, "business-date").endswith((TODAY + timedelta(days=4)).isoformat())


def test_the_login_page_has_no_business_date(site: TestClient, engine: Engine) -> None:
    book(engine, "BD")
    page = site.get("/login")
    assert page.status_code == 200 and 'data-testid="business-date"' not in page.text


# --------------------------------------------------------------------------- written off, recovered


def test_a_written_off_loan_shows_its_claim_and_the_recover_form_to_who_may_recover(login_as: Login,
                                                                                   engine: Engine) -> None:
    claim = written_off_loan(engine)
    for role, shown in (("admin", True), ("collections_agent", True), ("operations", True),
                        ("credit_officer", False), ("risk_manager", False), ("auditor", False)):
        page = login_as(role).get("/console/loans/WO")
        assert page.status_code == 200, role
        assert text_of(page.text, "loan-status") == catalog("en")["loan_status.written_off"]
        assert text_of(page.text, "written-off") == money(claim)
        assert text_of(page.text, "recovered") == money(0)
        assert text_of(page.text, "claim-open") == money(claim)
        assert ('data-testid="recover-form"' in page.text) is shown, role
        assert 'data-testid="repay-form"' not in page.text  # a written-off loan takes no repayments
        if shown:  # the value date is the business date, prefilled
            today = business_date(engine)
            assert today is not None
            assert re.search(rf'name="recover_on"[^>]*value="{today.isoformat()}"', page.text)
    zh = login_as("admin")
    zh.cookies.set("ls_lang", "zh-CN")
    page = zh.get("/console/loans/WO").text
    for key in ("loan.written_off", "loan.recovered", "loan.claim_open", "loan.recover", "loan_status.written_off"):
        assert catalog("zh-CN")[key] in page, key


def test_recover_once_per_form_key_and_the_page_shows_what_was_recovered(login_as: Login, engine: Engine) -> None:
    claim = written_off_loan(engine)
    collector = login_as("collections_agent")
    page = collector.get("/console/loans/WO")
    form = {"csrf_token": csrf_of(collector), "recover_key": hidden(page.text, "recover_key"),
            "recover_amount": "1,234.50"}  # value date left out: the business date
    done = collector.post("/console/loans/WO/recover", data=form, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].endswith("?flash=recovered")
    after = get_loan(engine, "WO")
    assert after.recovered_minor == 123_450 and after.status is LoanStatus.WRITTEN_OFF
    before = counts(engine)
    retry = collector.post("/console/loans/WO/recover", data=form, follow_redirects=False)  # a double submit
    assert retry.status_code == 303 and get_loan(engine, "WO") == after and counts(engine) == before
    shown = collector.get("/console/loans/WO?flash=recovered")
    assert text_of(shown.text, "recovered") == money(123_450)
    assert text_of(shown.text, "claim-open") == money(claim - 123_450)
    assert text_of(shown.text, "flash") == catalog("en")["flash.recovered"]
    payments = shown.text.split('data-testid="payments"', 1)[1].split("</table>", 1)[0]
    assert payments.count('data-testid="payment"') == 1 and "<td>recovery</td>" in payments
    assert hidden(shown.text, "recover_key") != form["recover_key"]  # a new form, a new key
    with engine.connect() as conn:
        days = conn.execute(select(journal_entries.c.effective_date).where(
            journal_entries.c.loan_id == "WO", journal_entries.c.kind == "recovery")).scalars().all()
    assert [str(d) for d in days] == [str(business_date(engine))]
    # The rest of the claim: recovered in full, the form goes away.
    rest = collector.post("/console/loans/WO/recover", follow_redirects=False, data={
        **form, "recover_key": "rest", "recover_amount": format_minor(claim - 123_450, CNY)})
    assert rest.status_code == 303 and get_loan(engine, "WO").claim_after_write_off_minor == 0
    final = collector.get("/console/loans/WO")
    assert 'data-testid="recover-form"' not in final.text and text_of(final.text, "claim-open") == money(0)
    with UnitOfWork(engine) as uow:
        assert uow.ledger.verify() == [] and reconcile_loans(uow.connection).ok


def test_bad_recoveries_redraw_the_page_naming_the_field_and_write_nothing(login_as: Login, engine: Engine) -> None:
    claim = written_off_loan(engine)
    today = business_date(engine)
    assert today is not None
    operations = login_as("operations")
    page = operations.get("/console/loans/WO")
    form = {"csrf_token": csrf_of(operations), "recover_key": hidden(page.text, "recover_key"),
            "recover_amount": "10.00", "recover_on": today.isoformat()}
    before, loan = counts(engine), get_loan(engine, "WO")
    for field, bad, error_field, words in (
            ("recover_amount", "", "recover_amount", "is required"),
            ("recover_amount", "0", "amount", "must be positive"),
            ("recover_amount", "-5", "amount", ""),
            ("recover_amount", "1.001", "amount", ""),
            ("recover_amount", "ten", "amount", ""),
            ("recover_amount", format_minor(claim + 1, CNY), "amount", "claim still open after write-off"),
            ("recover_on", (today - timedelta(days=1)).isoformat(), "on", "before the business date"),
            ("recover_on", (today + timedelta(days=1)).isoformat(), "on", "after the business date"),
            ("recover_on", "someday", "on", "not a date")):
        answer = operations.post("/console/loans/WO/recover", data={**form, "recover_key": f"k-{bad}", field: bad})
        assert answer.status_code == 422, (field, bad)
        assert f'data-testid="error-{error_field}"' in form_part(answer.text, "recover-form"), (field, bad)
        assert answer.text.count('class="field-error"') == 1, (field, bad)
        assert words in answer.text, (field, bad)
        assert re.search(rf'name="{field}"[^>]*value="{re.escape(bad)}"', answer.text), "the form comes back as typed"
        assert counts(engine) == before and get_loan(engine, "WO") == loan, (field, bad)
    keyless = operations.post("/console/loans/WO/recover", data={**form, "recover_key": ""})
    assert keyless.status_code == 422 and "recover_key" in text_of(keyless.text, "form-error")
    no_csrf = operations.post("/console/loans/WO/recover", data={**form, "csrf_token": ""})
    assert no_csrf.status_code == 403 and no_csrf.json()["field"] == "csrf_token"
    assert counts(engine) == before and get_loan(engine, "WO") == loan


def test_a_live_loan_has_no_recover_form_and_a_posted_recovery_is_refused(login_as: Login, engine: Engine) -> None:
    book(engine, "LV")
    admin = login_as("admin")
    page = admin.get("/console/loans/LV")
    assert 'data-testid="recover-form"' not in page.text and 'data-testid="written-off"' not in page.text
    before = counts(engine)
    answer = admin.post("/console/loans/LV/recover", data={"csrf_token": csrf_of(admin), "recover_key": "k",
                                                           "recover_amount": "10.00"})
    assert answer.status_code == 422 and "recoveries are for written-off loans" in answer.text
    assert text_of(answer.text, "form-error").startswith(catalog("en")["common.error_in"])
    assert counts(engine) == before


# --------------------------------------------------------------------------- reversals


def test_the_reverse_form_lists_the_logged_repayments_to_who_may_reverse(login_as: Login, engine: Engine) -> None:
    payments = paid_loan(engine)
    for role, shown in (("admin", True), ("operations", True), ("collections_agent", False),
                        ("credit_officer", False), ("risk_manager", False), ("auditor", False)):
        page = login_as(role).get("/console/loans/PD")
        assert page.status_code == 200, role
        assert ('data-testid="reverse-form"' in page.text) is shown, role
        if shown:
            options = re.findall(r'<option value="([^"]+)"', form_part(page.text, "reverse-form"))
            assert options == payments, role
    book(engine, "NP", None)  # no repayments: nothing to reverse
    assert 'data-testid="reverse-form"' not in login_as("admin").get("/console/loans/NP").text


def test_reverse_once_per_form_key_and_the_payment_is_marked_reversed(login_as: Login, engine: Engine) -> None:
    payments = paid_loan(engine)
    paid = get_loan(engine, "PD")
    operations = login_as("operations")
    page = operations.get("/console/loans/PD")
    assert 'data-testid="reversed"' not in page.text
    form = {"csrf_token": csrf_of(operations), "reverse_key": hidden(page.text, "reverse_key"),
            "entry_id": payments[0], "reason": "cheque bounced"}
    done = operations.post("/console/loans/PD/reverse", data=form, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].endswith("?flash=reversed")
    after = get_loan(engine, "PD")
    inst, was = after.installments[0], paid.installments[0]
    assert (inst.principal_paid_minor + inst.interest_paid_minor + inst.fee_paid_minor
            == was.principal_paid_minor + was.interest_paid_minor + was.fee_paid_minor - PAYMENT_MINOR)
    before = counts(engine)
    retry = operations.post("/console/loans/PD/reverse", data=form, follow_redirects=False)  # a double submit
    assert retry.status_code == 303 and counts(engine) == before and get_loan(engine, "PD") == after
    shown = operations.get("/console/loans/PD?flash=reversed")
    assert text_of(shown.text, "flash") == catalog("en")["flash.reversed"]
    rows = re.findall(r'<tr data-testid="payment">(.*?)</tr>', shown.text, re.S)
    marked = [r for r in rows if 'data-testid="reversed"' in r]
    assert len(marked) == 1 and payments[0] in marked[0]  # the reversed payment, and only it
    assert any(payments[1] in r and 'data-testid="reversed"' not in r for r in rows)
    assert any("reversal" in r for r in rows)  # the reversal entry itself is listed
    options = re.findall(r'<option value="([^"]+)"', form_part(shown.text, "reverse-form"))
    assert options == [payments[1]]  # a reversed payment is no longer offered
    with engine.connect() as conn:
        marks = dict(conn.execute(select(loan_commands.c.entry_id, loan_commands.c.reversed_by).where(
            loan_commands.c.kind == "repay")).all())
    assert marks == {payments[0]: f"console-reverse-{form['reverse_key']}", payments[1]: ""}
    zh = login_as("admin")
    zh.cookies.set("ls_lang", "zh-CN")
    assert f'data-testid="reversed">{catalog("zh-CN")["loan.reversed"]}<' in zh.get("/console/loans/PD").text
    with UnitOfWork(engine) as uow:
        assert uow.ledger.verify() == [] and reconcile_loans(uow.connection).ok


def test_bad_reversals_redraw_the_page_naming_the_field_and_write_nothing(login_as: Login, engine: Engine) -> None:
    payments = paid_loan(engine)
    admin = login_as("admin")
    page = admin.get("/console/loans/PD")
    key = hidden(page.text, "reverse_key")
    form = {"csrf_token": csrf_of(admin), "reverse_key": key, "entry_id": payments[0], "reason": "bounced"}
    assert admin.post("/console/loans/PD/reverse", data=form, follow_redirects=False).status_code == 303
    before, loan = counts(engine), get_loan(engine, "PD")
    good = {**form, "entry_id": payments[1]}
    for n, (changes, error_field, words) in enumerate((
            ({"entry_id": ""}, "entry_id", "is required"),
            ({"entry_id": "PD/repay/nope"}, "entry_id", "is not the entry of a command of this loan"),
            ({"entry_id": "PD/disburse/disb-PD"}, "entry_id", "only repayments and prepayments"),
            ({"entry_id": payments[0]}, "entry_id", "was already reversed"),
            ({"entry_id": "x" * 201}, "entry_id", "at most 200"),
            ({"reason": ""}, "reason", "is required"),
            ({"reason": "   "}, "reason", "is required"),
            ({"reason": "x" * 501}, "reason", "at most 500"))):
        answer = admin.post("/console/loans/PD/reverse", data={**good, "reverse_key": f"k{n}", **changes})
        assert answer.status_code == 422, changes
        assert f'data-testid="error-{error_field}"' in form_part(answer.text, "reverse-form"), changes
        assert answer.text.count('class="field-error"') == 1 and words in answer.text, changes
        assert counts(engine) == before and get_loan(engine, "PD") == loan, changes
    # The key of the reversal done above, with another payment: a conflict, not a second reversal.
    conflict = admin.post("/console/loans/PD/reverse", data={**good, "reverse_key": key})
    assert conflict.status_code == 422 and "idempotency_key" in text_of(conflict.text, "form-error")
    keyless = admin.post("/console/loans/PD/reverse", data={**good, "reverse_key": ""})
    assert keyless.status_code == 422 and "reverse_key" in text_of(keyless.text, "form-error")
    no_csrf = admin.post("/console/loans/PD/reverse", data={**good, "csrf_token": ""})
    assert no_csrf.status_code == 403 and no_csrf.json()["field"] == "csrf_token"
    assert counts(engine) == before and get_loan(engine, "PD") == loan
    # A reason of exactly 500 characters is accepted.
    edge = admin.post("/console/loans/PD/reverse", data={**good, "reverse_key": "edge", "reason": "r" * 500},
                      follow_redirects=False)
    assert edge.status_code == 303 and get_loan(engine, "PD") != loan


# --------------------------------------------------------------------------- non-accrual


def test_a_non_accrual_loan_shows_its_accrual_state_and_memo_interest(login_as: Login, engine: Engine) -> None:
    first_due = book(engine, "NA")
    risk = login_as("risk_manager")
    accruing = risk.get("/console/loans/NA").text
    assert text_of(accruing, "accrual") == catalog("en")["loan.accruing"]
    assert 'data-testid="interest-memo"' not in accruing
    advance_to(engine, first_due + timedelta(days=95))
    loan = get_loan(engine, "NA")
    assert loan.non_accrual and loan.interest_memo_minor > 0
    for lang in LANGUAGES:
        risk.cookies.set("ls_lang", lang)
        page = risk.get("/console/loans/NA").text
        assert text_of(page, "accrual") == catalog(lang)["loan.non_accrual"], lang
        assert text_of(page, "interest-memo") == money(loan.interest_memo_minor), lang
        assert catalog(lang)["loan.interest_memo"] in page and catalog(lang)["loan.penalty_memo"] in page, lang
        assert 'data-testid="recover-form"' not in page  # live: not written off


def test_the_new_words_are_in_both_languages() -> None:
    keys = ("book.business_date", "book.business_date_help", "loan.accrual", "loan.accruing", "loan.non_accrual",
            "loan.interest_memo", "loan.penalty_memo", "loan.written_off", "loan.recovered", "loan.claim_open",
            "loan.recover", "loan.recover_help", "loan.reverse", "loan.reverse_help", "loan.reverse_reason",
            "loan.reversed", "flash.recovered", "flash.reversed")
    for lang in LANGUAGES:
        for key in keys:
            assert catalog(lang)[key].strip(), (lang, key)
    assert all(catalog("zh-CN")[k] != catalog("en")[k] for k in keys)
