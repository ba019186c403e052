"""The open API's repositories (store/api_repo.py) on SQLite and PostgreSQL: keys, the HTTP
idempotency record, loan partners and the partner-scoped loan listing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from lendstack.money import Money
from lendstack.services.loans import book_loan
from lendstack.store.api_repo import (
    ApiIdempotencyRepository,
    ApiKeyRepository,
    DuplicateRecord,
    KeptResponse,
    KeyRecord,
    LoanListing,
    LoanPartnerRepository,
)

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_keys_are_found_by_hash_revoked_once_and_listed(engine: Engine) -> None:
    with engine.begin() as conn:
        keys = ApiKeyRepository(conn)
        keys.add(key_id="k_1", key_hash="a" * 64, role="partner", partner_id="p1", label="one", created_at=AT)
        keys.add(key_id="k_2", key_hash="b" * 64, role="admin", partner_id="", label="", created_at=AT)
    with engine.begin() as conn:
        keys = ApiKeyRepository(conn)
        assert keys.by_hash("a" * 64) == KeyRecord("k_1", "partner", "p1", revoked=False)
        assert keys.by_hash("c" * 64) is None
        assert keys.revoke("k_1", AT) is True and keys.revoke("nope", AT) is False
        assert keys.by_hash("a" * 64) == KeyRecord("k_1", "partner", "p1", revoked=True)
        later = datetime(2027, 1, 1, tzinfo=UTC)
        assert keys.revoke("k_1", later) is True  # revoking twice keeps the first time
        listed = keys.page(10, 0)
    assert [k.key_id for k in listed] == ["k_1", "k_2"]
    assert listed[0].revoked_at == AT and listed[1].revoked_at is None and listed[0].label == "one"
    with engine.connect() as conn:
        assert [k.key_id for k in ApiKeyRepository(conn).page(1, 1)] == ["k_2"]


def test_the_first_response_is_kept_once(engine: Engine) -> None:
    body = {"application_id": "a1", "amounts": [1, 2], "nested": {"ok": True}}
    with engine.begin() as conn:
        kept = ApiIdempotencyRepository(conn)
        assert kept.first("k_1", "abc") is None
        kept.remember(key_id="k_1", key="abc", method="POST", path="/v1/x", request_hash="h" * 64, status=201,
                      body=body, at=AT)
    with engine.connect() as conn:
        assert ApiIdempotencyRepository(conn).first("k_1", "abc") == KeptResponse("h" * 64, 201, body)
        assert ApiIdempotencyRepository(conn).first("k_2", "abc") is None  # keys are per API key
    with pytest.raises(DuplicateRecord), engine.begin() as conn:
        ApiIdempotencyRepository(conn).remember(key_id="k_1", key="abc", method="POST", path="/v1/x",
                                                request_hash="i" * 64, status=201, body={}, at=AT)


def test_loan_partners_and_the_partner_scoped_listing(engine: Engine) -> None:
    for loan_id in ("L1", "L2", "L3"):
        book_loan(engine, loan_id=loan_id, product="consumer_cny_12m", amount=Money(500_000, "CNY"), term=12,
                  key=f"book-{loan_id}")
    with engine.begin() as conn:
        partners = LoanPartnerRepository(conn)
        partners.own("L1", "p1")
        partners.own("L2", "p2")
        partners.own("L1", "p2")  # the first partner stays
    with engine.connect() as conn:
        partners = LoanPartnerRepository(conn)
        assert partners.partner_of("L1") == "p1" and partners.partner_of("L3") is None
        assert partners.owned_by("p1", {"L1", "L2", "L9"}) == {"L1"}
        whole = partners.page("", None, 10, 0)
        assert [item.loan_id for item in whole] == ["L1", "L2", "L3"]
        assert isinstance(whole[0], LoanListing) and whole[0].principal_minor == 500_000
        assert whole[0].status == "approved" and whole[0].currency == "CNY" and whole[0].bucket == "M0"
        assert [item.loan_id for item in partners.page("p2", None, 10, 0)] == ["L2"]
        assert partners.page("p1", "active", 10, 0) == []
        assert [item.loan_id for item in partners.page("", None, 1, 1)] == ["L2"]
