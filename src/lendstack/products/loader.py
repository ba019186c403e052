"""Reading products from YAML/JSON files. The only I/O in the products package.

Files load through `lendstack.documents.load_document`: rates written as plain numbers
(`rate_annual: 0.144`) are exact Decimals from their text, so no float ever holds a rate. Every error
names the file, the line and the field.
"""

from __future__ import annotations

import functools
from pathlib import Path

from lendstack.documents import DocumentError, load_document
from lendstack.errors import ErrorKind
from lendstack.money import MoneyError
from lendstack.products.model import LoanProduct

CATALOG_DIR = Path(__file__).with_name("catalog")
_SUFFIXES = (".yaml", ".yml", ".json")


class ProductFileError(DocumentError, MoneyError):
    """A product file that cannot be read or is not a valid product; names the file, field and line.

    Both a DocumentError (any bad config file) and a MoneyError (what product errors always were)."""

    def __init__(self, path: str | Path, field: str, message: str, *, line: int = 0, column: int = 0,
                 kind: ErrorKind | None = None) -> None:
        super().__init__(str(path), line, field, message, column=column, kind=kind)
        self.path = Path(path)

    def __str__(self) -> str:
        # "file: field: message" is this error's established form; the line follows.
        at = f" (line {self.line})" if self.line else ""
        return f"{self.path}: {self.field}: {self.reason}{at}"


def load_product(path: str | Path) -> LoanProduct:
    """One product from a .yaml/.yml/.json file."""
    try:
        return load_document(path, LoanProduct)
    except DocumentError as exc:
        raise ProductFileError(exc.source, exc.location, exc.reason, line=exc.line, column=exc.column) from None


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
