"""The dashboard's numbers on a small book built through the real services, on SQLite and
PostgreSQL: they reconcile with the ledger and with each other, follow new applications and
repayments at once, and a bad filter names its field."""

from __future__ import annotations

import functools
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
from tests.monitoring.books import installments_frame, loan, loans_frame, payments_frame

from lendstack.decisioning import ScoringModel, load_policy
from lendstack.ledger import AccountCode, EntryKind
from lendstack.money import Money
from lendstack.scoring import CreditModel, TrainOptions
from lendstack.services.dashboard import (
    RANGE_DAYS_MAX,
    DashboardFilter,
    DashboardInputError,
    _book,
    dashboard,
    parse_filter,
)
from lendstack.services.decisions import decide_application
from lendstack.services.eod import run_eod
from lendstack.services.loans import book_loan, disburse_loan, get_loan, repay_loan
from lendstack.services.models import train_default_model
from lendstack.services.monitoring import post_provision
from lendstack.servicing.aging import DEFAULT_AGING
from lendstack.sim import generate_applications, to_application_json
from lendstack.store.tables import journal_entries, postings
from lendstack.store.tables_origination import applications

START = date(2026, 1, 10)
BOOK_DATE = date(2026, 5, 15)
TINY_GBM = {"n_estimators": 60, "learning_rate": 0.1, "early_stopping_rounds": 20, "n_jobs": 1}
LOANS = {  # loan id: (product, currency, amount_minor, term, booked on)
    "C1": ("consumer_cny_12m", "CNY", 1_200_000, 12, START),  # pays every installment on its due date
    "C2": ("consumer_cny_12m", "CNY", 2_000_000, 12, START),  # never pays: 94 DPD on the book date, 次级
    "C3": ("consumer_cny_12m", "CNY", 500_000, 12, START),  # pays once: 66 DPD, 关注
    "C4": ("consumer_cny_12m", "CNY", 300_000, 12, date(2026, 3, 1)),  # never pays: 44 DPD, 关注
    "B1": ("bullet_30d_cny", "CNY", 100_000, 1, START),  # repaid in full: closed
    "U1": ("usd_personal", "USD", 200_000, 12, START),  # pays every installment
}
PAYERS = {"C1": 4, "C3": 1, "U1": 4, "B1": 1}  # how many installments each pays, on time


def build_book(engine: Engine, through: date = BOOK_DATE) -> None:
    """Books and disburses LOANS, closes days to `through` and repays on the due dates."""
    for loan_id, (product, currency, amount_minor, term, on) in LOANS.items():
        if on == START:
            _open(engine, loan_id, product, Money(amount_minor, currency), term, on)
    for month in range(4):  # the installments due Feb 10 .. May 10
        due = date(2026, 2 + month, 10)
        if due.month == 3:  # C4 is booked on March 1, after February has closed
            run_eod(engine, date(2026, 2, 28), hooks=False)
            _open(engine, "C4", "consumer_cny_12m", Money(300_000, "CNY"), 12, date(2026, 3, 1))
        run_eod(engine, due - timedelta(days=1), hooks=False)
        for loan_id, count in PAYERS.items():
            if month < count:
                _pay_installment(engine, loan_id, month, due)
    run_eod(engine, through, hooks=False)


def _open(engine: Engine, loan_id: str, product: str, amount: Money, term: int, on: date) -> None:
    book_loan(engine, loan_id=loan_id, product=product, amount=amount, term=term, on=on, key=f"book-{loan_id}")
    disburse_loan(engine, loan_id, on, f"disb-{loan_id}")


def _pay_installment(engine: Engine, loan_id: str, index: int, on: date) -> None:
    loan = get_loan(engine, loan_id)
    inst = loan.installments[index]
    assert inst.due_date == on, (loan_id, inst.due_date, on)
    amount_minor = inst.principal_minor + inst.interest_minor + inst.fee_minor
    repay_loan(engine, loan_id, on, Money(amount_minor, loan.currency), f"pay-{loan_id}-{index}")


@functools.cache
def tiny_credit_model() -> CreditModel:
    """Trained once per process: the web tests' registry uses the same one."""
    return train_default_model(rows=2000, seed=5, options=TrainOptions(kind="gbm", seed=5, gbm_params=TINY_GBM))


