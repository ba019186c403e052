"""Invalid product files give an error naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lendstack.money import MoneyError
from lendstack.products import CATALOG_DIR, ProductFileError, load_catalog, load_product

BASE = (CATALOG_DIR / "consumer_cny_12m.yaml").read_text(encoding="utf-8")


def _write(tmp_path: Path, text: str, name: str = "product.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _load_with(tmp_path: Path, old: str, new: str) -> ProductFileError:
    assert old in BASE
    with pytest.raises(ProductFileError) as caught:
        load_product(_write(tmp_path, BASE.replace(old, new, 1)))
    return caught.value


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("rate_annual: 0.144", "rate_anual: 0.144", "rate_anual"),  # a typo'd key is refused by name
        ("  upfront_rate: 0\n", "  upfront_rat: 0\n", "fees.upfront_rat"),
        ("amount_min_minor: 100000 ", "amount_min_minor: 30000000 ", "amount_min_minor"),
        ("term_min: 6", "term_min: 30", "term_min"),
        ("rate_min_annual: 0.072", "rate_min_annual: 0.2", "rate_min_annual"),
        ("rate_annual: 0.144", "rate_annual: 0.19", "rate_annual"),
        ("rate_annual: 0.144", "rate_annual: 0.1444444", "rate_annual"),
        ("[penalty, fee, interest, principal]", "[penalty, fee, interest, interest]", "allocation_order"),
        ("[penalty, fee, interest, principal]", "[penalty, fee, interest]", "allocation_order"),
        (
            "[penalty, fee, interest, principal]",
            "[penalty, fee, interest, principal, tax]",
            "allocation_order.4",
        ),
        ("currency: CNY", "currency: RMB", "currency"),
        ("grace_days: 3", "grace_days: 31", "grace_days"),
        ("multiplier: 1.5 ", "multiplier: 0.5 ", "penalty.multiplier"),
        ("mode: reduce_installment", "mode: reduce_everything", "prepayment.mode"),
        ("schedule_method: equal_installment", "schedule_method: balloon", "schedule_method"),
        ("term_max: 24", "term_max: 24.0", "term_max"),
    ],
)
def test_invalid_product_names_the_file_and_field(tmp_path: Path, old: str, new: str, field: str) -> None:
    error = _load_with(tmp_path, old, new)
    assert error.field == field
    assert error.path.name == "product.yaml"
    assert str(error).startswith(f"{error.path}: {field}: ")


def test_rates_are_read_exactly_as_decimal(tmp_path: Path) -> None:
    product = load_product(_write(tmp_path, BASE.replace("rate_annual: 0.144", "rate_annual: 0.1")))
    assert str(product.rate_annual) == "0.1"  # not 0.1000000000000000055511151231257827


def test_json_products_load_too(tmp_path: Path) -> None:
    document = yaml.safe_load(BASE)
    text = yaml.safe_dump(document)  # floats are fine to round-trip through JSON text for this check
    import json

    path = _write(tmp_path, json.dumps(yaml.safe_load(text)), "product.json")
    assert load_product(path).product_id == "consumer_cny_12m"


def test_broken_yaml_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ProductFileError) as caught:
        load_product(_write(tmp_path, "product_id: [unclosed\n"))
    assert caught.value.field == "document" and "product.yaml" in str(caught.value)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ProductFileError) as caught:
        load_product(tmp_path / "nope.yaml")
    assert caught.value.field == "path"
    with pytest.raises(MoneyError) as dir_error:
        load_catalog(tmp_path / "nope")
    assert dir_error.value.field == "path"


def test_duplicate_product_ids_in_a_catalog(tmp_path: Path) -> None:
    _write(tmp_path, BASE, "a.yaml")
    _write(tmp_path, BASE, "b.yaml")
    with pytest.raises(ProductFileError, match="also defined in") as caught:
        load_catalog(tmp_path)
    assert caught.value.field == "product_id"
