"""Fraud checks: velocity, device, geo, odd-hour edits, identity graph, blacklists, multi-borrowing.

`run_fraud_checks(application, bundle, context, config)` → `Flag`s with evidence. The history comes
through the `FraudContext` protocol: `MemoryFraudContext` here, `SqlFraudContext` in the store.
"""

from lendstack.fraud.blacklist import BlacklistError, parse_blacklist_csv
from lendstack.fraud.checks import haversine_km, run_fraud_checks
from lendstack.fraud.config import DEFAULT, FraudConfig
from lendstack.fraud.context import (
    BLACKLIST_KINDS,
    VELOCITY_KINDS,
    BlacklistEntry,
    FraudContext,
    MemoryFraudContext,
    identifier_values,
)
from lendstack.fraud.graph import Component, identity_component, ring_components

__all__ = [
    "BLACKLIST_KINDS",
    "DEFAULT",
    "VELOCITY_KINDS",
    "BlacklistEntry",
    "BlacklistError",
    "Component",
    "FraudConfig",
    "FraudContext",
    "MemoryFraudContext",
    "haversine_km",
    "identifier_values",
    "identity_component",
    "parse_blacklist_csv",
    "ring_components",
    "run_fraud_checks",
]
