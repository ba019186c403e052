"""`parse_application`: the canonical application JSON → `Application`, or an `ApplicationError` naming the field.

The canonical document is what `lendstack.sim.to_application_json(row)` produces, plus the optional
`product_id`, `partner_id`, `edits`, `applicant.applicant_id` and `applicant.address_lat/lon`.
Unknown keys are refused everywhere (a misspelt field must not be silently ignored).
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
)

from lendstack.money.currency import CURRENCIES
from lendstack.money.money import AMOUNT_MINOR_MAX
from lendstack.origination.application import (
    APPLICANT_TYPES,
    SOURCES,
    Applicant,
    Application,
    Declared,
    EditEvent,
    Identifiers,
)
from lendstack.origination.errors import ApplicationError
from lendstack.text import CleanText

COLLATERALS = ("none", "vehicle", "property", "receivables", "guarantee")
# Categories the models, policies and concentration caps group by (the simulator's lists, tested equal):
# free text here would make a new group of one, or slip past a cap by a spelling.
SEGMENTS = ("restaurant", "retail", "farming", "logistics", "ride_hailing", "manufacturing", "e_commerce", "salaried")
REGIONS = ("east", "south", "north", "central", "southwest", "northwest", "northeast", "tier1_metro")
AGE_MIN_YEARS, AGE_MAX_YEARS = 18, 100
TERM_MAX_MONTHS = 360
POS_MONTHS = 12
APPLIED_ON_MIN = date(1990, 1, 1)  # the earliest plausible application (and book) date

Text = Annotated[CleanText, Field(min_length=1, max_length=200)]  # NFC; no control, zero-width or bidi characters
Id = Annotated[StrictStr, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$")]
# Every number has an upper bound: an unbounded integer overflowed the database's BIGINT (a 500 and a
# reset connection), and Python's json parser reads Infinity and NaN into floats.
COUNT_MAX = 10**6  # events in a window: inquiries, loans, delinquencies, invoices, orders, sessions, exits
MONTHS_MAX = 1_200  # a hundred years of history
DAYS_MAX = 36_600  # a hundred years
RATIO_MAX = 1_000.0  # debt to income, revenue volatility: beyond this the number is an input error
KM_MAX = 100_000.0  # distance driven in 30 days, or between two points on Earth (at most ~20,000)
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _finite(value: float) -> float:
    # A bound alone would refuse Infinity with a misleading message ("less than or equal to ...").
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be a finite number (not NaN or Infinity)")
    return value


def _written(value: object) -> object:
    # pydantic's lax mode reads a number as a Unix timestamp (0 is 1970-01-01): dates and times are text.
    if isinstance(value, date | str):
        return value
    raise ValueError("must be written as text: YYYY-MM-DD, or an ISO 8601 time with its offset")


def iso_date_text(value: object) -> object:
    """A pydantic before-validator: a date, or text exactly YYYY-MM-DD (lax mode would read an integer
    as a Unix timestamp, and a datetime with a zero time as a date). Also the API's (api.common.IsoDate)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        return value
    raise ValueError("must be a date written YYYY-MM-DD")


