"""THE permission matrix: (method, route) → the roles allowed. Nothing else decides access.

A route missing here is refused to everyone (deny by default); the test walks every route of the
app and every role against this table. Partners are further limited to their own records by the
routes (ownership is data, not a role)."""

from __future__ import annotations

from lendstack.services.staff import STAFF_ROLES

ADMIN, RISK, CREDIT, COLLECTIONS, AUDITOR, OPERATIONS, PARTNER = (
    "admin", "risk_manager", "credit_officer", "collections_agent", "auditor", "operations", "partner")
ROLES = (ADMIN, RISK, CREDIT, COLLECTIONS, AUDITOR, OPERATIONS, PARTNER)
# Staff roles are defined by the service layer (which cannot import the API); one list, checked here.
assert STAFF_ROLES == (ADMIN, RISK, CREDIT, COLLECTIONS, AUDITOR, OPERATIONS), "staff = every role but partner"

EVERYONE = frozenset(ROLES)
STAFF_READ = frozenset({ADMIN, RISK, CREDIT, COLLECTIONS, AUDITOR, OPERATIONS})
ORIGINATE = frozenset({ADMIN, CREDIT, PARTNER})
COLLECT = frozenset({ADMIN, COLLECTIONS, PARTNER})  # a 助贷 partner forwards repayments it collected
BOOKS = frozenset({ADMIN, RISK, AUDITOR, OPERATIONS})
# Decision replay (re-run a stored decision and compare): the auditor's check, risk's and admin's; a
# partner may check its own decisions (the route answers 404 for anyone else's, as for an unknown id).
AUDIT = frozenset({ADMIN, RISK, AUDITOR, PARTNER})

MATRIX: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/v1/products"): EVERYONE,
    ("GET", "/v1/products/{product_id}"): EVERYONE,
    ("POST", "/v1/schedules/quote"): EVERYONE,  # pure arithmetic: writes nothing
    ("GET", "/v1/applications"): STAFF_READ | {PARTNER},
    ("POST", "/v1/applications"): ORIGINATE,
    ("GET", "/v1/applications/{application_id}"): STAFF_READ | {PARTNER},
    ("GET", "/v1/applications/{application_id}/decision"): STAFF_READ | {PARTNER},
    ("GET", "/v1/applications/{application_id}/replay"): AUDIT,
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
    # Post-loan data (revenue, tax, bureau, telematics, device): risk feeds it; a partner for its own loans.
    ("POST", "/v1/post-loan-data"): frozenset({ADMIN, RISK, PARTNER}),
    # Webhooks: a partner manages its own (routes filter by partner id); admin subscriptions get everything.
    ("POST", "/v1/webhooks/subscriptions"): frozenset({ADMIN, PARTNER}),
    ("GET", "/v1/webhooks/subscriptions"): frozenset({ADMIN, AUDITOR, PARTNER}),
    ("DELETE", "/v1/webhooks/subscriptions/{subscription_id}"): frozenset({ADMIN, PARTNER}),
    ("GET", "/v1/webhooks/deliveries"): frozenset({ADMIN, AUDITOR, PARTNER}),
    ("POST", "/v1/webhooks/deliveries/{delivery_id}/redeliver"): frozenset({ADMIN, PARTNER}),
    # Decision policies and the model registry: staff read; only admin and risk change the champion.
    ("GET", "/v1/policies"): STAFF_READ,
    ("GET", "/v1/policies/{policy_id}"): STAFF_READ,
    ("GET", "/v1/models"): STAFF_READ,
    ("GET", "/v1/models/{version}"): STAFF_READ,
    ("POST", "/v1/models/{version}/promote"): frozenset({ADMIN, RISK}),
    ("POST", "/v1/models/rollback"): frozenset({ADMIN, RISK}),
    ("GET", "/v1/reports/portfolio"): BOOKS | {COLLECTIONS},
    ("GET", "/v1/applicants/{applicant_id}"): STAFF_READ | {PARTNER},  # a partner sees its own applications
}

# The staff console (lendstack.web): logged-in staff only (never partners); the auditor only reads.
CONSOLE_ORIGINATE = frozenset({ADMIN, CREDIT})
CONSOLE_REVIEW = frozenset({ADMIN, RISK, CREDIT})
MATRIX |= {
    ("GET", "/console"): STAFF_READ,
    ("POST", "/logout"): STAFF_READ,
    ("GET", "/console/applications"): STAFF_READ,
    ("GET", "/console/applications/new"): CONSOLE_ORIGINATE,
    ("POST", "/console/applications"): CONSOLE_ORIGINATE,
    ("GET", "/console/applications/{application_id}"): STAFF_READ,
    ("POST", "/console/applications/{application_id}/accept"): CONSOLE_ORIGINATE,
    ("GET", "/console/reviews"): STAFF_READ,
    ("POST", "/console/reviews/{application_id}/assign"): CONSOLE_REVIEW,
    ("POST", "/console/reviews/{application_id}/resolve"): CONSOLE_REVIEW,
    ("GET", "/console/loans"): STAFF_READ,
    ("GET", "/console/loans/{loan_id}"): STAFF_READ,
    ("POST", "/console/loans/{loan_id}/disburse"): CONSOLE_ORIGINATE,
    ("POST", "/console/loans/{loan_id}/repay"): frozenset({ADMIN, COLLECTIONS}),
    ("GET", "/console/alerts"): STAFF_READ,
    ("POST", "/console/alerts/{alert_id}/act"): frozenset({ADMIN, RISK, COLLECTIONS}),
    ("GET", "/console/webhooks"): frozenset({ADMIN, AUDITOR}),
    ("POST", "/console/webhooks/{delivery_id}/redeliver"): frozenset({ADMIN}),
}
# Console dashboard and catalog pages (console-pages): every staff role reads them; only admin and
# risk manager change the model champion.
MATRIX |= {
    ("GET", "/console/dashboard"): STAFF_READ,
    ("GET", "/console/dashboard/data"): STAFF_READ,
    ("GET", "/console/products"): STAFF_READ,
    ("GET", "/console/policies"): STAFF_READ,
    ("GET", "/console/policies/{policy_id}"): STAFF_READ,
    ("GET", "/console/models"): STAFF_READ,
    ("GET", "/console/models/{version}"): STAFF_READ,
    ("POST", "/console/models/{version}/promote"): frozenset({ADMIN, RISK}),
    ("POST", "/console/models/rollback"): frozenset({ADMIN, RISK}),
}

