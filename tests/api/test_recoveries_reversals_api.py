"""POST /v1/loans/{loan_id}/recoveries (核销后收回) and /reversals (冲正): who may (recoveries: admin,
collections, operations; reversals: admin, operations; never a partner), problem+json naming the field
for every bad input with nothing written, Idempotency-Key replays and conflicts, and the business date
the books report (trial balance, aging, portfolio). A written-off loan is made as operations would:
end of day until it is more than 90 days past due, then `write_off_loan`."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text
from tests.book_dates import advance_to

from conftest import API, auth
from lendstack.api.permissions import MATRIX, ROLES
from lendstack.money import Money
from lendstack.services.business_date import business_date
from lendstack.services.loans import book_loan, disburse_loan, get_loan, repay_loan, write_off_loan
from lendstack.servicing import LoanStatus
from lendstack.store import UnitOfWork
from lendstack.store.reconcile_repo import reconcile_loans
from lendstack.store.tables import loan_commands, loans

RECOVER = ("POST", "/v1/loans/{loan_id}/recoveries")
REVERSE = ("POST", "/v1/loans/{loan_id}/reversals")
# Every table a money command writes (the audit trail is written for refusals too, on purpose).
TABLES = ("journal_entries", "postings", "ledger_balances", "loans", "installments", "loan_commands", "outbox",
          "idempotency_keys", "api_idempotency", "book_state")
PAYMENT_MINOR = 10_000
CALLERS = (*ROLES, "partner2")  # partner2 is a partner that did not bring the loan


@dataclass
class Case:
    client: TestClient
    tokens: dict[str, str]
    engine: Engine
    loan_id: str


def snapshot(engine: Engine) -> dict[str, Any]:
    """Row counts of what a money command writes, and every loan's stored state and the business date."""
    with engine.connect() as conn:
        found: dict[str, Any] = {t: int(conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()) for t in TABLES}
        found["loan_rows"] = sorted(tuple(map(str, r)) for r in conn.execute(select(loans)))
        found["reversed_by"] = sorted(conn.execute(select(loan_commands.c.seq, loan_commands.c.reversed_by)).all())
    found["business_date"] = business_date(engine)
    return found


def statement(case: Case) -> dict[str, Any]:
    response = case.client.get(f"/v1/loans/{case.loan_id}/statement", headers=auth(case.tokens["admin"]))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_problem(response: Any, status: int, field: str, detail: str = "") -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status and problem["field"] == field, problem
    assert detail in problem["detail"], problem


@pytest.fixture
def written_off(booked: tuple[API, str, str]) -> tuple[Case, int]:
    """The partner's loan, more than 90 days past due (non-accrual), written off: (case, the claim)."""
    (client, tokens, engine), _application_id, loan_id = booked
    first_due = get_loan(engine, loan_id).installments[0].due_date
    advance_to(engine, first_due + timedelta(days=95))
    live = get_loan(engine, loan_id)
    assert live.days_past_due > 90 and live.non_accrual, (live.days_past_due, live.non_accrual)
    out = write_off_loan(engine, loan_id, None, "wo")
    assert out["status"] == "written_off" and out["written_off_minor"] > 0
    return Case(client, tokens, engine, loan_id), int(out["written_off_minor"])


@pytest.fixture
def paid(booked: tuple[API, str, str]) -> tuple[Case, list[str]]:
    """The partner's loan with three repayments on its first due date, ten days closed since:
    (case, the repayments' entry ids in order)."""
    (client, tokens, engine), _application_id, loan_id = booked
    first_due = get_loan(engine, loan_id).installments[0].due_date
    advance_to(engine, first_due)
    for n in (1, 2, 3):
        response = client.post(f"/v1/loans/{loan_id}/repayments", json={"amount_minor": PAYMENT_MINOR,
                                                                          "currency": "CNY"},
                               headers=auth(tokens["partner"], f"pay-{n}"))
        assert response.status_code == 201, response.text
    advance_to(engine, first_due + timedelta(days=10))
    case = Case(client, tokens, engine, loan_id)
    entries = [e for e in statement(case)["entries"] if e["kind"] == "repay"]
    by_key = {n: [e["entry_id"] for e in entries if e["entry_id"].endswith(f":pay-{n}")] for n in (1, 2, 3)}
    assert all(len(ids) == 1 for ids in by_key.values()), by_key
    return case, [by_key[n][0] for n in (1, 2, 3)]