@pytest.fixture(scope="module")
def model() -> ScoringModel:
    return ScoringModel(tiny_credit_model(), "dash-v1", "0" * 64)


def submit(engine: Engine, model: ScoringModel, index: int, on: date) -> str:
    """Decide one simulated application dated `on` through the decision service."""
    row = generate_applications(index + 1, seed=21).row(index, named=True)
    document = to_application_json(row) | {"applied_on": on.isoformat()}
    return decide_application(engine, document, policy=load_policy("consumer_v1"), model=model,
                              today=on).application_id


def _sum(engine: Engine, query: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(query).scalar() or 0)


def test_empty_book_has_zeros_not_errors(engine: Engine) -> None:
    data = dashboard(engine, DashboardFilter(date(2026, 1, 1), date(2026, 1, 31)))
    assert data["book_date"] is None and data["currencies"] == []
    assert data["applications"]["total"] == 0 and data["applications"]["approval_rate"] == 0.0
    assert len(data["applications"]["by_day"]) == 31
    assert data["outstanding"] == {} and data["vintages"] == []


def test_book_numbers_reconcile_filter_and_follow_new_activity(engine: Engine, model: ScoringModel) -> None:
    """One book per backend (building it is the slow part), checked in three steps."""
    build_book(engine)
    ids = [submit(engine, model, i, date(2026, 5, 1) + timedelta(days=i % 3)) for i in range(6)]
    check_reconciles(engine, ids)
    check_currency_filter_and_ecl(engine)
    check_moves(engine, model)


def check_reconciles(engine: Engine, ids: list[str]) -> None:
    data = dashboard(engine, DashboardFilter(date(2026, 1, 1), BOOK_DATE))
    assert data["book_date"] == BOOK_DATE.isoformat() and data["currencies"] == ["CNY", "USD"]

    # Outstanding principal equals the ledger's loan-principal balance (1301), per currency.
    for currency, row in data["outstanding"].items():
        ledger = _sum(engine, select(func.sum(postings.c.amount_minor)).where(
            postings.c.account_code == AccountCode.LOAN_PRINCIPAL.value, postings.c.currency == currency))
        assert row["principal_minor"] == row["ledger_principal_minor"] == ledger
        assert row["reconciled"]
    cny = data["outstanding"]["CNY"]
    assert cny["live_loans"] == 4  # B1 is closed
    c2, c3, c4 = (get_loan(engine, i) for i in ("C2", "C3", "C4"))
    assert (c2.days_past_due, c3.days_past_due, c4.days_past_due) == (94, 66, 44)
    late_minor = sum(x.principal_outstanding_minor for x in (c2, c3, c4))
    assert (cny["dpd30_loans"], cny["dpd30_principal_minor"]) == (3, late_minor)
    assert cny["dpd30_ratio"] == pytest.approx(late_minor / cny["principal_minor"])
    assert data["npl_ratio"]["CNY"] == pytest.approx(c2.principal_outstanding_minor / cny["principal_minor"])
    assert data["npl_ratio"]["USD"] == 0.0 and data["outstanding"]["USD"]["dpd30_loans"] == 0

    # Distributions cover every bucket / class and sum to the live book.
    for key, names in (("by_bucket", 8), ("by_class", 5)):
        rows = data[key]
        assert len(rows) == names * 2
        for currency in ("CNY", "USD"):
            mine = [r for r in rows if r["currency"] == currency]
            assert sum(r["loans"] for r in mine) == data["outstanding"][currency]["live_loans"]
            assert sum(r["principal_minor"] for r in mine) == data["outstanding"][currency]["principal_minor"]
    buckets = {r["name"]: r["loans"] for r in data["by_bucket"] if r["currency"] == "CNY"}
    assert (buckets["M0"], buckets["M2"], buckets["M3"], buckets["M4"]) == (1, 1, 1, 1)
    assert {r["name"]: r["name_zh"] for r in data["by_class"]}["substandard"] == "次级"

    # Disbursed volume equals the ledger's DISBURSE debits to loan principal; months sum to days.
    for currency in ("CNY", "USD"):
        disbursed = _sum(engine, select(func.sum(postings.c.amount_minor)).select_from(
            postings.join(journal_entries)).where(
            journal_entries.c.kind == EntryKind.DISBURSE.value, postings.c.amount_minor > 0,
            postings.c.account_code == AccountCode.LOAN_PRINCIPAL.value, postings.c.currency == currency))
        assert data["disbursed"]["total_minor"][currency] == disbursed
        assert disbursed == sum(v[2] for v in LOANS.values() if v[1] == currency)
        months = sum(r["amount_minor"] for r in data["disbursed"]["by_month"] if r["currency"] == currency)
        assert months == disbursed
    march = [r for r in data["disbursed"]["by_month"] if r["month"] == "2026-03" and r["currency"] == "CNY"]
    assert march == [{"month": "2026-03", "currency": "CNY", "loans": 1, "amount_minor": 300_000}]

    # Applications: approvals never exceed applications, per day and in total.
    apps = data["applications"]
    assert apps["total"] == len(ids) == _sum(engine, select(func.count()).select_from(applications))
    for day in apps["by_day"]:
        assert day["approved"] + day["declined"] + day["referred"] <= day["applications"]
    assert apps["approval_rate"] == pytest.approx(apps["approved"] / apps["total"])

    # Vintages: January's loans (C2 never paid) crossed DPD 30 in their second month on book.
    january = {v["mob"]: v for v in data["vintages"] if v["vintage"] == "2026-01"}
    assert january[1]["ever_dpd30_share"] == 0.0 and january[3]["ever_dpd30_share"] > 0.0
    assert data["vintage_as_of"] == BOOK_DATE.isoformat()