# Console collections and reports (console-ops): collectors and admin work cases, only admin assigns them;
# risk and the auditor read. Every staff role reads the reports but the audit bundle (API security checks).
CONSOLE_COLLECTIONS_READ = frozenset({ADMIN, RISK, COLLECTIONS, AUDITOR})
CONSOLE_COLLECT = frozenset({ADMIN, COLLECTIONS})
MATRIX |= {
    ("GET", "/console/collections"): CONSOLE_COLLECTIONS_READ,
    ("GET", "/console/collections/{case_id}"): CONSOLE_COLLECTIONS_READ,
    ("POST", "/console/collections/{case_id}/contacts"): CONSOLE_COLLECT,
    ("POST", "/console/collections/{case_id}/promises"): CONSOLE_COLLECT,
    ("POST", "/console/collections/{case_id}/assign"): frozenset({ADMIN}),
    ("GET", "/console/reports"): STAFF_READ,
    ("GET", "/console/reports/portfolio"): STAFF_READ,
    ("GET", "/console/reports/models"): STAFF_READ,
    ("GET", "/console/reports/fairness"): STAFF_READ,
    ("GET", "/console/reports/stress"): STAFF_READ,
    ("GET", "/console/reports/audit"): frozenset({ADMIN, AUDITOR, RISK}),
}

# Staff management (issue 6): only admin creates, disables, enables, unlocks staff users or sets their
# password; the auditor (read-only on everything) also sees who has access.
MATRIX |= {
    ("GET", "/console/staff"): frozenset({ADMIN, AUDITOR}),
    ("POST", "/console/staff"): frozenset({ADMIN}),
    ("POST", "/console/staff/{username}/disable"): frozenset({ADMIN}),
    ("POST", "/console/staff/{username}/enable"): frozenset({ADMIN}),
    ("POST", "/console/staff/{username}/password"): frozenset({ADMIN}),
    ("POST", "/console/staff/{username}/unlock"): frozenset({ADMIN}),
}

# Refunds pay money out of suspense back to a borrower: the staff who take repayments (admin,
# collections), never a partner. A 助贷 partner forwards money in; paying out is the lender's own act.
REFUND = (COLLECT - {PARTNER}) | {OPERATIONS}
# Recoveries after write-off (核销后收回): the collectors who collect them and the back office that books
# them. Reversals (冲正) of a bounced or misapplied payment: admin and operations only, never a partner.
RECOVER = frozenset({ADMIN, COLLECTIONS, OPERATIONS})
REVERSE = frozenset({ADMIN, OPERATIONS})
MATRIX |= {
    ("POST", "/v1/loans/{loan_id}/refund"): REFUND,
    ("POST", "/console/loans/{loan_id}/refund"): REFUND,
    ("POST", "/v1/loans/{loan_id}/recoveries"): RECOVER,
    ("POST", "/console/loans/{loan_id}/recover"): RECOVER,
    ("POST", "/v1/loans/{loan_id}/reversals"): REVERSE,
    ("POST", "/console/loans/{loan_id}/reverse"): REVERSE,
}

# The contract is public; everything else needs a key.
PUBLIC = frozenset({("GET", "/v1/openapi.json"), ("GET", "/v1/docs")})


def allowed(method: str, route: str, role: str) -> bool:
    assert role in ROLES, f"unknown role {role!r}"
    return role in MATRIX.get((method.upper(), route), frozenset())


# Reads of personal data (applicants, applications, loans, collection cases) are audited like changes:
# who read whose record, when, from where — the quarterly audit reports them (个人信息访问记录).
PERSONAL_DATA_READS = frozenset({
    "/v1/applications", "/v1/applications/{application_id}", "/v1/applications/{application_id}/decision",
    "/v1/applications/{application_id}/replay",
    "/v1/applicants/{applicant_id}", "/v1/loans", "/v1/loans/{loan_id}", "/v1/loans/{loan_id}/schedule",
    "/v1/loans/{loan_id}/statement",
    "/console/applications", "/console/applications/{application_id}", "/console/reviews", "/console/loans",
    "/console/loans/{loan_id}", "/console/collections", "/console/collections/{case_id}",
})


def audited(method: str, route: str | None) -> bool:
    """Whether a call leaves an audit row: every change (allowed or refused), and reads of personal data."""
    if method.upper() not in ("GET", "HEAD", "OPTIONS"):
        return True
    return route in PERSONAL_DATA_READS


assert all(("GET", route) in MATRIX for route in PERSONAL_DATA_READS), "a personal-data read that is not a route"
