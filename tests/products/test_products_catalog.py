"""The packaged catalog, product rules, fees and the APR cap."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from lendstack.money import MoneyError, RateCapExceeded
from lendstack.products import Component, LoanProduct, get_product, load_catalog
from lendstack.schedule import ScheduleMethod, apr_of

START = date(2026, 1, 15)


def test_catalog_has_the_packaged_products() -> None:
    catalog = load_catalog()
    assert set(catalog) == {
        "consumer_cny_12m",
        "micro_business_cny",
        "farm_seasonal_cny",
        "bullet_30d_cny",
        "usd_personal",
    }
    consumer = catalog["consumer_cny_12m"]
    assert consumer.rate_annual == Decimal("0.144") and isinstance(consumer.rate_annual, Decimal)
    assert consumer.schedule_method is ScheduleMethod.EQUAL_INSTALLMENT
    assert catalog["farm_seasonal_cny"].allocation_order[0] is Component.INTEREST
    assert catalog["usd_personal"].currency == "USD"


@pytest.mark.parametrize("product_id", sorted(load_catalog()))
def test_every_product_builds_within_its_cap_at_its_own_rate(product_id: str) -> None:
    product = get_product(product_id)
    for amount_minor in (product.amount_min_minor, product.amount_max_minor):
        for term in (product.term_min, product.term_max):
            schedule = product.build_schedule(amount_minor, term, START)
            assert schedule.method is product.schedule_method
            assert product.check_apr(schedule) <= product.rate_cap_apr


def test_fees() -> None:
    product = get_product("micro_business_cny")
    assert product.upfront_fee_minor(10_000_000) == 50_000  # 0.5 %
    assert product.periodic_fee_minor(10_000_000) == 0
    with_periodic = product.model_copy(
        update={"fees": product.fees.model_copy(update={"periodic_rate": Decimal("0.001")})}
    )
    schedule = with_periodic.build_schedule(10_000_000, 12, START)
    assert {line.fee_minor for line in schedule.lines} == {10_000}


def test_upfront_fee_raises_the_apr_over_the_contract_rate() -> None:
    product = get_product("usd_personal")
    schedule = product.build_schedule(1_000_000, 12, START)
    # Rounding a 879.16 payment to the cent moves a 10,000 USD loan's APR by up to ~1e-5.
    assert abs(apr_of(schedule) - product.rate_annual) < Decimal("1e-5")
    assert product.check_apr(schedule) > product.rate_annual + Decimal("0.05")  # 3 % fee over one year


def test_apr_above_the_cap_raises_rate_cap_exceeded_naming_rate_annual() -> None:
    product = get_product("bullet_30d_cny")
    # 24 % for one month plus a 0.2 % upfront fee is a 26.45 % APR: over the 24 % legal cap.
    with pytest.raises(RateCapExceeded) as caught:
        product.build_schedule(1_000_000, 1, START, rate_annual="0.24")
    assert caught.value.field == "rate_annual"
    assert product.build_schedule(1_000_000, 1, START, rate_annual="0.2").lines[0].interest_minor == 16_667


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"amount_minor": 99_999, "term": 12}, "amount_minor"),
        ({"amount_minor": 20_000_001, "term": 12}, "amount_minor"),
        ({"amount_minor": 1.5, "term": 12}, "amount_minor"),
        ({"amount_minor": 1_000_000, "term": 5}, "term"),
        ({"amount_minor": 1_000_000, "term": 25}, "term"),
        ({"amount_minor": 1_000_000, "term": 12, "rate_annual": "0.19"}, "rate_annual"),
        ({"amount_minor": 1_000_000, "term": 12, "rate_annual": "0.07"}, "rate_annual"),
        ({"amount_minor": 1_000_000, "term": 12, "currency": "USD"}, "currency"),
    ],
)
def test_validate_request_names_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(MoneyError) as caught:
        get_product("consumer_cny_12m").validate_request(**kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_validate_request_returns_the_rate_to_use() -> None:
    product = get_product("consumer_cny_12m")
    assert product.validate_request(1_000_000, 12) == Decimal("0.144")
    assert product.validate_request(1_000_000, 12, "0.1", currency="cny") == Decimal("0.1")


def test_unknown_product_lists_the_known_ones() -> None:
    with pytest.raises(MoneyError, match="unknown product 'x'; known: bullet_30d_cny") as caught:
        get_product("x")
    assert caught.value.field == "product_id"
    with pytest.raises(MoneyError):
        get_product("consumer_cny_12m", catalog={})


def test_products_are_frozen() -> None:
    product = get_product("consumer_cny_12m")
    with pytest.raises(ValueError):
        product.rate_annual = Decimal("0.2")  # type: ignore[misc]
    assert isinstance(product, LoanProduct)