# --------------------------------------------------------------------------- the matrix


def test_the_matrix_rows_for_recoveries_and_reversals() -> None:
    assert MATRIX[RECOVER] == frozenset({"admin", "collections_agent", "operations"})
    assert MATRIX[REVERSE] == frozenset({"admin", "operations"})
    assert "partner" not in MATRIX[RECOVER] | MATRIX[REVERSE]
    # The console's forms follow the same rows.
    assert MATRIX[("POST", "/console/loans/{loan_id}/recover")] == MATRIX[RECOVER]
    assert MATRIX[("POST", "/console/loans/{loan_id}/reverse")] == MATRIX[REVERSE]


def test_each_role_against_the_recoveries_route(written_off: tuple[Case, int]) -> None:
    case, claim = written_off
    recovered = 0
    for caller in CALLERS:
        before = snapshot(case.engine)
        response = case.client.post(f"/v1/loans/{case.loan_id}/recoveries",
                                    json={"amount_minor": 1_000, "currency": "CNY"},
                                    headers=auth(case.tokens[caller], f"rec-{caller}"))
        if caller in MATRIX[RECOVER]:
            recovered += 1_000
            assert response.status_code == 201, (caller, response.text)
            body = response.json()
            # recovery_minor is this recovery; recovered_minor the loan's total.
            assert body["status"] == "written_off" and body["recovery_minor"] == 1_000
            assert body["recovered_minor"] == recovered and body["claim_open_minor"] == claim - recovered
            assert body["claim_open"] == f"{(claim - recovered) / 100:.2f}"  # the display twin
            assert body["on"] == before["business_date"].isoformat()  # no `on`: the business date
        else:
            assert_problem(response, 403, "Authorization", "may not POST")
            assert snapshot(case.engine) == before, caller
    assert recovered == 1_000 * len(MATRIX[RECOVER])
    loan = get_loan(case.engine, case.loan_id)
    assert loan.status is LoanStatus.WRITTEN_OFF and loan.recovered_minor == recovered
    assert loan.claim_after_write_off_minor == claim - recovered
    entries = [e for e in statement(case)["entries"] if e["kind"] == "recovery"]
    assert len(entries) == len(MATRIX[RECOVER])
    for e in entries:  # cash in, back through the loan's allowance; the off-balance claim goes down
        assert {(p["account"], p["amount_minor"]) for p in e["postings"]} == {
            ("1002", 1_000), ("1304", -1_000), ("9999", 1_000), ("9101", -1_000)}
    with UnitOfWork(case.engine) as uow:
        assert uow.ledger.verify() == [] and reconcile_loans(uow.connection).ok


