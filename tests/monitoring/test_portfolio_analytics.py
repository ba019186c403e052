"""Portfolio analytics on hand-checked books: distributions, NPL, concentration, paid dates,
DPD on a past date, roll rates and vintage curves."""

from __future__ import annotations

from datetime import date

import pytest
from tests.monitoring.books import installments_frame, loan, loans_frame, payments_frame

from lendstack.monitoring.portfolio import (
    PortfolioInputError,
    bucket_distribution,
    concentration,
    dpd_at,
    dpd_distribution,
    five_tier_distribution,
    installment_paid_dates,
    npl_ratio,
    roll_rates,
    vintage_curves,
    with_exposure,
)

BOOK = loans_frame(
    loan("A"),
    loan("B", days_past_due=45, bucket="M2", five_tier="special_mention", principal_repaid_minor=20_000),
    loan("C", days_past_due=100, bucket="M4", five_tier="substandard", product_id="p2"),
    loan("D", status="closed", principal_repaid_minor=100_000),
    loan("E", currency="USD", principal_disbursed_minor=5_000),
)


def test_exposure_sums_principal_and_receivables() -> None:
    frame = with_exposure(loans_frame(loan("X", principal_repaid_minor=30_000, interest_accrued_minor=900,
                                           interest_paid_minor=400, fee_charged_minor=50, penalty_accrued_minor=7)))
    row = frame.row(0, named=True)
    assert (row["principal_outstanding_minor"], row["receivable_minor"], row["ead_minor"]) == (70_000, 557, 70_557)


def test_distributions_count_live_loans_only() -> None:
    buckets = {(r["currency"], r["name"]): (r["loans"], r["principal_minor"]) for r in bucket_distribution(BOOK)}
    assert buckets == {("CNY", "M0"): (1, 100_000), ("CNY", "M2"): (1, 80_000), ("CNY", "M4"): (1, 100_000),
                       ("USD", "M0"): (1, 5_000)}
    bands = {r["name"]: r["loans"] for r in dpd_distribution(BOOK) if r["currency"] == "CNY"}
    assert bands == {"0": 1, "31-60": 1, "91-180": 1}
    tiers = {r["name"]: r["name_zh"] for r in five_tier_distribution(BOOK)}
    assert tiers["substandard"] == "次级"


def test_npl_ratio_is_substandard_doubtful_loss_over_outstanding() -> None:
    assert npl_ratio(BOOK) == {"CNY": pytest.approx(100_000 / 280_000), "USD": 0.0}


def test_concentration_shares_and_hhi() -> None:
    rows = [r for r in concentration(BOOK, "product_id") if r["currency"] == "CNY"]
    assert [(r["name"], r["share"]) for r in rows] == [("p1", pytest.approx(180 / 280)),
                                                      ("p2", pytest.approx(100 / 280))]
    assert rows[0]["hhi"] == pytest.approx((180 / 280) ** 2 + (100 / 280) ** 2)
    with pytest.raises(PortfolioInputError, match=r"loans\.region"):
        concentration(BOOK, "region")


def test_missing_loan_column_is_named() -> None:
    with pytest.raises(PortfolioInputError, match=r"loans\.bucket"):
        bucket_distribution(BOOK.drop("bucket"))


# Loan L: three installments of 100 due Feb 1, Mar 1, Apr 1. Paid 100 on Feb 1 (on time), 100 on
# Apr 15 (covers March, 45 days late), nothing more. Loan M: paid everything on time.
INST = installments_frame([("L", 1, date(2026, 2, 1), 100), ("L", 2, date(2026, 3, 1), 100),
                           ("L", 3, date(2026, 4, 1), 100), ("M", 1, date(2026, 2, 1), 150),
                           ("M", 2, date(2026, 3, 1), 150)])
PAY = payments_frame([("L", date(2026, 2, 1), 100), ("L", date(2026, 4, 15), 100), ("M", date(2026, 1, 30), 150),
                      ("M", date(2026, 3, 1), 150)])
LOANS_LM = loans_frame(loan("L", status="overdue"), loan("M", status="closed"))


def test_paid_dates_cover_installments_oldest_first() -> None:
    paid = installment_paid_dates(INST, PAY)
    assert paid.filter(paid["loan_id"] == "L")["paid_on"].to_list() == [date(2026, 2, 1), date(2026, 4, 15), None]
    assert paid.filter(paid["loan_id"] == "M")["paid_on"].to_list() == [date(2026, 1, 30), date(2026, 3, 1)]


@pytest.mark.parametrize(("on", "dpd"), [(date(2026, 2, 1), 0), (date(2026, 2, 2), 0), (date(2026, 3, 2), 1),
                                         (date(2026, 4, 10), 40), (date(2026, 4, 15), 14), (date(2026, 5, 1), 30)])
def test_dpd_on_a_past_date(on: date, dpd: int) -> None:
    result = dpd_at(installment_paid_dates(INST, PAY), on)
    assert dict(result.iter_rows())["L"] == dpd


def test_roll_rates_between_two_dates() -> None:
    paid = installment_paid_dates(INST, PAY)
    roll = roll_rates(paid, LOANS_LM, date(2026, 3, 2), date(2026, 4, 10))
    assert roll["counts"][1][2] == 1  # L: M1 (1 DPD) on Mar 2 → M2 (40 DPD) on Apr 10
    assert sum(roll["counts"][0]) == 0  # M was paid off on Mar 1: not in the book on Mar 2
    assert roll["shares"][1][2] == 1.0
    earlier = roll_rates(paid, LOANS_LM, date(2026, 2, 15), date(2026, 4, 10))["counts"][0]
    assert earlier[2] == 1 and earlier[-1] == 1 and sum(earlier) == 2  # L → M2, M → closed


def test_vintage_ever_30_and_90() -> None:
    paid = installment_paid_dates(INST, PAY)
    rows = vintage_curves(paid, LOANS_LM, date(2026, 6, 1))
    by_mob = {r["mob"]: r for r in rows if r["vintage"] == "2026-01"}
    # L first exceeds 30 DPD on Mar 1 + 31 days = Apr 1: month on book 3 from Jan 1 (partial month counts).
    assert by_mob[2]["ever_dpd30_share"] == 0.0
    assert by_mob[4]["ever_dpd30_share"] == 0.5
    assert by_mob[4]["ever_dpd30_balance_share"] == 0.5
    assert all(r["ever_dpd90_share"] == 0.0 for r in rows)  # L's April installment: 61 DPD on Jun 1
    assert max(by_mob) == 5


@pytest.mark.parametrize(("paid_on", "crossed"), [(date(2026, 3, 4), False), (date(2026, 3, 5), True)])
def test_ever_30_boundary(paid_on: date, crossed: bool) -> None:
    # Due Feb 1: 31 DPD at the end of Mar 4 unless paid that day (servicing ages after payments).
    paid = installment_paid_dates(installments_frame([("Q", 1, date(2026, 2, 1), 100)]),
                                  payments_frame([("Q", paid_on, 100)]))
    rows = vintage_curves(paid, loans_frame(loan("Q")), date(2026, 6, 1))
    assert rows[-1]["ever_dpd30_share"] == (1.0 if crossed else 0.0)
