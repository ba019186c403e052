"""The application as a frozen value: who applies, what they declare, and the data they submit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

# Declared once, in the application schema; re-exported because most callers read them from here.
from lendstack.origination.schema import APPLICANT_TYPES as APPLICANT_TYPES
from lendstack.origination.schema import IDENTIFIER_KINDS as IDENTIFIER_KINDS
from lendstack.origination.schema import SOURCES as SOURCES


@dataclass(frozen=True, slots=True)
class Identifiers:
    """Hashed identifiers used for matching without revealing the raw values."""

    phone_hash: str
    device_id: str
    bank_account_hash: str
    address_hash: str

    def as_dict(self) -> dict[str, str]:
        return {kind: getattr(self, kind) for kind in IDENTIFIER_KINDS}


@dataclass(frozen=True, slots=True)
class Applicant:
    applicant_id: str  # defaults to the application id when the document names none
    applicant_type: str  # one of APPLICANT_TYPES
    segment: str
    region: str
    age: int
    gender: str
    identifiers: Identifiers
    address_lat: float | None = None  # geocoded declared address, when the channel supplies it
    address_lon: float | None = None
    language: str = ""  # what to write to the borrower in: "en" | "zh-CN"; "" = not stated (lender's default)
    # The id the partner named the applicant by, when `applicant_id` is the book's own id for it
    # (services.decisions.scoped_to_partner): "" = the same as applicant_id. Not in the document.
    reference: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class Declared:
    """What the applicant states; money in integer minor units of the application's currency."""

    declared_monthly_revenue_minor: int | None  # None for salaried individuals
    requested_amount_minor: int
    requested_term_months: int
    purpose: str
    collateral: str


@dataclass(frozen=True, slots=True)
class EditEvent:
    """One edit of the application form, with where the device was (for odd-hour and travel checks)."""

    at: datetime  # timezone-aware; local hour matters for odd-hour checks, so the offset is kept
    field: str
    gps_lat: float | None = None
    gps_lon: float | None = None


@dataclass(frozen=True, slots=True)
class Application:
    application_id: str
    applied_on: date
    currency: str
    applicant: Applicant
    declared: Declared
    data_sources: dict[str, dict[str, Any]] = field(default_factory=dict, hash=False)  # raw, as submitted
    edits: tuple[EditEvent, ...] = ()
    partner_id: str = ""
    product_id: str = ""
    # The id the partner named the application by, when `application_id` is the book's own id for it
    # (services.decisions.scoped_to_partner): "" = the same as application_id. Not in the document.
    reference: str = field(default="", compare=False)
