"""The application schema: every field of a loan application declared once.

One `FieldSpec` per field — name, kind, unit, role, where it sits in the application document,
meaning in English and Chinese, and validation (bounds, closed list, length) — in `FIELDS`, in the
simulator's column order. Everything else is derived from it, each by a function of the field tuple:

- the simulator's data dictionary (`lendstack.sim.fields.field_docs`) and application document
  (`lendstack.sim.documents.document_layout`),
- origination's parsing: the pydantic document model (`lendstack.origination.parsing.document_model`),
  its closed-list checks and the published JSON Schema,
- the model's feature row (`lendstack.origination.features.feature_columns`),
- the policy language's names and their types (`lendstack.decisioning.names.feature_types`),
- the reason codes' data dictionary (`lendstack.scoring.dictionary.sim_dictionary`, through the
  simulator's `FIELDS`: scoring learns from data and does not read the simulator).

The simulator's hidden truth and outcomes are not application fields: they are declared in
`lendstack.sim.fields` with the same types. This module is a leaf of origination (it imports only
`money` and `invariants`), so the simulator, scoring and decisioning may all read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lendstack.invariants import check
from lendstack.money.money import AMOUNT_MINOR_MAX

# What a value is. "float" is a binary float (a ratio, a share, a distance), never money: money is an
# "int" of minor units. "enum" is text from a closed list (`choices`); "str" is free text.
Kind = Literal["int", "float", "str", "enum", "bool", "date"]
KINDS: tuple[Kind, ...] = ("int", "float", "str", "enum", "bool", "date")
# What a field may be used for: `feature` fields are what a lender observes at application time;
# `key` fields identify; `protected` fields (gender) are kept only for fairness audits and must never
# be model inputs or policy terms (scoring on sex is discrimination).
Role = Literal["key", "feature", "protected"]
ROLES: tuple[Role, ...] = ("key", "feature", "protected")

# The closed lists. Models, policies and concentration caps group by them: free text here would make a
# new group of one, or slip past a cap by a spelling. The simulator's tables are indexed in this order.
APPLICANT_TYPES = ("individual", "small_business", "sole_proprietor")  # 个人 / 小微企业 / 个体工商户
SEGMENTS = ("restaurant", "retail", "farming", "logistics", "ride_hailing", "manufacturing", "e_commerce", "salaried")
REGIONS = (
    "east",  # 华东
    "south",  # 华南
    "north",  # 华北
    "central",  # 华中
    "southwest",  # 西南
    "northwest",  # 西北
    "northeast",  # 东北
    "tier1_metro",  # 北上广深
)
COLLATERALS = ("none", "vehicle", "property", "receivables", "guarantee")

# Every number has an upper bound: an unbounded integer overflowed the database's BIGINT (a 500 and a
# reset connection), and Python's json parser reads Infinity and NaN into floats.
AGE_MIN_YEARS, AGE_MAX_YEARS = 18, 100
TERM_MAX_MONTHS = 360
POS_MONTHS = 12
COUNT_MAX = 10**6  # events in a window: inquiries, loans, delinquencies, invoices, orders, sessions, exits
MONTHS_MAX = 1_200  # a hundred years of history
DAYS_MAX = 36_600  # a hundred years
RATIO_MAX = 1_000.0  # debt to income, revenue volatility: beyond this the number is an input error
KM_MAX = 100_000.0  # distance driven in 30 days, or between two points on Earth (at most ~20,000)
BUREAU_SCORE_MAX = 1000
TEXT_CHARS_MAX = 200  # names, labels and hashes people or partners send
ID_CHARS_MAX = 64
ID_PATTERN = r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$"
NAME_CHARS_MAX = 64  # a field name

# Where a field sits in the application document. A data source's fields sit under
# data_sources.<source>, and the whole source may be absent (no bureau file, a failed connector).
SECTION_PATHS = {"application": "", "applicant": "applicant", "identifiers": "applicant.identifiers",
                 "declared": "declared"}
SOURCES = ("bureau", "tax", "invoices", "pos", "supply_chain", "telematics", "device")
SECTIONS = (*SECTION_PATHS, *SOURCES)
# Where the value comes from, when the section does not say (the simulator documents it per column).
_SECTION_ORIGINS = {"application": "application", "applicant": "application", "identifiers": "identity",
                    "declared": "declared"}
_CNY_FEN = "CNY fen"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One application field. Bounds are inclusive unless `low_exclusive`; they are ints for "int"
    fields and written as the parser reports them (a share's `high` is 1, so it says "less than or
    equal to 1"). `list_of` names the document list these columns arrive in (oldest first)."""

    name: str
    kind: Kind
    unit: str  # "CNY fen" for money, "share" for 0-1 rates, "ratio", "count", "months", "days", "km", "label", ...
    role: Role
    section: str
    meaning_en: str
    meaning_zh: str
    nullable: bool = False  # may be null even when its section is present (the simulator writes nulls)
    low: int | float | None = None
    high: int | float | None = None
    low_exclusive: bool = False
    choices: tuple[str, ...] = ()
    length_max: int = 0  # text only; text is never empty
    pattern: str = ""  # text only: an id with a pattern is exact text, not a cleaned name
    list_of: str = ""
    origin: str = ""  # where the value comes from, when not its section's default (the simulator's "source")
    name_en: str = ""  # a short English name for a sentence, when `meaning_en` is a formula or a list

    def __post_init__(self) -> None:
        check(0 < len(self.name) <= NAME_CHARS_MAX and self.name.isidentifier(), f"bad field name {self.name!r}")
        check(self.kind in KINDS, f"{self.name}: unknown kind {self.kind!r}")
        check(self.role in ROLES, f"{self.name}: unknown role {self.role!r}")
        check(self.section in SECTIONS, f"{self.name}: unknown section {self.section!r}")
        check(bool(self.meaning_en) and bool(self.meaning_zh), f"{self.name}: a meaning in English and Chinese")
        numeric = self.kind in ("int", "float")
        check(numeric == (self.low is not None and self.high is not None), f"{self.name}: numbers have bounds")
        if self.low is not None and self.high is not None:
            check(self.low <= self.high, f"{self.name}: empty range")
            check(self.kind == "float" or (isinstance(self.low, int) and isinstance(self.high, int)),
                  f"{self.name}: whole bounds for an int")
        check((self.kind == "enum") == bool(self.choices), f"{self.name}: an enum (and only it) has choices")
        check((self.kind in ("str", "enum")) == (self.length_max > 0), f"{self.name}: text (and only it) has a length")
        check(not self.pattern or self.kind == "str", f"{self.name}: only free text has a pattern")
        check(not self.list_of or self.section in SOURCES, f"{self.name}: lists are in data sources")

    @property
    def source(self) -> str:
        """Where the value comes from: a data source, the applicant's identity, what they declared, the application."""
        return self.origin or _SECTION_ORIGINS.get(self.section, self.section)

    @property
    def optional(self) -> bool:
        """May be absent or null in a valid document: nullable, or in a data source (a source may be partial)."""
        return self.nullable or self.section in SOURCES

    @property
    def path(self) -> str:
        """The dotted path of the field in the application document, as errors name it."""
        prefix = SECTION_PATHS.get(self.section, "data_sources." + self.section)
        return f"{prefix}.{self.name}" if prefix else self.name