def test_each_role_against_the_reversals_route(paid: tuple[Case, list[str]]) -> None:
    case, payments = paid
    paid_before = get_loan(case.engine, case.loan_id).installments[0]
    free = list(payments)
    reversed_ids = []
    for caller in CALLERS:
        before = snapshot(case.engine)
        target = free[0]
        # The same Idempotency-Key for every caller: keys are per API key, so they never collide.
        response = case.client.post(f"/v1/loans/{case.loan_id}/reversals",
                                    json={"entry_id": target, "reason": "cheque bounced"},
                                    headers=auth(case.tokens[caller], "rv-same"))
        if caller in MATRIX[REVERSE]:
            assert response.status_code == 201, (caller, response.text)
            body = response.json()
            assert body["reversed_entry_id"] == target and body["on"] == before["business_date"].isoformat()
            assert body["payment_date"] == paid_before.due_date.isoformat()
            reversed_ids.append(free.pop(0))
        else:
            assert_problem(response, 403, "Authorization", "may not POST")
            assert snapshot(case.engine) == before, caller
    assert len(reversed_ids) == len(MATRIX[REVERSE]) == 2 and free == payments[2:]
    entries = statement(case)["entries"]
    reversals = [e for e in entries if e["kind"] == "reversal"]
    assert sorted(e["reverses_entry_id"] for e in reversals) == sorted(reversed_ids)
    today = business_date(case.engine)
    assert today is not None and {e["effective_date"] for e in reversals} == {today.isoformat()}
    for e in reversals:  # the exact reversal of the payment: the cash goes back out
        original = next(x for x in entries if x["entry_id"] == e["reverses_entry_id"])
        assert sorted((p["account"], -p["amount_minor"]) for p in original["postings"]) == sorted(
            (p["account"], p["amount_minor"]) for p in e["postings"])
        assert ("1002", -PAYMENT_MINOR) in {(p["account"], p["amount_minor"]) for p in e["postings"]}
    after = get_loan(case.engine, case.loan_id).installments[0]
    paid_sum = after.principal_paid_minor + after.interest_paid_minor + after.fee_paid_minor
    was = paid_before.principal_paid_minor + paid_before.interest_paid_minor + paid_before.fee_paid_minor
    assert paid_sum == was - 2 * PAYMENT_MINOR  # the installment is re-opened by what was reversed
    with case.engine.connect() as conn:
        marked = {r.entry_id: r.reversed_by for r in conn.execute(
            select(loan_commands.c.entry_id, loan_commands.c.reversed_by).where(loan_commands.c.kind == "repay"))}
    assert all(marked[i] for i in reversed_ids) and marked[payments[2]] == ""
    with UnitOfWork(case.engine) as uow:
        assert uow.ledger.verify() == [] and reconcile_loans(uow.connection).ok


def test_a_partner_gets_the_same_403_for_its_own_loan_another_ones_and_an_unknown_one(
        written_off: tuple[Case, int]) -> None:
    # The role check comes before the loan is looked up: a partner learns nothing about which loans exist.
    case, _claim = written_off
    before = snapshot(case.engine)
    for caller in ("partner", "partner2"):
        for loan_id in (case.loan_id, "L-none"):
            rec = case.client.post(f"/v1/loans/{loan_id}/recoveries", json={"amount_minor": 1, "currency": "CNY"},
                                   headers=auth(case.tokens[caller], f"p-rec-{caller}-{loan_id}"))
            rev = case.client.post(f"/v1/loans/{loan_id}/reversals", json={"entry_id": "x", "reason": "r"},
                                   headers=auth(case.tokens[caller], f"p-rev-{caller}-{loan_id}"))
            assert_problem(rec, 403, "Authorization")
            assert_problem(rev, 403, "Authorization")
    # ... while on the routes a partner may use, another partner's loan is a 404 (not a 403).
    other = case.client.get(f"/v1/loans/{case.loan_id}/statement", headers=auth(case.tokens["partner2"]))
    assert_problem(other, 404, "loan_id")
    assert snapshot(case.engine) == before


# --------------------------------------------------------------------------- bad input


