"""The loan page's DPD history (issue 6 §5): the chart's points, joined by straight lines, give the
DPD servicing's end of day computed on every day of the loan's life, checked independently by
running end of day one day at a time (in memory for random repayment plans, and through the
database and the console page for a loan that went 40+ days late and was cured)."""

from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from lendstack.ledger import JournalEntry
from lendstack.money import Money
from lendstack.products import get_product
from lendstack.services.browse import loan_view
from lendstack.services.eod import run_eod
from lendstack.services.loans import book_loan, disburse_loan, get_loan, repay_loan
from lendstack.servicing import Loan, book, disburse, eod_one, repay
from lendstack.web.routes_loans import dpd_history
from tests.web.conftest import Login

ON = date(2026, 1, 10)
DUE = date(2026, 2, 10)  # the first installment of a loan booked on ON (monthly)


def line_at(points: list[tuple[date, int]], day: date) -> Fraction:
    """The chart's value on `day`: the straight line between the points around it."""
    before = max((p for p in points if p[0] <= day), key=lambda p: p[0])
    after = min((p for p in points if p[0] >= day), key=lambda p: p[0])
    if before[0] == after[0]:
        return Fraction(before[1])
    share = Fraction((day - before[0]).days, (after[0] - before[0]).days)
    return before[1] + share * (after[1] - before[1])


def live_through(loan: Loan, last: date, payments: dict[date, int]) -> tuple[Loan, list[JournalEntry], dict[date, int]]:
    """End of day from the disbursement day through `last`, paying `payments[day]` (minor units)
    before that day's end of day, as a branch would; the DPD each end of day left."""
    entries: list[JournalEntry] = []
    truth: dict[date, int] = {}
    day = ON
    while day <= last:
        if day in payments and loan.is_live:
            paid = repay(loan, day, Money(payments[day], "CNY"), f"pay-{day}")
            loan, entries = paid.loan, entries + list(paid.entries)
        closed = eod_one(loan, day)
        loan, entries = closed.loan, entries + list(closed.entries)
        truth[day] = loan.days_past_due
        day += timedelta(days=1)
    return loan, entries, truth


def active_loan(amount_minor: int, term: int) -> Loan:
    loan = book("L", get_product("consumer_cny_12m"), Money(amount_minor, "CNY"), term, on=ON).loan
    return disburse(loan, ON, "d").loan


@settings(max_examples=25, deadline=None)
@given(st.dictionaries(st.integers(1, 200), st.integers(1, 4_000_00), max_size=6), st.integers(6, 8))
def test_the_points_give_the_dpd_end_of_day_computed_on_every_day(plan: dict[int, int], term: int) -> None:
    payments = {ON + timedelta(days=offset): amount for offset, amount in plan.items()}
    loan, entries, truth = live_through(active_loan(6_000_00, term), ON + timedelta(days=200), payments)
    points = dpd_history(loan, entries)
    assert points[0] == (ON, 0) and [p[0] for p in points] == sorted({p[0] for p in points})
    charted = {day: dpd for day, dpd in truth.items() if day <= points[-1][0]}
    assert {day: line_at(points, day) for day in charted} == charted
    assert all(dpd == 0 for day, dpd in truth.items() if day not in charted)  # repaid in full: the chart ends
    assert max(p[1] for p in points) == max(truth.values())


def test_a_loan_always_paid_on_time_is_two_points_at_zero() -> None:
    loan = active_loan(6_000_00, 6)
    due = {i.due_date: i.principal_minor + i.interest_minor + i.fee_minor for i in loan.installments}
    loan, entries, truth = live_through(loan, ON + timedelta(days=200), due)
    assert set(truth.values()) == {0}
    assert [dpd for _, dpd in dpd_history(loan, entries)] == [0, 0]


def test_the_loan_page_charts_a_loan_that_went_40_days_late(login_as: Login, engine: Engine) -> None:
    book_loan(engine, loan_id="L0", product="consumer_cny_12m", amount=Money(12_000_00, "CNY"), term=12, on=ON,
              key="book-L0")
    disburse_loan(engine, "L0", ON, "disb-L0")
    book_loan(engine, loan_id="L1", product="consumer_cny_12m", amount=Money(5_000_00, "CNY"), term=12, on=ON,
              key="book-L1")  # approved, never disbursed: no history to chart
    late = DUE + timedelta(days=40)
    run_eod(engine, late, hooks=False)
    assert get_loan(engine, "L0").days_past_due == 40  # servicing's own count: the independent check
    loan = get_loan(engine, "L0")
    owed = (sum(i.unpaid(c) for i in loan.installments if i.due_date < late for c in ("principal", "interest", "fee"))
            + loan.penalty_accrued_minor - loan.penalty_paid_minor)
    repay_loan(engine, "L0", late + timedelta(days=1), Money(owed, "CNY"), "cure-L0")  # every arrear: cured
    run_eod(engine, late + timedelta(days=5), hooks=False)
    assert get_loan(engine, "L0").days_past_due == 0

    view = loan_view(engine, "L0")
    assert view is not None
    points = dpd_history(view.loan, view.entries)
    assert max(dpd for _, dpd in points) == 40
    assert (late, 40) in points and (late + timedelta(days=1), 0) in points and points[-1] == (
        late + timedelta(days=5), 0)
    for role, lang, words in (("collections_agent", "en", "Days past due over the loan"),
                              ("auditor", "zh-CN", "贷款存续期逾期天数")):
        client = login_as(role)
        client.cookies.set("ls_lang", lang)
        page = client.get("/console/loans/L0")
        assert page.status_code == 200 and words in page.text
        assert 'data-testid="dpd-max">40<' in page.text and 'data-testid="dpd-chart"' in page.text
        assert "/static/vendor/echarts.min.js" in page.text
        assert page.text.count('data-testid="dpd-point"') == len(points)
        assert f'["{late.isoformat()}", 40]' in page.text  # the chart's data, in the page's JSON
        never = client.get("/console/loans/L1")
        assert never.status_code == 200 and 'data-testid="dpd-chart"' not in never.text
        assert "echarts.min.js" not in never.text