def _text(name: str, section: str, role: Role, unit: str, en: str, zh: str, *, origin: str = "",
          name_en: str = "") -> FieldSpec:
    return FieldSpec(name, "str", unit, role, section, en, zh, length_max=TEXT_CHARS_MAX, origin=origin,
                     name_en=name_en)


def _label(name: str, section: str, choices: tuple[str, ...], en: str, zh: str, name_en: str = "") -> FieldSpec:
    return FieldSpec(name, "enum", "label", "feature", section, en, zh, choices=choices,
                     length_max=TEXT_CHARS_MAX, name_en=name_en)


def _int(name: str, section: str, unit: str, high: int, en: str, zh: str, *, nullable: bool = True,
         name_en: str = "") -> FieldSpec:
    return FieldSpec(name, "int", unit, "feature", section, en, zh, nullable=nullable, low=0, high=high,
                     name_en=name_en)


def _money(name: str, section: str, en: str, zh: str, *, nullable: bool = True, name_en: str = "",
           list_of: str = "") -> FieldSpec:
    return FieldSpec(name, "int", _CNY_FEN, "feature", section, en, zh, nullable=nullable, low=0,
                     high=AMOUNT_MINOR_MAX, name_en=name_en, list_of=list_of)


def _float(name: str, section: str, unit: str, high: int | float, en: str, zh: str, *, nullable: bool = True,
           name_en: str = "") -> FieldSpec:
    return FieldSpec(name, "float", unit, "feature", section, en, zh, nullable=nullable, low=0, high=high,
                     name_en=name_en)