def test_bad_recoveries_name_the_field_and_change_nothing(written_off: tuple[Case, int]) -> None:
    case, claim = written_off
    today = business_date(case.engine)
    assert today is not None
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"amount_minor": 0, "currency": "CNY"}, "amount_minor", "greater than 0"),
        ({"amount_minor": -1, "currency": "CNY"}, "amount_minor", "greater than 0"),
        ({"amount_minor": 10**15 + 1, "currency": "CNY"}, "amount_minor", ""),
        ({"amount_minor": "100", "currency": "CNY"}, "amount_minor", ""),  # StrictInt: no strings
        ({"amount_minor": 1.5, "currency": "CNY"}, "amount_minor", ""),
        # More than the claim still open. NB the service names "amount" (as prepayments do), not the body's
        # "amount_minor" (as refunds do): see the report.
        ({"amount_minor": claim + 1, "currency": "CNY"}, "amount", f"claim still open after write-off, {claim}"),
        ({"amount_minor": 100, "currency": "USD"}, "currency", "USD does not match the loan's CNY"),
        ({"amount_minor": 100, "currency": "cny"}, "currency", ""),
        ({"amount_minor": 100}, "currency", "required"),
        ({"currency": "CNY"}, "amount_minor", "required"),
        ({"amount_minor": 100, "currency": "CNY", "on": (today - timedelta(days=1)).isoformat()}, "on",
         "before the business date"),
        ({"amount_minor": 100, "currency": "CNY", "on": (today + timedelta(days=1)).isoformat()}, "on",
         "after the business date"),
        ({"amount_minor": 100, "currency": "CNY", "on": "2027-02-30"}, "on", ""),
        ({"amount_minor": 100, "currency": "CNY", "extra": 1}, "extra", ""),
    ]
    before = snapshot(case.engine)
    for n, (body, field, detail) in enumerate(cases):
        response = case.client.post(f"/v1/loans/{case.loan_id}/recoveries", json=body,
                                    headers=auth(case.tokens["operations"], f"bad-rec-{n}"))
        assert_problem(response, 422, field, detail)
        assert snapshot(case.engine) == before, body
    unknown = case.client.post("/v1/loans/L-none/recoveries", json={"amount_minor": 1, "currency": "CNY"},
                               headers=auth(case.tokens["admin"], "bad-rec-unknown"))
    assert_problem(unknown, 404, "loan_id", "unknown")
    keyless = case.client.post(f"/v1/loans/{case.loan_id}/recoveries", json={"amount_minor": 1, "currency": "CNY"},
                               headers=auth(case.tokens["admin"]))
    assert_problem(keyless, 422, "header.Idempotency-Key")
    assert snapshot(case.engine) == before
    # The whole open claim is accepted, dated explicitly on the business date; then nothing more. A refused
    # request is not remembered: its key (here the first bad one's) serves the corrected request.
    whole = case.client.post(f"/v1/loans/{case.loan_id}/recoveries",
                             json={"amount_minor": claim, "currency": "CNY", "on": today.isoformat()},
                             headers=auth(case.tokens["operations"], "bad-rec-0"))
    assert whole.status_code == 201 and whole.json()["claim_open_minor"] == 0, whole.text
    after = snapshot(case.engine)
    more = case.client.post(f"/v1/loans/{case.loan_id}/recoveries", json={"amount_minor": 1, "currency": "CNY"},
                            headers=auth(case.tokens["admin"], "one-more"))
    assert_problem(more, 422, "amount", "claim still open after write-off, 0")
    assert snapshot(case.engine) == after


def test_a_recovery_on_a_loan_that_is_not_written_off_is_refused(paid: tuple[Case, list[str]]) -> None:
    case, _payments = paid
    before = snapshot(case.engine)
    response = case.client.post(f"/v1/loans/{case.loan_id}/recoveries", json={"amount_minor": 100,
                                                                               "currency": "CNY"},
                                headers=auth(case.tokens["collections_agent"], "rec-live"))
    assert_problem(response, 422, "status", "recoveries are for written-off loans")
    assert snapshot(case.engine) == before


