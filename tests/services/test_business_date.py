"""The business date (营业日期), on SQLite and PostgreSQL: every money command is dated on it or
refused naming `on` and writing nothing; end of day is the only thing that moves it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from tests.book_dates import advance_to

from lendstack.money import Money
from lendstack.services.business_date import business_date, open_book
from lendstack.services.eod import run_eod
from lendstack.services.loans import (
    book_loan,
    disburse_loan,
    get_loan,
    prepay_loan,
    recover_loan,
    refund_loan,
    repay_loan,
    restructure_loan,
    reverse_loan_payment,
    write_off_loan,
)
from lendstack.services.monitoring import post_provision
from lendstack.servicing import ServicingError
from lendstack.store import UnitOfWork
from lendstack.store.tables import (
    book_state,
    idempotency_keys,
    installments,
    journal_entries,
    loan_commands,
    loans,
    outbox,
    postings,
)

ON = date(2026, 1, 5)
TABLES = (loans, installments, journal_entries, postings, outbox, idempotency_keys, loan_commands, book_state)
CNY = "CNY"


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar() or 0) for t in TABLES}


def a_loan(engine: Engine, loan_id: str = "L1") -> None:
    book_loan(engine, loan_id=loan_id, product="consumer_cny_12m", amount=Money(1_200_000, CNY), term=12,
              key=f"book-{loan_id}", on=ON)
    disburse_loan(engine, loan_id, ON, f"disb-{loan_id}")


def test_the_first_command_opens_the_book_and_only_end_of_day_moves_it(engine: Engine) -> None:
    assert business_date(engine) is None
    a_loan(engine)
    assert business_date(engine) == ON
    report = run_eod(engine, ON + timedelta(days=2), hooks=False)
    assert report.days == 3 and business_date(engine) == ON + timedelta(days=3)
    again = run_eod(engine, ON + timedelta(days=1), hooks=False)  # already closed: nothing to do
    assert again.days == 0 and business_date(engine) == ON + timedelta(days=3)
    repay_loan(engine, "L1", None, Money(1_000, CNY), "on-the-business-date")  # `on` left out
    assert get_loan(engine, "L1").suspense_minor == 1_000


def test_open_book_sets_a_new_books_date_once(engine: Engine) -> None:
    assert open_book(engine, ON).opened is True
    assert open_book(engine, ON).opened is False
    with pytest.raises(ServicingError) as err:
        open_book(engine, ON + timedelta(days=1))
    assert err.value.field == "business_date"


LATER = ON + timedelta(days=40)
REFUSED: list[tuple[str, Callable[[Engine, date], Any]]] = [
    ("repay", lambda e, d: repay_loan(e, "L1", d, Money(100, CNY), "k")),
    ("prepay", lambda e, d: prepay_loan(e, "L1", d, Money(100_000, CNY), "k")),
    ("refund", lambda e, d: refund_loan(e, "L1", d, Money(1, CNY), "k")),
    ("restructure", lambda e, d: restructure_loan(e, "L1", d, 12, "k")),
    ("write off", lambda e, d: write_off_loan(e, "L1", d, "k")),
    ("recover", lambda e, d: recover_loan(e, "L1", d, Money(1, CNY), "k")),
    ("reverse", lambda e, d: reverse_loan_payment(e, "L1", "L1/repay/p", d, "k", "bounced")),
    ("disburse", lambda e, d: disburse_loan(e, "L2", d, "k")),
    ("book", lambda e, d: book_loan(e, loan_id="L3", product="consumer_cny_12m", amount=Money(1_200_000, CNY),
                                    term=12, key="k", on=d)),
    ("provision", lambda e, d: post_provision(e, d)),
]


@pytest.mark.parametrize(("what", "command"), REFUSED, ids=[r[0] for r in REFUSED])
@pytest.mark.parametrize("offset", [1, 365, -1, -30], ids=["tomorrow", "a-year-ahead", "yesterday", "closed-month"])
def test_a_command_dated_off_the_business_date_is_refused_naming_the_date_and_writes_nothing(
    engine: Engine, what: str, command: Callable[[Engine, date], Any], offset: int
) -> None:
    a_loan(engine)
    book_loan(engine, loan_id="L2", product="consumer_cny_12m", amount=Money(1_200_000, CNY), term=12, key="b2",
              on=ON)
    advance_to(engine, LATER)
    repay_loan(engine, "L1", LATER, Money(10_000, CNY), "p")
    before = counts(engine)
    day = LATER + timedelta(days=offset)
    with pytest.raises(ValueError) as err:
        command(engine, day)
    assert getattr(err.value, "field", None) in ("on", "as_of")
    assert str(LATER) in getattr(err.value, "message", "") or "provision" in what
    assert counts(engine) == before
    assert business_date(engine) == LATER
    # A repayment dated a year ahead no longer ages the loan to 损失: nothing happened at all.
    assert get_loan(engine, "L1").days_past_due == 0 or timedelta(days=30) < LATER - ON


def test_disbursing_after_the_days_since_booking_were_closed_is_dated_today_not_at_booking(engine: Engine) -> None:
    book_loan(engine, loan_id="L2", product="consumer_cny_12m", amount=Money(1_200_000, CNY), term=12, key="b2",
              on=ON)
    advance_to(engine, ON + timedelta(days=90))
    with pytest.raises(ServicingError) as err:  # back-dated into a closed April: refused, January untouched
        disburse_loan(engine, "L2", ON, "late-disburse")
    assert err.value.field == "on"
    done = disburse_loan(engine, "L2", None, "disburse-today")
    loan = get_loan(engine, "L2")
    assert done["on"] == (ON + timedelta(days=90)).isoformat() and loan.disbursed_on == ON + timedelta(days=90)
    with UnitOfWork(engine) as uow:
        assert uow.ledger.verify() == []
        # nothing is posted into a closed day (a booking posts nothing: the first entry is the payout)
        e = journal_entries.c
        assert uow.connection.execute(select(func.min(e.effective_date))).scalar_one() == ON + timedelta(days=90)


def test_end_of_day_with_no_live_loan_still_moves_the_date_and_runs_the_month_end(engine: Engine) -> None:
    open_book(engine, date(2026, 3, 30))
    report = run_eod(engine, date(2026, 4, 2))
    assert report.days == 4 and business_date(engine) == date(2026, 4, 3)


def test_a_run_killed_mid_day_resumes_and_the_date_moves_only_when_the_day_is_done(engine: Engine) -> None:
    for k in range(5):
        a_loan(engine, f"L{k}")
    partial = run_eod(engine, ON, chunk_loans=2, max_chunks=1, hooks=False)
    assert partial.days == 0 and business_date(engine) == ON
    with pytest.raises(ServicingError) as err:  # L0, L1 are closed for ON: no command lands in their day
        repay_loan(engine, "L0", ON, Money(1_000, CNY), "during-eod")
    assert err.value.field == "on"
    repay_loan(engine, "L4", ON, Money(1_000, CNY), "not-yet-closed")  # still open: its day takes it
    rest = run_eod(engine, ON, hooks=False)
    assert rest.days == 1 and business_date(engine) == ON + timedelta(days=1)
    assert get_loan(engine, "L4").suspense_minor == 1_000
    with UnitOfWork(engine) as uow:
        assert {uow.loans.get(f"L{k}").accrued_through for k in range(5)} == {ON}


def test_the_eod_date_names_date_and_a_gap_of_more_than_ten_years_is_refused(engine: Engine) -> None:
    a_loan(engine)
    with pytest.raises(ServicingError) as err:
        run_eod(engine, ON + timedelta(days=4_000), hooks=False)
    assert err.value.field == "date"
    assert business_date(engine) == ON


@pytest.mark.parametrize("day", [date(1, 1, 1), date(1989, 12, 31), date(2201, 1, 1), date(9999, 12, 31)])
def test_a_book_does_not_open_on_an_implausible_date(engine: Engine, day: date) -> None:
    before = counts(engine)
    with pytest.raises(ServicingError) as err:
        open_book(engine, day)
    assert err.value.field == "business_date"
    with pytest.raises(ServicingError) as err:
        book_loan(engine, loan_id="L1", product="consumer_cny_12m", amount=Money(1_200_000, CNY), term=12,
                  key="b", on=day)
    assert err.value.field == "on"
    with pytest.raises(ServicingError) as err:
        run_eod(engine, day, hooks=False)
    assert err.value.field == "date"
    assert counts(engine) == before and business_date(engine) is None