def _revenue_month(k: int) -> FieldSpec:
    before = POS_MONTHS + 1 - k  # m12 is the latest full month: one month before the application
    return _money(
        f"revenue_m{k:02d}_minor", "pos",
        f"POS / e-commerce / delivery revenue in month {k} of the 12 full months before the application "
        "(m12 is the latest); null for salaried individuals",
        f"申请前第{before}个月的收单/电商/外卖流水",
        name_en=f"POS revenue {before} month{'s' if before > 1 else ''} before the application",
        list_of="monthly_revenue_minor",
    )


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("application_id", "str", "id", "key", "application", "stable id A{seed:04d}-{row:07d}", "申请编号",
              length_max=ID_CHARS_MAX, pattern=ID_PATTERN),
    FieldSpec("applied_on", "date", "date", "feature", "application", "date of the application", "申请日期"),
    _label("applicant_type", "applicant", APPLICANT_TYPES, "individual / small_business / sole_proprietor",
           "申请人类型：个人 / 小微企业 / 个体工商户", name_en="applicant type"),
    _label("segment", "applicant", SEGMENTS, "line of business or work", "行业细分"),
    _label("region", "applicant", REGIONS, "region of China", "地区"),
    _text("gender", "applicant", "protected", "label", "female / male; for fairness analysis", "性别（用于公平性分析）",
          origin="declared", name_en="gender"),
    FieldSpec("age", "int", "years", "feature", "applicant", "age in years, 18-70", "年龄", low=AGE_MIN_YEARS,
              high=AGE_MAX_YEARS, origin="declared", name_en="age"),
    _text("phone_hash", "identifiers", "key", "hex", "hash of the phone number", "手机号哈希"),
    _text("device_id", "identifiers", "key", "hex", "device identifier", "设备编号"),
    _text("bank_account_hash", "identifiers", "key", "hex", "hash of the bank account", "银行账户哈希"),
    _text("address_hash", "identifiers", "key", "hex", "hash of the home or business address", "地址哈希"),
    _money("monthly_income_minor", "bureau", "monthly personal income", "月收入"),
    _float("debt_to_income", "bureau", "ratio", RATIO_MAX, "monthly debt service / monthly income", "负债收入比",
           name_en="debt-to-income ratio"),
    _int("inquiries_6m", "bureau", "count", COUNT_MAX, "credit inquiries in 6 months", "近6个月查询次数"),
    _int("open_loans_elsewhere", "bureau", "count", COUNT_MAX, "open loans at other lenders (multi-borrowing)",
         "他行在贷笔数（多头借贷）"),
    _int("past_delinquencies_24m", "bureau", "count", COUNT_MAX, "delinquencies in 24 months", "近24个月逾期次数"),
    _int("bureau_score", "bureau", "points 300-950", BUREAU_SCORE_MAX, "bureau credit score", "征信评分"),
    _int("months_since_oldest_account", "bureau", "months", MONTHS_MAX, "length of credit history",
         "信用历史长度（月）"),
    _money("annual_tax_paid_minor", "tax", "tax paid in 12 months (businesses)", "近12个月纳税额"),
    _int("tax_filing_months", "tax", "months", MONTHS_MAX,
         "months of tax filing history, capped at 120 (businesses)", "纳税申报月数", name_en="tax filing history"),
    _money("invoice_revenue_12m_minor", "invoices", "revenue on VAT invoices in 12 months (businesses)",
           "近12个月增值税发票开票金额"),
    _int("invoice_count_12m", "invoices", "count", COUNT_MAX, "VAT invoices issued in 12 months (businesses)",
         "近12个月开票张数"),
    *(_revenue_month(k) for k in range(1, POS_MONTHS + 1)),
    _money("revenue_mean_12m_minor", "pos", "mean monthly POS revenue", "近12个月月均流水"),
    _float("revenue_volatility", "pos", "ratio", RATIO_MAX, "coefficient of variation of monthly POS revenue",
           "流水波动率（变异系数）", name_en="revenue volatility"),
    _int("orders_12m", "supply_chain", "count", COUNT_MAX, "supply-chain orders in 12 months (businesses)",
         "近12个月供应链订单数"),
    _money("vehicle_value_minor", "telematics", "vehicle value (vehicle-backed ride-hailing / logistics loans)",
           "车辆价值"),
    _float("mileage_km_30d", "telematics", "km", KM_MAX, "distance driven in 30 days", "近30天里程"),
    _float("night_driving_share", "telematics", "share", 1, "share of driving between 22:00 and 06:00",
           "夜间驾驶占比"),
    _int("region_exits_30d", "telematics", "count", COUNT_MAX, "times the vehicle left its home region in 30 days",
         "近30天出区域次数", name_en="trips out of the home region in 30 days"),
    _int("device_age_days", "device", "days", DAYS_MAX, "days since the device was first seen", "设备使用天数",
         nullable=False, name_en="device age"),
    _int("device_changes_90d", "device", "count", COUNT_MAX, "device changes in 90 days", "近90天换机次数",
         nullable=False),
    _int("app_sessions_30d", "device", "count", COUNT_MAX, "app sessions in 30 days", "近30天App会话数",
         nullable=False),
    _float("night_edits_share", "device", "share", 1, "share of application edits made between 00:00 and 05:00",
           "深夜修改申请的占比", nullable=False, name_en="share of application edits at night"),
    _float("gps_distance_km", "device", "km", KM_MAX, "distance between the device's location and the declared address",
           "GPS位置与申报地址的距离", nullable=False, name_en="distance from the declared address"),
    _money("declared_monthly_revenue_minor", "declared",
           "monthly revenue the applicant declares; null for salaried individuals", "申报月营业收入",
           name_en="declared monthly revenue"),
    FieldSpec("requested_amount_minor", "int", _CNY_FEN, "feature", "declared", "requested loan amount", "申请金额",
              low=0, high=AMOUNT_MINOR_MAX, low_exclusive=True),
    FieldSpec("requested_term_months", "int", "months", "feature", "declared", "requested term", "申请期限（月）",
              low=1, high=TERM_MAX_MONTHS),
    _text("purpose", "declared", "feature", "label", "purpose of the loan", "借款用途"),
    _label("collateral", "declared", COLLATERALS, "none / vehicle / property / receivables / guarantee",
           "担保方式：无/车辆/房产/应收账款/保证", name_en="collateral"),
)
FIELDS_MAX = 1_000


