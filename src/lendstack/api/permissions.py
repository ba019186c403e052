"""THE permission matrix: (method, route) → the roles allowed. Nothing else decides access.

A route missing here is refused to everyone (deny by default); the test walks every route of the
app and every role against this table. Partners are further limited to their own records by the
routes (ownership is data, not a role)."""

from __future__ import annotations

ADMIN, RISK, CREDIT, COLLECTIONS, AUDITOR, PARTNER = (
    "admin", "risk_manager", "credit_officer", "collections_agent", "auditor", "partner")
ROLES = (ADMIN, RISK, CREDIT, COLLECTIONS, AUDITOR, PARTNER)

EVERYONE = frozenset(ROLES)
STAFF_READ = frozenset({ADMIN, RISK, CREDIT, COLLECTIONS, AUDITOR})
ORIGINATE = frozenset({ADMIN, CREDIT, PARTNER})
COLLECT = frozenset({ADMIN, COLLECTIONS, PARTNER})  # a 助贷 partner forwards repayments it collected
BOOKS = frozenset({ADMIN, RISK, AUDITOR})

MATRIX: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/v1/products"): EVERYONE,
    ("GET", "/v1/products/{product_id}"): EVERYONE,
    ("POST", "/v1/schedules/quote"): EVERYONE,  # pure arithmetic: writes nothing
    ("GET", "/v1/applications"): STAFF_READ | {PARTNER},
    ("POST", "/v1/applications"): ORIGINATE,
    ("GET", "/v1/applications/{application_id}"): STAFF_READ | {PARTNER},
    ("GET", "/v1/applications/{application_id}/decision"): STAFF_READ | {PARTNER},
    ("POST", "/v1/offers/{application_id}/accept"): ORIGINATE,
    ("GET", "/v1/loans"): STAFF_READ | {PARTNER},
    ("GET", "/v1/loans/{loan_id}"): STAFF_READ | {PARTNER},
    ("GET", "/v1/loans/{loan_id}/schedule"): STAFF_READ | {PARTNER},
    ("GET", "/v1/loans/{loan_id}/statement"): STAFF_READ | {PARTNER},
    ("POST", "/v1/loans/{loan_id}/disbursements"): frozenset({ADMIN, CREDIT}),
    ("POST", "/v1/loans/{loan_id}/repayments"): COLLECT,
    ("POST", "/v1/loans/{loan_id}/prepayments"): COLLECT,
    ("GET", "/v1/reports/trial-balance"): BOOKS,
    ("GET", "/v1/reports/aging"): BOOKS | {COLLECTIONS},
    ("GET", "/v1/keys"): frozenset({ADMIN, AUDITOR}),
    ("POST", "/v1/keys/{key_id}/revoke"): frozenset({ADMIN}),
    # Webhooks: a partner manages its own (routes filter by partner id); admin subscriptions get everything.
    ("POST", "/v1/webhooks/subscriptions"): frozenset({ADMIN, PARTNER}),
    ("GET", "/v1/webhooks/subscriptions"): frozenset({ADMIN, AUDITOR, PARTNER}),
    ("DELETE", "/v1/webhooks/subscriptions/{subscription_id}"): frozenset({ADMIN, PARTNER}),
    ("GET", "/v1/webhooks/deliveries"): frozenset({ADMIN, AUDITOR, PARTNER}),
    ("POST", "/v1/webhooks/deliveries/{delivery_id}/redeliver"): frozenset({ADMIN, PARTNER}),
}

# The contract is public; everything else needs a key.
PUBLIC = frozenset({("GET", "/v1/openapi.json"), ("GET", "/v1/docs")})


def allowed(method: str, route: str, role: str) -> bool:
    assert role in ROLES, f"unknown role {role!r}"
    return role in MATRIX.get((method.upper(), route), frozenset())
