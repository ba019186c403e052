"""Reading products from YAML/JSON files. The only I/O in the products package.

Rates in YAML are written as plain numbers (`rate_annual: 0.144`); the loader reads them as exact
Decimals from their text, so no float ever holds a rate. Every error names the file and the field.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from lendstack.money import MoneyError
from lendstack.products.model import LoanProduct

CATALOG_DIR = Path(__file__).with_name("catalog")
_SUFFIXES = (".yaml", ".yml", ".json")


class ProductFileError(MoneyError):
    """A product file that cannot be read or is not a valid product; names the file and field."""

    def __init__(self, path: Path, field: str, message: str) -> None:
        super().__init__(field, message)
        self.path = path

    def __str__(self) -> str:
        return f"{self.path}: {self.field}: {self.message}"


class DecimalLoader(yaml.SafeLoader):
    """SafeLoader that reads YAML floats as Decimal from their source text (no float ever holds a
    rate). Products and policies both load with it."""


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal | str:
    text = str(loader.construct_scalar(node))
    try:
        return Decimal(text.replace("_", ""))
    except InvalidOperation:
        return text  # e.g. .inf: left as text for the field's validator to refuse by name


DecimalLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)


def load_product(path: str | Path) -> LoanProduct:
    """One product from a .yaml/.yml/.json file."""
    file = Path(path)
    document = _read_document(file)
    try:
        return LoanProduct.model_validate(document)
    except ValidationError as exc:
        raise _file_error(file, exc) from None


def load_catalog(path: str | Path | None = None) -> dict[str, LoanProduct]:
    """Every product file in a directory (default: the packaged catalog), by product_id."""
    directory = CATALOG_DIR if path is None else Path(path)
    if not directory.is_dir():
        raise MoneyError("path", f"{directory} is not a directory of product files")
    products: dict[str, LoanProduct] = {}
    sources: dict[str, Path] = {}
    for file in sorted(p for p in directory.iterdir() if p.suffix in _SUFFIXES):
        product = load_product(file)
        if product.product_id in products:
            message = f"{product.product_id!r} is also defined in {sources[product.product_id]}"
            raise ProductFileError(file, "product_id", message)
        products[product.product_id], sources[product.product_id] = product, file
    return products


def get_product(product_id: str, catalog: dict[str, LoanProduct] | None = None) -> LoanProduct:
    """A product by id from the catalog given (default: the packaged one)."""
    products = _default_catalog() if catalog is None else catalog
    found = products.get(product_id)
    if found is None:
        known = ", ".join(sorted(products)) or "(none)"
        raise MoneyError("product_id", f"unknown product {product_id!r}; known: {known}")
    return found


@functools.cache
def _default_catalog() -> dict[str, LoanProduct]:
    return load_catalog()  # the packaged files do not change while the process runs


def _read_document(file: Path) -> Any:
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProductFileError(file, "path", f"cannot read: {exc.strerror}") from None
    try:
        if file.suffix == ".json":
            return json.loads(text, parse_float=Decimal)
        return yaml.load(text, Loader=DecimalLoader)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise ProductFileError(file, "document", f"not valid {file.suffix[1:].upper()}: {exc}") from None


def _file_error(file: Path, exc: ValidationError) -> ProductFileError:
    """The first error's field (pydantic's loc, or the field a cross-field check named), all messages."""
    # A typo'd key also makes the real key "missing": report the unknown key first, it is the cause.
    details = sorted(exc.errors(), key=lambda detail: detail["type"] != "extra_forbidden")
    messages = "; ".join(f"{_field_of(d)}: {d['msg']}" for d in details)
    return ProductFileError(file, _field_of(details[0]), messages)


def _field_of(detail: ErrorDetails) -> str:
    if detail["loc"]:
        return ".".join(str(part) for part in detail["loc"])
    cause = detail.get("ctx", {}).get("error")
    return cause.field if isinstance(cause, MoneyError) else "document"


# --------------------------------------------------------------------------- error locations in YAML
# Shared by every YAML document the project validates (products, policies, indicators, strategies):
# a pydantic error location becomes "a.b.0.c" and the line of the deepest node that exists.


def dotted_location(loc: Sequence[str | int]) -> str:
    return ".".join(str(part) for part in loc) or "document"


def line_of(node: yaml.Node | None, loc: Sequence[str | int]) -> int:
    """The 1-based line of the deepest node of `loc` that exists in the document (0 without a document)."""
    line = node.start_mark.line + 1 if node is not None else 0
    for part in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if k.value == str(part)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            child = node.value[part]
        if child is None:
            break
        node, line = child, child.start_mark.line + 1
    return line