def check_fields(fields: tuple[FieldSpec, ...]) -> None:
    """What must hold of a whole schema: bounded, unique names, sections in document order."""
    check(0 < len(fields) <= FIELDS_MAX, "a schema has 1..FIELDS_MAX fields")
    names = [spec.name for spec in fields]
    check(len(set(names)) == len(names), "a field is declared twice")
    lists = {spec.list_of for spec in fields if spec.list_of}
    check(not lists & set(names), "a list shares its name with a field")


check_fields(FIELDS)


def in_section(fields: tuple[FieldSpec, ...], section: str) -> tuple[FieldSpec, ...]:
    """The fields of one section, in schema order."""
    return tuple(spec for spec in fields if spec.section == section)


def with_role(fields: tuple[FieldSpec, ...], role: Role) -> tuple[FieldSpec, ...]:
    return tuple(spec for spec in fields if spec.role == role)


def document_keys(fields: tuple[FieldSpec, ...]) -> tuple[str, ...]:
    """A section's keys in the document: each field, except that a list's columns are one key where the first is."""
    keys: list[str] = []
    for spec in fields:
        key = spec.list_of or spec.name
        if key not in keys:
            keys.append(key)
    return tuple(keys)


def list_columns(fields: tuple[FieldSpec, ...], key: str) -> tuple[FieldSpec, ...]:
    """The columns a document list (`list_of`) spreads into, oldest first."""
    return tuple(spec for spec in fields if spec.list_of == key)


def by_name(fields: tuple[FieldSpec, ...] = FIELDS) -> dict[str, FieldSpec]:
    return {spec.name: spec for spec in fields}


IDENTIFIER_KINDS = tuple(spec.name for spec in in_section(FIELDS, "identifiers"))
check(tuple(dict.fromkeys(spec.section for spec in FIELDS if spec.section in SOURCES)) == SOURCES,
      "every data source has fields, in SOURCES order")
