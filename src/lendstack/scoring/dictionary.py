"""The data dictionary: what each column means (English and Chinese) and its unit, so reason codes
read "monthly income is low (5,702.00 CNY)" instead of "monthly_income_minor (570200)".

`load_dictionary(path)` reads a user's CSV or YAML file (columns `column`, `meaning_en`,
`meaning_zh`, `unit`); `sim_dictionary(FIELDS)` is the simulator's own, built from `lendstack.sim.FIELDS`.
A model keeps its dictionary in `CreditModel.audit["dictionary"]` (`attach_dictionary`): pickled in
the model file, so the content hash covers it, and written into manifest.json with the audit.

Units understood by `format_value` (anything else is printed after the number as given):
- money in minor units: "CNY fen" or "<CUR> minor" / "<CUR> cents" → major units with the currency,
  570200 → "5,702.00 CNY" / "5,702.00 元";
- money in major units: a bare ISO currency code ("USD") → "819.10 USD" / "819.10 美元";
- "share" (a 0–1 rate) → a percentage, 0.352 → "35.2%";
- "ratio" → two decimals; "count" → a whole number; "months", "days", "years", "km" → with the unit.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol

from lendstack.scoring.errors import DataError

FIELD_NAMES = ("column", "meaning_en", "meaning_zh", "unit")
ENTRIES_MAX = 10_000  # a dictionary describes columns, and no table we train on has more
FILE_BYTES_MAX = 2 * 1024 * 1024
TEXT_CHARS_MAX = 200  # a meaning is a short phrase, it is printed inside a sentence
_CURRENCY_ZH = {"CNY": "元", "RMB": "元", "USD": "美元", "EUR": "欧元", "HKD": "港元", "GBP": "英镑", "JPY": "日元"}
_MINOR_DIGITS = {"JPY": 0, "KRW": 0}  # ISO 4217 exponents that are not 2 (the ones we are likely to meet)
_MINOR_UNIT = re.compile(r"^([A-Z]{3}) (?:fen|minor|cents?)$")
_MAJOR_UNIT = re.compile(r"^[A-Z]{3}$")
_UNIT_ZH = {"months": "个月", "month": "个月", "days": "天", "day": "天", "years": "年", "year": "年", "km": "公里"}
_PLAIN_UNITS = frozenset({"", "count", "label", "id", "hex", "flag", "0/1", "std normal", "probability"})



class ColumnDoc(Protocol):
    """What the simulator's data dictionary says of a column (`lendstack.sim.FieldDoc`)."""

    @property
    def meaning_en(self) -> str: ...
    @property
    def meaning_zh(self) -> str: ...
    @property
    def unit(self) -> str: ...
    @property
    def name_en(self) -> str: ...


@dataclass(frozen=True)
class DictionaryEntry:
    column: str
    meaning_en: str
    meaning_zh: str
    unit: str = ""