def test_bad_reversals_name_the_field_and_change_nothing(paid: tuple[Case, list[str]]) -> None:
    case, payments = paid
    today = business_date(case.engine)
    assert today is not None
    # Another loan's repayment, booked through the services on the same business date.
    book_loan(case.engine, loan_id="OTHER", product="consumer_cny_12m", amount=Money(1_200_000, "CNY"), term=12,
              key="book-other")
    disburse_loan(case.engine, "OTHER", None, "disb-other")
    repay_loan(case.engine, "OTHER", None, Money(500, "CNY"), "pay-other")
    disbursement = next(e["entry_id"] for e in statement(case)["entries"] if e["kind"] == "disburse")
    first = case.client.post(f"/v1/loans/{case.loan_id}/reversals",
                             json={"entry_id": payments[0], "reason": "cheque bounced"},
                             headers=auth(case.tokens["admin"], "rv-first"))
    assert first.status_code == 201, first.text
    good = {"entry_id": payments[1], "reason": "misapplied"}
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({**good, "entry_id": f"{case.loan_id}/repay/nope"}, "entry_id", "is not the entry of a command of this loan"),
        ({**good, "entry_id": "OTHER/repay/pay-other"}, "entry_id", "is not the entry of a command of this loan"),
        ({**good, "entry_id": disbursement}, "entry_id", "only repayments and prepayments can be reversed"),
        ({**good, "entry_id": payments[0]}, "entry_id", "was already reversed"),
        ({**good, "entry_id": ""}, "entry_id", ""),
        ({**good, "entry_id": "x" * 201}, "entry_id", ""),
        ({"reason": "misapplied"}, "entry_id", "required"),
        ({**good, "reason": ""}, "reason", ""),
        ({**good, "reason": "   "}, "reason", "say why"),
        ({**good, "reason": "x" * 501}, "reason", "500"),
        ({"entry_id": payments[1]}, "reason", "required"),
        ({**good, "on": (today - timedelta(days=1)).isoformat()}, "on", "before the business date"),
        ({**good, "on": (today + timedelta(days=1)).isoformat()}, "on", "after the business date"),
        ({**good, "on": "yesterday"}, "on", ""),
        ({**good, "amount_minor": 1}, "amount_minor", ""),
    ]
    before = snapshot(case.engine)
    for n, (body, field, detail) in enumerate(cases):
        response = case.client.post(f"/v1/loans/{case.loan_id}/reversals", json=body,
                                    headers=auth(case.tokens["operations"], f"bad-rv-{n}"))
        assert_problem(response, 422, field, detail)
        assert snapshot(case.engine) == before, body
    unknown = case.client.post("/v1/loans/L-none/reversals", json=good, headers=auth(case.tokens["admin"], "rv-u"))
    assert_problem(unknown, 404, "loan_id", "unknown")
    keyless = case.client.post(f"/v1/loans/{case.loan_id}/reversals", json=good, headers=auth(case.tokens["admin"]))
    assert_problem(keyless, 422, "header.Idempotency-Key")
    assert snapshot(case.engine) == before
    # A reason of exactly 500 characters, dated explicitly on the business date, is accepted.
    edge = case.client.post(f"/v1/loans/{case.loan_id}/reversals",
                            json={**good, "reason": "r" * 500, "on": today.isoformat()},
                            headers=auth(case.tokens["operations"], "rv-500"))
    assert edge.status_code == 201 and edge.json()["reversed_entry_id"] == payments[1], edge.text


def test_a_recovery_entry_is_not_a_payment_to_reverse(written_off: tuple[Case, int]) -> None:
    case, _claim = written_off
    done = case.client.post(f"/v1/loans/{case.loan_id}/recoveries", json={"amount_minor": 700, "currency": "CNY"},
                            headers=auth(case.tokens["admin"], "rec-1"))
    assert done.status_code == 201, done.text
    [recovery] = [e["entry_id"] for e in statement(case)["entries"] if e["kind"] == "recovery"]
    before = snapshot(case.engine)
    response = case.client.post(f"/v1/loans/{case.loan_id}/reversals", json={"entry_id": recovery, "reason": "oops"},
                                headers=auth(case.tokens["admin"], "rv-rec"))
    assert_problem(response, 422, "entry_id", "is a recover")
    assert snapshot(case.engine) == before


# --------------------------------------------------------------------------- idempotency