Number = Annotated[StrictFloat | StrictInt, AfterValidator(_finite)]
Count = Annotated[StrictInt, Field(ge=0, le=COUNT_MAX)]
Months = Annotated[StrictInt, Field(ge=0, le=MONTHS_MAX)]
Days = Annotated[StrictInt, Field(ge=0, le=DAYS_MAX)]
Minor = Annotated[StrictInt, Field(ge=0, le=AMOUNT_MINOR_MAX)]  # money in minor units; never negative here
Ratio = Annotated[Number, Field(ge=0, le=RATIO_MAX)]
Km = Annotated[Number, Field(ge=0, le=KM_MAX)]
Share = Annotated[Number, Field(ge=0, le=1)]
Lat = Annotated[Number, Field(ge=-90, le=90)]
Lon = Annotated[Number, Field(ge=-180, le=180)]
IsoDate = Annotated[date, BeforeValidator(iso_date_text)]
Timestamp = Annotated[AwareDatetime, BeforeValidator(_written)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Identifiers(_Model):
    phone_hash: Text
    device_id: Text
    bank_account_hash: Text
    address_hash: Text


class _Applicant(_Model):
    applicant_id: Id | None = None
    applicant_type: Text
    segment: Text
    region: Text
    gender: Text
    age: Annotated[StrictInt, Field(ge=AGE_MIN_YEARS, le=AGE_MAX_YEARS)]
    identifiers: _Identifiers
    address_lat: Lat | None = None
    address_lon: Lon | None = None
    language: Literal["en", "zh-CN"] | None = None  # for messages to the borrower; the lender's default if absent


class _Declared(_Model):
    declared_monthly_revenue_minor: Minor | None = None
    requested_amount_minor: Annotated[StrictInt, Field(gt=0, le=AMOUNT_MINOR_MAX)]
    requested_term_months: Annotated[StrictInt, Field(ge=1, le=TERM_MAX_MONTHS)]
    purpose: Text
    collateral: Text


class _Bureau(_Model):
    monthly_income_minor: Minor | None = None
    debt_to_income: Ratio | None = None
    inquiries_6m: Count | None = None
    open_loans_elsewhere: Count | None = None
    past_delinquencies_24m: Count | None = None
    bureau_score: Annotated[StrictInt, Field(ge=0, le=1000)] | None = None
    months_since_oldest_account: Months | None = None


class _Tax(_Model):
    annual_tax_paid_minor: Minor | None = None
    tax_filing_months: Months | None = None


class _Invoices(_Model):
    invoice_revenue_12m_minor: Minor | None = None
    invoice_count_12m: Count | None = None


class _Pos(_Model):
    # Oldest month first, the latest last; fewer than 12 months means a young business.
    monthly_revenue_minor: Annotated[list[Minor | None], Field(max_length=POS_MONTHS)] = []
    revenue_mean_12m_minor: Minor | None = None
    revenue_volatility: Ratio | None = None


class _SupplyChain(_Model):
    orders_12m: Count | None = None


class _Telematics(_Model):
    vehicle_value_minor: Minor | None = None
    mileage_km_30d: Km | None = None
    night_driving_share: Share | None = None
    region_exits_30d: Count | None = None


class _Device(_Model):
    device_age_days: Days | None = None
    device_changes_90d: Count | None = None
    app_sessions_30d: Count | None = None
    night_edits_share: Share | None = None
    gps_distance_km: Km | None = None


class _DataSources(_Model):
    bureau: _Bureau | None = None
    tax: _Tax | None = None
    invoices: _Invoices | None = None
    pos: _Pos | None = None
    supply_chain: _SupplyChain | None = None
    telematics: _Telematics | None = None
    device: _Device | None = None


class _Edit(_Model):
    at: Timestamp
    field: Text
    gps_lat: Lat | None = None
    gps_lon: Lon | None = None


class _Document(_Model):
    application_id: Id
    applied_on: IsoDate
    currency: Annotated[StrictStr, Field(min_length=3, max_length=3)]
    applicant: _Applicant
    declared: _Declared
    data_sources: _DataSources = _DataSources()
    edits: list[_Edit] = []
    partner_id: Annotated[CleanText, Field(max_length=64)] = ""
    product_id: Annotated[CleanText, Field(max_length=64)] = ""


assert set(_DataSources.model_fields) == set(SOURCES), "every source has a payload schema"


# pydantic names the branch of a union it tried in the error location ("debt_to_income.float",
# "x.function-after[...]"): those are not fields, and the field named to the caller must be one.
_UNION_BRANCHES = frozenset({"float", "int", "str", "bool", "none", "nullable"})


def _dotted(location: tuple[int | str, ...]) -> str:
    parts = [str(part) for part in location
             if not (isinstance(part, str) and (part in _UNION_BRANCHES or "[" in part))]
    return ".".join(parts) or "document"


def _validated(document: Any) -> _Document:
    if not isinstance(document, dict):
        raise ApplicationError("document", f"must be a JSON object, got {type(document).__name__}")
    try:
        return _Document.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ApplicationError(_dotted(tuple(first["loc"])), first["msg"]) from None


def _check_semantics(doc: _Document, today: date) -> None:
    """Rules the schema cannot say: known codes and no dates in the future."""
    if doc.currency not in CURRENCIES:
        raise ApplicationError("currency", f"unknown currency {doc.currency!r}; known: {', '.join(sorted(CURRENCIES))}")
    if doc.applied_on > today:
        raise ApplicationError("applied_on", f"{doc.applied_on.isoformat()} is in the future (today is {today})")
    if doc.applied_on < APPLIED_ON_MIN:
        # Windows reach back from it (fraud velocity: 90 days): year 1 would overflow the date type.
        raise ApplicationError("applied_on", f"{doc.applied_on.isoformat()} is before {APPLIED_ON_MIN.isoformat()}")
    if doc.applicant.applicant_type not in APPLICANT_TYPES:
        raise ApplicationError("applicant.applicant_type", f"must be one of {', '.join(APPLICANT_TYPES)}")
    if doc.applicant.segment not in SEGMENTS:
        raise ApplicationError("applicant.segment", f"must be one of {', '.join(SEGMENTS)}")
    if doc.applicant.region not in REGIONS:
        raise ApplicationError("applicant.region", f"must be one of {', '.join(REGIONS)}")
    if doc.declared.collateral not in COLLATERALS:
        raise ApplicationError("declared.collateral", f"must be one of {', '.join(COLLATERALS)}")
    if (doc.applicant.address_lat is None) != (doc.applicant.address_lon is None):
        raise ApplicationError("applicant.address_lat", "address_lat and address_lon come together")
    for i, edit in enumerate(doc.edits):
        if edit.at.date() > today:
            raise ApplicationError(f"edits.{i}.at", f"{edit.at.isoformat()} is in the future")
        if edit.at.date() < APPLIED_ON_MIN:
            raise ApplicationError(f"edits.{i}.at", f"{edit.at.isoformat()} is before {APPLIED_ON_MIN.isoformat()}")


def _raw_sources(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    # Kept as submitted (already validated), copied so later changes to the caller's dict cannot leak in.
    sources = document.get("data_sources") or {}
    return {
        name: {key: list(value) if isinstance(value, list) else value for key, value in payload.items()}
        for name, payload in sources.items()
        if payload is not None
    }


def _applicant(doc: _Document) -> Applicant:
    a = doc.applicant
    return Applicant(
        applicant_id=a.applicant_id or doc.application_id,
        applicant_type=a.applicant_type,
        segment=a.segment,
        region=a.region,
        age=a.age,
        gender=a.gender,
        identifiers=Identifiers(**a.identifiers.model_dump()),
        address_lat=None if a.address_lat is None else float(a.address_lat),
        address_lon=None if a.address_lon is None else float(a.address_lon),
        language=a.language or "",
    )


def _edit(edit: _Edit) -> EditEvent:
    lat = None if edit.gps_lat is None else float(edit.gps_lat)
    lon = None if edit.gps_lon is None else float(edit.gps_lon)
    return EditEvent(at=edit.at, field=edit.field, gps_lat=lat, gps_lon=lon)


# pydantic writes the bounds of a constrained union (Ratio, Share, Lat, ...) as `ge`/`le` beside its
# `anyOf`, which JSON Schema does not know: the published contract says minimum/maximum.
_BOUND_KEYWORDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}
SCHEMA_NAME = "ApplicationDocument"


def _standard(node: Any) -> Any:
    if isinstance(node, list):
        return [_standard(value) for value in node]
    if not isinstance(node, dict):
        return node
    out = {_BOUND_KEYWORDS.get(key, key): _standard(value) for key, value in node.items()}
    bounds = {key: out.pop(key) for key in _BOUND_KEYWORDS.values() if key in out and "anyOf" in out}
    if bounds:  # onto each numeric branch, where every reader (and schemathesis) looks for them
        out["anyOf"] = [{**branch, **bounds} if branch.get("type") in ("number", "integer") else branch
                        for branch in out["anyOf"]]
    return out


# lendstack.text's rule as a JSON Schema pattern (no control, zero-width, bidi or separator characters).
CLEAN_TEXT_PATTERN = ("^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028-\\u202e"
                      "\\u2060\\u2066-\\u2069\\ufeff]*$")


def _clean_text_pattern(node: Any) -> None:
    """Every free text of the document (a string without its own pattern, list or format) gets the rule."""
    if isinstance(node, list):
        for value in node:
            _clean_text_pattern(value)
        return
    if not isinstance(node, dict):
        return
    if node.get("type") == "string" and not {"pattern", "enum", "format"} & node.keys():
        node["pattern"] = CLEAN_TEXT_PATTERN
    for value in node.values():
        _clean_text_pattern(value)


def document_json_schemas() -> dict[str, dict[str, Any]]:
    """The application document as JSON Schemas for the OpenAPI contract: {name: schema}, the
    document itself under SCHEMA_NAME and its parts under SCHEMA_NAME + part, referring to each other
    as #/components/schemas/<name>. Rules the schema cannot say (known product, dates not in the
    future, latitude with longitude) are still checked by parse_application and answered 422."""
    schema = _Document.model_json_schema(ref_template="#/components/schemas/" + SCHEMA_NAME + "{model}")
    parts = schema.pop("$defs", {})
    schemas = {SCHEMA_NAME + name: _standard(part) for name, part in parts.items()}
    schemas[SCHEMA_NAME] = _standard(schema)
    for part in schemas.values():
        _clean_text_pattern(part)
    # The categories are closed lists: say so, so clients (and schemathesis) send values we take.
    applicant = schemas[SCHEMA_NAME + "_Applicant"]["properties"]
    applicant["segment"] = {**applicant["segment"], "enum": list(SEGMENTS)}
    applicant["region"] = {**applicant["region"], "enum": list(REGIONS)}
    applicant["applicant_type"] = {**applicant["applicant_type"], "enum": list(APPLICANT_TYPES)}
    declared = schemas[SCHEMA_NAME + "_Declared"]["properties"]
    declared["collateral"] = {**declared["collateral"], "enum": list(COLLATERALS)}
    document = schemas[SCHEMA_NAME]["properties"]
    document["currency"] = {**document["currency"], "enum": sorted(CURRENCIES)}
    return schemas


def parse_application(document: dict[str, Any], *, today: date | None = None) -> Application:
    """Validate and convert one application document; raise `ApplicationError` naming the first bad field."""
    doc = _validated(document)
    _check_semantics(doc, today or date.today())
    return Application(
        application_id=doc.application_id,
        applied_on=doc.applied_on,
        currency=doc.currency,
        applicant=_applicant(doc),
        declared=Declared(**doc.declared.model_dump()),
        data_sources=_raw_sources(document),
        edits=tuple(sorted((_edit(e) for e in doc.edits), key=lambda e: e.at)),
        partner_id=doc.partner_id,
        product_id=doc.product_id,
    )


def application_document(application: Application) -> dict[str, Any]:
    """The canonical JSON document of an application (inverse of `parse_application`)."""
    a = application.applicant
    applicant: dict[str, Any] = {
        "applicant_id": a.applicant_id,
        "applicant_type": a.applicant_type,
        "segment": a.segment,
        "region": a.region,
        "gender": a.gender,
        "age": a.age,
        "identifiers": a.identifiers.as_dict(),
    }
    if a.address_lat is not None:
        applicant |= {"address_lat": a.address_lat, "address_lon": a.address_lon}
    if a.language:
        applicant["language"] = a.language
    d = application.declared
    document: dict[str, Any] = {
        "application_id": application.application_id,
        "applied_on": application.applied_on.isoformat(),
        "currency": application.currency,
        "applicant": applicant,
        "declared": {
            "declared_monthly_revenue_minor": d.declared_monthly_revenue_minor,
            "requested_amount_minor": d.requested_amount_minor,
            "requested_term_months": d.requested_term_months,
            "purpose": d.purpose,
            "collateral": d.collateral,
        },
        "data_sources": application.data_sources,
    }
    if application.edits:
        document["edits"] = [_edit_document(e) for e in application.edits]
    return document | {"partner_id": application.partner_id, "product_id": application.product_id}


def _edit_document(edit: EditEvent) -> dict[str, Any]:
    return {"at": edit.at.isoformat(), "field": edit.field, "gps_lat": edit.gps_lat, "gps_lon": edit.gps_lon}