def check_currency_filter_and_ecl(engine: Engine) -> None:
    # by hand, dated on the business date: the day after the book date
    assert post_provision(engine)["as_of"] == (BOOK_DATE + timedelta(days=1)).isoformat()
    everything = dashboard(engine, DashboardFilter(START, BOOK_DATE))
    usd = dashboard(engine, DashboardFilter(START, BOOK_DATE, "USD"))
    assert usd["currencies"] == ["USD"] and set(usd["outstanding"]) == {"USD"}
    assert usd["outstanding"]["USD"] == everything["outstanding"]["USD"]
    assert all(r["currency"] == "USD" for r in usd["by_bucket"] + usd["disbursed"]["by_day"])
    for data in (everything, usd):  # the allowance posted equals the ECL computed now
        for currency in data["currencies"]:
            stages = [r for r in data["ecl"]["by_stage"] if r["currency"] == currency]
            assert [r["stage"] for r in stages] == [1, 2, 3]
            assert sum(r["ecl_minor"] for r in stages) == data["ecl"]["total_minor"][currency]
            assert data["ecl"]["allowance_minor"][currency] == data["ecl"]["total_minor"][currency]
    stage3 = [r for r in everything["ecl"]["by_stage"] if r["currency"] == "CNY" and r["stage"] == 3]
    assert stage3[0]["loans"] == 1  # C2, over 90 DPD


def check_moves(engine: Engine, model: ScoringModel) -> None:
    """A repayment and a new application show at the next call: nothing is cached."""
    window = DashboardFilter(START, BOOK_DATE + timedelta(days=1))
    before = dashboard(engine, window)
    c2 = get_loan(engine, "C2")
    repay_loan(engine, "C2", BOOK_DATE + timedelta(days=1), Money(300_000, "CNY"), "late-C2")
    submit(engine, model, 6, BOOK_DATE + timedelta(days=1))  # 0..5 were submitted before
    after = dashboard(engine, window)
    paid_principal = get_loan(engine, "C2").principal_repaid_minor - c2.principal_repaid_minor
    assert paid_principal > 0
    assert (after["outstanding"]["CNY"]["principal_minor"]
            == before["outstanding"]["CNY"]["principal_minor"] - paid_principal)
    assert after["outstanding"]["CNY"]["reconciled"]
    assert after["applications"]["total"] == before["applications"]["total"] + 1
    assert after["applications"]["by_day"][-1]["applications"] == 1