def test_a_recovery_retry_replays_and_another_body_with_the_key_is_a_conflict(written_off: tuple[Case, int]) -> None:
    case, claim = written_off
    url, headers = f"/v1/loans/{case.loan_id}/recoveries", auth(case.tokens["collections_agent"], "rec-k")
    first = case.client.post(url, json={"amount_minor": 2_500, "currency": "CNY"}, headers=headers)
    assert first.status_code == 201 and first.json()["claim_open_minor"] == claim - 2_500, first.text
    before = snapshot(case.engine)
    again = case.client.post(url, json={"amount_minor": 2_500, "currency": "CNY"}, headers=headers)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    for other in ({"amount_minor": 2_501, "currency": "CNY"},
                  {"amount_minor": 2_500, "currency": "CNY", "on": before["business_date"].isoformat()}):
        conflict = case.client.post(url, json=other, headers=headers)
        assert_problem(conflict, 409, "Idempotency-Key")
    # The same key on the other money route is another request too.
    elsewhere = case.client.post(f"/v1/loans/{case.loan_id}/reversals", json={"entry_id": "x", "reason": "r"},
                                 headers=auth(case.tokens["admin"], "rec-k"))
    assert elsewhere.status_code == 422  # admin's key space: "rec-k" is new there (and the entry unknown)
    assert snapshot(case.engine) == before
    assert get_loan(case.engine, case.loan_id).recovered_minor == 2_500
    assert [e["kind"] for e in statement(case)["entries"]].count("recovery") == 1


def test_parallel_recoveries_with_one_key_apply_once(written_off: tuple[Case, int]) -> None:
    case, claim = written_off
    url = f"/v1/loans/{case.loan_id}/recoveries"

    def recover(key: str) -> tuple[int, Any]:
        with TestClient(case.client.app) as own:  # one client (and event loop) per thread
            response = own.post(url, json={"amount_minor": 1_000, "currency": "CNY"},
                                headers=auth(case.tokens["operations"], key))
            return response.status_code, response.json()

    with ThreadPoolExecutor(max_workers=4) as pool:
        same = list(pool.map(recover, ["same"] * 4))
    assert {s for s, _ in same} == {201} and all(b == same[0][1] for _, b in same)
    assert get_loan(case.engine, case.loan_id).claim_after_write_off_minor == claim - 1_000
    assert [e["kind"] for e in statement(case)["entries"]].count("recovery") == 1


def test_a_reversal_retry_replays_and_another_body_with_the_key_is_a_conflict(paid: tuple[Case, list[str]]) -> None:
    case, payments = paid
    url, headers = f"/v1/loans/{case.loan_id}/reversals", auth(case.tokens["operations"], "rv-k")
    first = case.client.post(url, json={"entry_id": payments[2], "reason": "bounced"}, headers=headers)
    assert first.status_code == 201, first.text
    before = snapshot(case.engine)
    again = case.client.post(url, json={"entry_id": payments[2], "reason": "bounced"}, headers=headers)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    for other in ({"entry_id": payments[1], "reason": "bounced"}, {"entry_id": payments[2], "reason": "misapplied"}):
        assert_problem(case.client.post(url, json=other, headers=headers), 409, "Idempotency-Key")
    assert snapshot(case.engine) == before
    kinds = [e["kind"] for e in statement(case)["entries"]]
    assert kinds.count("reversal") == 1


# --------------------------------------------------------------------------- the business date


