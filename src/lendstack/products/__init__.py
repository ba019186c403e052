"""Loan products as data: schedule method, rates and band, fees, penalty, grace, allocation order,
prepayment rule and the legal APR cap; a packaged catalog of YAML products.

Imports lendstack.schedule, lendstack.money, and lendstack.documents (the one config loader); the loader
is the only I/O.
"""

from lendstack.products.loader import CATALOG_DIR, ProductFileError, get_product, load_catalog, load_product
from lendstack.products.model import (
    DEFAULT_ALLOCATION_ORDER,
    Component,
    Fees,
    LoanProduct,
    Penalty,
    PrepaymentMode,
    PrepaymentRule,
)

__all__ = [
    "CATALOG_DIR",
    "DEFAULT_ALLOCATION_ORDER",
    "Component",
    "Fees",
    "LoanProduct",
    "Penalty",
    "PrepaymentMode",
    "PrepaymentRule",
    "ProductFileError",
    "get_product",
    "load_catalog",
    "load_product",
]