@dataclass(frozen=True)
class DataDictionary:
    """Column → entry. Frozen; `name` says where it came from (a file name, or "lendstack.sim")."""

    entries: Mapping[str, DictionaryEntry]
    name: str = ""

    def __post_init__(self) -> None:
        assert len(self.entries) <= ENTRIES_MAX, "a dictionary is bounded"
        assert all(key == entry.column for key, entry in self.entries.items()), "keyed by its own column"

    def get(self, column: str) -> DictionaryEntry | None:
        return self.entries.get(column)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (the form stored in `audit["dictionary"]` and the manifest)."""
        rows = [{"column": e.column, "meaning_en": e.meaning_en, "meaning_zh": e.meaning_zh, "unit": e.unit}
                for e in self.entries.values()]
        return {"name": self.name, "columns": rows}

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> DataDictionary:
        return from_records(document.get("columns", []), str(document.get("name", "")))


# --------------------------------------------------------------------------- reading


def load_dictionary(path: str | Path) -> DataDictionary:
    """A dictionary from a .csv or .yaml/.yml file; a DataError names the field at fault."""
    source = Path(path)
    if not source.is_file():
        raise DataError("dictionary", f"no such file: {source}")
    if source.stat().st_size > FILE_BYTES_MAX:
        raise DataError("dictionary", f"{source.name} is larger than {FILE_BYTES_MAX // (1024 * 1024)} MB")
    try:
        text = source.read_text(encoding="utf-8-sig")  # -sig: spreadsheets write a BOM
    except UnicodeDecodeError as exc:
        raise DataError("dictionary", f"{source.name} is not UTF-8 text: {exc.reason}") from None
    suffix = source.suffix.lower()
    if suffix == ".csv":
        return from_records(_csv_records(text), source.name)
    if suffix in (".yaml", ".yml"):
        return from_records(_yaml_records(text), source.name)
    raise DataError("dictionary", f"{source.name}: give a .csv, .yaml or .yml file")


def _csv_records(text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in reader.fieldnames or []]
    _check_fields(header)
    reader.fieldnames = header
    records = []
    for record in reader:
        if None in record:  # more cells than header fields
            raise DataError("dictionary", f"line {reader.line_num}: more cells than the header has fields")
        records.append(record)
        if len(records) > ENTRIES_MAX:
            raise DataError("dictionary", f"more than {ENTRIES_MAX} entries")
    return records


def _yaml_records(text: str) -> list[dict[str, Any]]:
    """Either a list of entries or a mapping column → {meaning_en, meaning_zh, unit}."""
    import yaml

    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DataError("dictionary", f"not valid YAML: {exc}") from None
    if isinstance(document, dict) and isinstance(document.get("columns"), list):
        document = document["columns"]
    if isinstance(document, dict):
        items = list(document.items())
        if not all(isinstance(value, dict) for _key, value in items):
            raise DataError("dictionary", "a mapping must map each column to {meaning_en, meaning_zh, unit}")
        document = [{"column": key, **value} for key, value in items]
    if not isinstance(document, list) or not all(isinstance(item, dict) for item in document):
        raise DataError("dictionary", "expected a list of entries (column, meaning_en, meaning_zh, unit)")
    for item in document:
        _check_fields([str(key) for key in item])
    return document


def _check_fields(fields: Iterable[str]) -> None:
    present = list(fields)
    unknown = [name for name in present if name not in FIELD_NAMES]
    if unknown:
        raise DataError(f"dictionary.{unknown[0]}", f"unknown field; the fields are {', '.join(FIELD_NAMES)}")
    for required in ("column", "meaning_en"):
        if required not in present:
            raise DataError(f"dictionary.{required}", "required field is missing")


def from_records(records: Iterable[Mapping[str, Any]], name: str = "") -> DataDictionary:
    """Validate entries (row numbers in errors count from 1); `meaning_zh` falls back to `meaning_en`."""
    entries: dict[str, DictionaryEntry] = {}
    for number, record in enumerate(records, start=1):
        if number > ENTRIES_MAX:
            raise DataError("dictionary", f"more than {ENTRIES_MAX} entries")
        column = _text(record, "column", number)
        meaning_en = _text(record, "meaning_en", number)
        meaning_zh = _text(record, "meaning_zh", number, required=False) or meaning_en
        unit = _text(record, "unit", number, required=False)
        if column in entries:
            raise DataError("dictionary.column", f"entry {number}: {column!r} is described twice")
        entries[column] = DictionaryEntry(column, meaning_en, meaning_zh, unit)
    if not entries:
        raise DataError("dictionary", "no entries")
    return DataDictionary(MappingProxyType(entries), name)  # read-only: the dictionary is frozen


def _text(record: Mapping[str, Any], field: str, number: int, *, required: bool = True) -> str:
    raw = record.get(field)
    value = "" if raw is None else str(raw).strip()
    if required and not value:
        raise DataError(f"dictionary.{field}", f"entry {number}: empty")
    if len(value) > TEXT_CHARS_MAX:
        raise DataError(f"dictionary.{field}", f"entry {number}: longer than {TEXT_CHARS_MAX} characters")
    if any(ord(char) < 32 for char in value):
        raise DataError(f"dictionary.{field}", f"entry {number}: contains a control character")
    return value


def sim_dictionary(fields: Mapping[str, ColumnDoc]) -> DataDictionary:
    """The simulator's dictionary for the engine's model, from `lendstack.sim.FIELDS` (passed in:
    scoring learns from data and does not import the simulator). A column's English name is its
    `name_en` where the application schema gives one (its meaning is a formula or a list of values,
    not a name to put in a sentence), else its meaning up to a parenthesis, ";" or ", capped"."""
    records = [{"column": name, "meaning_en": doc.name_en or _short_en(doc.meaning_en),
                "meaning_zh": _short_zh(doc.meaning_zh), "unit": doc.unit} for name, doc in fields.items()]
    return from_records(records, "lendstack.sim")


def _short_en(meaning: str) -> str:
    for separator in (" (", ";", ":", ", capped"):
        meaning = meaning.split(separator, 1)[0]
    return meaning.strip()


def _short_zh(meaning: str) -> str:
    """The name part of a simulator meaning: "申请人类型：个人 / …" → "申请人类型"."""
    for separator in ("：", "（"):
        head = meaning.split(separator, 1)[0].strip()
        if head:
            meaning = head
    return meaning


def attach_dictionary(credit: Any, dictionary: DataDictionary) -> None:
    """Store the dictionary with a CreditModel (before it is saved: the content hash covers it)."""
    credit.audit["dictionary"] = dictionary.to_dict()


def stored_dictionary(credit: Any) -> DataDictionary | None:
    """The dictionary a CreditModel was given, or None (models trained without one, older artifacts)."""
    document = getattr(credit, "audit", {}).get("dictionary")
    return DataDictionary.from_dict(document) if document else None


# --------------------------------------------------------------------------- values


def format_value(value: float, unit: str) -> tuple[str, str]:
    """A value in its unit, for people: (English, Chinese)."""
    if math.isnan(value):
        return "missing", "缺失"
    unit = unit.strip()
    minor = _MINOR_UNIT.match(unit)
    if unit == "CNY fen" or minor:
        currency = minor.group(1) if minor else "CNY"
        digits = _MINOR_DIGITS.get(currency, 2)
        return _money(value / 10**digits, currency, digits)
    if _MAJOR_UNIT.match(unit):
        return _money(value, unit, _MINOR_DIGITS.get(unit, 2))
    if unit == "share":
        shown = f"{100 * value:.1f}%"
        return shown, shown
    if unit == "ratio":
        shown = f"{value:,.2f}"
        return shown, shown
    number = _number(value)
    if unit.startswith("points"):  # "points 300-950": a score
        return f"{number} points", f"{number}分"
    if unit in _PLAIN_UNITS:
        return number, number
    return f"{number} {unit}", f"{number}{_UNIT_ZH.get(unit, ' ' + unit)}"


def _money(amount: float, currency: str, digits: int) -> tuple[str, str]:
    shown = f"{amount:,.{digits}f}"
    return f"{shown} {currency}", f"{shown} {_CURRENCY_ZH.get(currency, currency)}"


def _number(value: float) -> str:
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:.4g}" if abs(value) < 1e3 else f"{value:,.2f}"