BAD_FILTERS = [
    ({"start": "2026-13-01"}, "start"),
    ({"end": "yesterday"}, "end"),
    ({"currency": "XXX"}, "currency"),
    ({"start": "2026-05-02", "end": "2026-05-01"}, "start"),
    ({"start": "2000-01-01", "end": "2026-01-01"}, "start"),
]


@pytest.mark.parametrize(("query", "field"), BAD_FILTERS)
def test_bad_filter_names_the_field(query: dict[str, str], field: str) -> None:
    with pytest.raises(DashboardInputError) as caught:
        parse_filter(**query)
    assert caught.value.field == field


def test_filter_boundaries() -> None:
    assert parse_filter("", "", "") == DashboardFilter()
    assert parse_filter(" 2026-01-01 ", "2026-01-01", "usd") == DashboardFilter(
        date(2026, 1, 1), date(2026, 1, 1), "USD")
    longest = date(2026, 1, 1) + timedelta(days=RANGE_DAYS_MAX - 1)
    assert parse_filter("2026-01-01", longest.isoformat()).end == longest
    with pytest.raises(DashboardInputError):
        parse_filter("2026-01-01", (longest + timedelta(days=1)).isoformat())


@settings(max_examples=40, deadline=None)
@given(st.dates(date(2020, 1, 1), date(2030, 12, 31)), st.integers(0, RANGE_DAYS_MAX + 5))
def test_a_valid_range_is_accepted_and_an_invalid_one_names_start(start: date, days: int) -> None:
    end = start + timedelta(days=days)
    if days < RANGE_DAYS_MAX:
        assert parse_filter(start.isoformat(), end.isoformat()) == DashboardFilter(start, end)
    else:
        with pytest.raises(DashboardInputError, match="start"):
            parse_filter(start.isoformat(), end.isoformat())


LOAN_ROWS = st.lists(st.tuples(
    st.sampled_from(["CNY", "USD"]), st.sampled_from(["active", "overdue", "closed", "written_off"]),
    st.integers(0, 400), st.integers(1, 10**9), st.integers(0, 100),
), min_size=0, max_size=25)


@settings(max_examples=60, deadline=None)
@given(LOAN_ROWS)
def test_the_book_part_adds_up_for_any_book(rows: list[tuple[str, str, int, int, int]]) -> None:
    """Distributions sum to the live book, DPD 30+ and NPL are parts of it, stages sum to the ECL."""
    frame = loans_frame(*(
        loan(f"L{i}", currency=cur, status=status, days_past_due=dpd, bucket=DEFAULT_AGING.bucket(dpd),
             five_tier=DEFAULT_AGING.five_tier(dpd).value, principal_disbursed_minor=amount,
             principal_repaid_minor=amount * repaid_pct // 100)
        for i, (cur, status, dpd, amount, repaid_pct) in enumerate(rows)))
    currencies = sorted({r[0] for r in rows})
    book = _book(frame, installments_frame([]), payments_frame([]), BOOK_DATE, START, BOOK_DATE, currencies)
    for cur in currencies:
        live_rows = [r for r in rows if r[0] == cur and r[1] in ("active", "overdue")]
        out = book["outstanding"][cur]
        assert out["live_loans"] == len(live_rows)
        assert out["principal_minor"] == sum(a - a * p // 100 for _c, _s, _d, a, p in live_rows)
        assert 0 <= out["dpd30_principal_minor"] <= out["principal_minor"]
        assert out["dpd30_loans"] == sum(1 for r in live_rows if r[2] > 30)
        assert 0.0 <= book["npl_ratio"][cur] <= 1.0
        for key in ("by_bucket", "by_class"):
            mine = [r for r in book[key] if r["currency"] == cur]
            assert sum(r["loans"] for r in mine) == out["live_loans"]
            assert sum(r["principal_minor"] for r in mine) == out["principal_minor"]
        stages = [r for r in book["ecl"]["by_stage"] if r["currency"] == cur]
        assert sum(r["ecl_minor"] for r in stages) == book["ecl"]["total_minor"][cur]
        assert sum(r["loans"] for r in stages) == out["live_loans"]