def test_the_reports_show_the_business_date_and_end_of_day_moves_it(written_off: tuple[Case, int]) -> None:
    case, _claim = written_off
    admin = auth(case.tokens["admin"])
    today = business_date(case.engine)
    assert today is not None

    def reported() -> dict[str, Any]:
        out = {}
        for name in ("trial-balance", "aging", "portfolio"):
            response = case.client.get(f"/v1/reports/{name}", headers=admin)
            assert response.status_code == 200, response.text
            out[name] = response.json()
        return out

    now = reported()
    assert {r["business_date"] for r in now.values()} == {today.isoformat()}
    assert now["portfolio"]["book_date"] == (today - timedelta(days=1)).isoformat()  # the last closed day
    assert now["aging"]["non_accrual_loans"] == 0  # written off: no longer live
    assert now["aging"]["loans_by_status"] == {"written_off": 1}
    advance_to(case.engine, today + timedelta(days=3))
    later = reported()
    assert {r["business_date"] for r in later.values()} == {(today + timedelta(days=3)).isoformat()}
    # A recovery without `on` is dated on the new business date.
    done = case.client.post(f"/v1/loans/{case.loan_id}/recoveries", json={"amount_minor": 1, "currency": "CNY"},
                            headers=auth(case.tokens["admin"], "rec-later"))
    assert done.status_code == 201 and done.json()["on"] == (today + timedelta(days=3)).isoformat()


def test_aging_counts_a_non_accrual_loan_before_it_is_written_off(booked: tuple[API, str, str]) -> None:
    (client, tokens, engine), _application_id, loan_id = booked
    first_due = get_loan(engine, loan_id).installments[0].due_date
    advance_to(engine, first_due + timedelta(days=95))
    aging = client.get("/v1/reports/aging", headers=auth(tokens["collections_agent"])).json()
    portfolio = client.get("/v1/reports/portfolio", headers=auth(tokens["risk_manager"])).json()
    assert aging["non_accrual_loans"] == portfolio["non_accrual_loans"] == 1
    assert aging["business_date"] == portfolio["business_date"] == (first_due + timedelta(days=95)).isoformat()
    shown = client.get(f"/v1/loans/{loan_id}", headers=auth(tokens["partner"])).json()
    assert shown["non_accrual"] is True and shown["interest_memo_minor"] > 0


def test_a_new_book_reports_no_business_date(api: API) -> None:
    client, tokens, engine = api
    assert business_date(engine) is None
    for name in ("trial-balance", "aging", "portfolio"):
        response = client.get(f"/v1/reports/{name}", headers=auth(tokens["auditor"] if name != "aging" else
                                                                    tokens["operations"]))
        assert response.status_code == 200 and response.json()["business_date"] is None, response.text
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(loans)).scalar_one() == 0


def test_the_routes_are_in_the_contract(api: API) -> None:
    client, _tokens, _engine = api
    paths = client.get("/v1/openapi.json").json()["paths"]
    for route in ("/v1/loans/{loan_id}/recoveries", "/v1/loans/{loan_id}/reversals"):
        operation = paths[route]["post"]
        assert {"201", "403", "404", "409", "422"} <= set(operation["responses"]), route
        assert any(p["name"] == "Idempotency-Key" and p["required"] for p in operation["parameters"]), route


def test_a_payment_a_later_refund_depends_on_is_not_reversed(booked: tuple[API, str, str]) -> None:
    (client, tokens, engine), _application_id, loan_id = booked
    case = Case(client, tokens, engine, loan_id)
    over = client.post(f"/v1/loans/{loan_id}/repayments", json={"amount_minor": 100_000, "currency": "CNY"},
                       headers=auth(tokens["partner"], "over"))
    assert over.status_code == 201 and over.json()["suspense_minor"] == 100_000, over.text
    advance_to(engine, get_loan(engine, loan_id).disbursed_on + timedelta(days=2))  # type: ignore[operator]
    refunded = client.post(f"/v1/loans/{loan_id}/refund", json={"amount_minor": 60_000, "currency": "CNY"},
                           headers=auth(tokens["admin"], "refund"))
    assert refunded.status_code == 201, refunded.text
    [payment] = [e["entry_id"] for e in statement(case)["entries"] if e["kind"] == "repay"]
    before = snapshot(engine)
    response = client.post(f"/v1/loans/{loan_id}/reversals", json={"entry_id": payment, "reason": "bounced"},
                           headers=auth(tokens["operations"], "rv"))
    assert_problem(response, 422, "entry_id", "the later refund")
    assert snapshot(engine) == before
