"""Early warning (贷后预警): post-loan data snapshots, indicators declared as data, alerts.

A functional core. Post-loan records are validated and fingerprinted here; the latest snapshots per
source plus the loan's servicing state are flattened into one row per loan; indicators are
expressions of the policy language (`lendstack.decisioning.expr`) over that row, with thresholds
mapping the value to a severity. One parse tree is compiled twice, so the columnar evaluation of the
whole book (polars) and the online evaluation of one loan (row evaluator) agree by construction.
"""

from __future__ import annotations

import hashlib
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, model_validator

from lendstack.decisioning.expr import Expression, ExpressionError, compile_expression
from lendstack.documents import Located, PlacedFieldError, load_located, parse_located
from lendstack.errors import ErrorKind, LendstackError
from lendstack.origination.snapshots import fingerprint

DEFAULT_INDICATORS = Path(__file__).with_name("indicators") / "default.yaml"
SEVERITIES = ("info", "warn", "high", "critical")
ALERT_STATUSES = ("open", "acknowledged", "assigned", "closed")
# Which statuses each lifecycle command may start from; a closed alert stays closed (history is kept).
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "acknowledge": (frozenset({"open"}), "acknowledged"),
    "assign": (frozenset({"open", "acknowledged", "assigned"}), "assigned"),
    "close": (frozenset({"open", "acknowledged", "assigned"}), "closed"),
}
REVENUE_MONTHS = 6
MISSED_WINDOW = 3
EVIDENCE_DIGITS = 6  # values in evidence are rounded so both evaluation paths print the same number

Severity = Literal["info", "warn", "high", "critical"]
Action = Literal["freeze_line", "reduce_line", "demand_early_repayment", "demand_review", "call", "review", "notify"]


class EarlyWarningError(LendstackError):
    """Bad post-loan data, an invalid indicator document or a refused alert command; names the field."""


class IndicatorFileError(PlacedFieldError, EarlyWarningError):
    """An indicator document that cannot be read or is invalid. A DocumentError (any bad config file) and
    an EarlyWarningError whose `field` is `file:line: dotted.field`, as indicator errors always named it;
    `location` is the dotted field alone."""

    shape = "an indicator set is a mapping with version, actions, indicators"


# --------------------------------------------------------------------------- post-loan records

_INT, _NUM, _STR = (int,), (int, float), (str,)
# Required payload fields per source; extra fields are kept (and fingerprinted) but not read.
SOURCE_FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    "pos": {"revenue_minor": _INT, "cost_minor": _INT},
    "tax": {"arrears_minor": _INT},
    "bureau": {"open_loans": _INT, "inquiries_6m": _INT, "utilisation": _NUM},
    "telematics": {"region_exits": _INT, "mileage_km": _NUM},
    "device": {"device_id": _STR},
}
SOURCES = tuple(SOURCE_FIELDS)


@dataclass(frozen=True, slots=True)
class PostLoanRecord:
    """One validated snapshot of one source for one loan, as of a business date."""

    loan_id: str
    source: str
    as_of: date
    payload: dict[str, Any] = field(hash=False)
    fingerprint: str


def parse_record(raw: Any, where: str) -> PostLoanRecord:
    """A record from a mapping {loan_id, source, as_of, payload}; EarlyWarningError naming the field."""
    if not isinstance(raw, Mapping):
        raise EarlyWarningError(where, "a record is an object with loan_id, source, as_of, payload")
    loan_id = raw.get("loan_id")
    if not isinstance(loan_id, str) or not loan_id:
        raise EarlyWarningError(f"{where}.loan_id", "required, a non-empty string")
    source = raw.get("source")
    if source not in SOURCE_FIELDS:
        raise EarlyWarningError(f"{where}.source", f"unknown source {source!r}; known: {', '.join(SOURCES)}")
    as_of = _as_date(raw.get("as_of"), f"{where}.as_of")
    payload = raw.get("payload")
    if not isinstance(payload, dict):
        raise EarlyWarningError(f"{where}.payload", "required, an object")
    _check_payload(source, payload, f"{where}.payload")
    return PostLoanRecord(loan_id, source, as_of, payload, fingerprint(source, payload))


def _as_date(value: Any, where: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise EarlyWarningError(where, f"not a date in YYYY-MM-DD form: {value!r}") from None


def _check_payload(source: str, payload: dict[str, Any], where: str) -> None:
    for name, types in SOURCE_FIELDS[source].items():
        value = payload.get(name)
        # bool is an int subclass in Python; a flag where a count is expected is malformed data.
        if value is None or isinstance(value, bool) or not isinstance(value, types):
            kind = " or ".join(t.__name__ for t in types)
            raise EarlyWarningError(f"{where}.{name}", f"required, {kind}; got {value!r}")
        if isinstance(value, int | float) and (value < 0 or not math.isfinite(value)):
            raise EarlyWarningError(f"{where}.{name}", f"must be a finite number >= 0; got {value!r}")


def check_not_late(records: Sequence[PostLoanRecord], latest: Mapping[tuple[str, str], date]) -> None:
    """Refuse a record dated before the latest one already known for its loan and source (stored or
    earlier in the batch): late data would silently rewrite what an alert was based on."""
    seen = dict(latest)
    for index, record in enumerate(records):
        key = (record.loan_id, record.source)
        newest = seen.get(key)
        if newest is not None and record.as_of < newest:
            raise EarlyWarningError(
                f"records[{index}].as_of",
                f"{record.as_of} is before the latest {record.source} data for loan {record.loan_id!r} ({newest})",
            )
        seen[key] = max(record.as_of, newest or record.as_of)


# --------------------------------------------------------------------------- the per-loan row


@dataclass(frozen=True, slots=True)
class LoanState:
    """What servicing knows about a loan, as read by monitoring."""

    loan_id: str
    status: str
    days_past_due: int
    bucket: str
    principal_outstanding_minor: int
    restructure_count: int
    missed_last_3: int


ROW_NAMES = frozenset(
    {
        "dpd", "bucket", "status", "principal_outstanding_minor", "restructure_count", "missed_last_3",
        *(f"revenue_m{i}" for i in range(1, REVENUE_MONTHS + 1)),
        "revenue_months", "revenue_trailing_mean", "revenue_volatility", "margin_m1", "margin_trailing_mean",
        "tax_arrears_minor", "open_loans", "new_loans_elsewhere", "inquiries_6m", "inquiries_6m_change",
        "utilisation", "utilisation_change", "vehicle_region_exits", "mileage_km", "mileage_drop",
        "device_changes", "device_changed",
    }
)


def missed_in_last(due_and_settled: Iterable[tuple[date, bool]], as_of: date, window: int = MISSED_WINDOW) -> int:
    """Of the last `window` installments due before `as_of`, how many are still not fully paid."""
    due = sorted((d, settled) for d, settled in due_and_settled if d < as_of)
    return sum(1 for _, settled in due[-window:] if not settled)


def build_row(state: LoanState, history: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, Any]:
    """The flat row of one loan: servicing state + features of its snapshots (each source's payloads,
    oldest first). A feature needing data that is absent is None, so an indicator over it stays silent."""
    row: dict[str, Any] = {
        "dpd": state.days_past_due, "bucket": state.bucket, "status": state.status,
        "principal_outstanding_minor": state.principal_outstanding_minor,
        "restructure_count": state.restructure_count, "missed_last_3": state.missed_last_3,
    }
    row.update(_pos_features(history.get("pos", ())))
    row.update(_bureau_features(history.get("bureau", ())))
    row.update(_telematics_features(history.get("telematics", ())))
    row.update(_device_features(history.get("device", ())))
    tax = history.get("tax", ())
    row["tax_arrears_minor"] = tax[-1]["arrears_minor"] if tax else None
    assert set(row) == ROW_NAMES, f"row names drifted: {sorted(set(row) ^ ROW_NAMES)}"
    return row


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _pos_features(pos: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    recent = list(reversed(pos[-REVENUE_MONTHS:]))  # m1 is the latest month
    revenue = [int(p["revenue_minor"]) for p in recent]
    margins = [(int(p["revenue_minor"]) - int(p["cost_minor"])) / int(p["revenue_minor"])
               for p in recent if int(p["revenue_minor"]) > 0]
    mean_all = _mean(revenue)
    volatility = (statistics.pstdev(revenue) / mean_all if len(revenue) >= 3 and mean_all else None)
    features: dict[str, Any] = {f"revenue_m{i + 1}": (revenue[i] if i < len(revenue) else None)
                                for i in range(REVENUE_MONTHS)}
    features.update({
        "revenue_months": len(revenue),
        # the trailing mean excludes the latest month, so a drop is measured against what came before
        "revenue_trailing_mean": _mean(revenue[1:]),
        "revenue_volatility": volatility,
        "margin_m1": margins[0] if margins and revenue[0] > 0 else None,
        "margin_trailing_mean": _mean(margins[1:]) if len(margins) > 1 else None,
    })
    return features


def _bureau_features(bureau: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    if not bureau:
        return dict.fromkeys(("open_loans", "new_loans_elsewhere", "inquiries_6m", "inquiries_6m_change",
                              "utilisation", "utilisation_change"))
    last, prev = bureau[-1], (bureau[-2] if len(bureau) > 1 else None)
    # The first refresh after disbursement is the baseline (the origination pull is in another context).
    return {
        "open_loans": last["open_loans"],
        "new_loans_elsewhere": last["open_loans"] - prev["open_loans"] if prev else None,
        "inquiries_6m": last["inquiries_6m"],
        "inquiries_6m_change": last["inquiries_6m"] - prev["inquiries_6m"] if prev else None,
        "utilisation": float(last["utilisation"]),
        "utilisation_change": float(last["utilisation"]) - float(prev["utilisation"]) if prev else None,
    }


def _telematics_features(tele: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    if not tele:
        return {"vehicle_region_exits": None, "mileage_km": None, "mileage_drop": None}
    last, prev = tele[-1], (tele[-2] if len(tele) > 1 else None)
    prev_km = float(prev["mileage_km"]) if prev else 0.0
    return {
        "vehicle_region_exits": last["region_exits"],
        "mileage_km": float(last["mileage_km"]),
        "mileage_drop": 1 - float(last["mileage_km"]) / prev_km if prev_km > 0 else None,
    }


def _device_features(device: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    ids = [d["device_id"] for d in device]
    changes = sum(1 for a, b in pairwise(ids) if a != b)
    return {
        "device_changes": changes if ids else None,
        "device_changed": int(len(ids) > 1 and ids[-1] != ids[-2]) if ids else None,
    }


def row_schema() -> dict[str, Any]:
    """The frame schema of the rows (loan_id first): stable, so an all-null column still has a type."""
    schema: dict[str, Any] = {"loan_id": pl.Utf8, "bucket": pl.Utf8, "status": pl.Utf8}
    floats = {"revenue_trailing_mean", "revenue_volatility", "margin_m1", "margin_trailing_mean", "utilisation",
              "utilisation_change", "mileage_km", "mileage_drop"}
    for name in sorted(ROW_NAMES - set(schema)):
        schema[name] = pl.Float64 if name in floats else pl.Int64
    return schema


def rows_frame(rows: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    """Rows (each with loan_id) as one frame with the stable row_schema()."""
    return pl.DataFrame([dict(r) for r in rows], schema=row_schema(), orient="row")


# --------------------------------------------------------------------------- the book as one frame
#
# build_row, columnar: the same features from three frames (loans, installments, snapshots) of a whole
# book, with polars expressions instead of a Python loop per loan. book_rows/build_row stay the
# reference; the property test in tests/monitoring/test_early_warning_frame.py holds the two equal.

LOAN_FRAME_SCHEMA: dict[str, Any] = {
    "loan_id": pl.Utf8, "status": pl.Utf8, "days_past_due": pl.Int64, "bucket": pl.Utf8,
    "restructure_count": pl.Int64, "principal_disbursed_minor": pl.Int64, "principal_capitalized_minor": pl.Int64,
    "principal_repaid_minor": pl.Int64, "principal_written_off_minor": pl.Int64,
}
INSTALLMENT_FRAME_SCHEMA: dict[str, Any] = {"loan_id": pl.Utf8, "due_date": pl.Date, "settled": pl.Boolean}
SNAPSHOT_FRAME_SCHEMA: dict[str, Any] = {"loan_id": pl.Utf8, "source": pl.Utf8, "as_of": pl.Date, "payload": pl.Utf8}
# The payload fields the features read, typed as the row path converts them (int(...), float(...)).
PAYLOAD_DTYPES: dict[str, dict[str, Any]] = {
    "pos": {"revenue_minor": pl.Int64, "cost_minor": pl.Int64},
    "tax": {"arrears_minor": pl.Int64},
    "bureau": {"open_loans": pl.Int64, "inquiries_6m": pl.Int64, "utilisation": pl.Float64},
    "telematics": {"region_exits": pl.Int64, "mileage_km": pl.Float64},
    "device": {"device_id": pl.Utf8},
}
assert {s: set(f) for s, f in PAYLOAD_DTYPES.items()} == {s: set(f) for s, f in SOURCE_FIELDS.items()}


def book_features(loans: pl.DataFrame, installments: pl.DataFrame, snapshots: pl.DataFrame,
                  as_of: date) -> pl.DataFrame:
    """rows_frame of build_row for every loan of `loans`, in its order: installments (loan_id, due_date,
    settled) and snapshots (loan_id, source, as_of, payload as JSON text) of any loans and dates; those
    of other loans or dated after `as_of` are ignored. Each payload is decoded once, by polars."""
    for frame, schema, name in ((loans, LOAN_FRAME_SCHEMA, "loans"), (installments, INSTALLMENT_FRAME_SCHEMA,
                                "installments"), (snapshots, SNAPSHOT_FRAME_SCHEMA, "snapshots")):
        missing = set(schema) - set(frame.columns)
        assert not missing, f"{name} frame lacks {sorted(missing)}"
    assert loans["loan_id"].is_unique().all(), "one row per loan"
    dated = snapshots.filter(pl.col("as_of") <= as_of)
    frame = _state_frame(loans)
    for part in (missed_frame(installments, as_of), _pos_frame(dated), _bureau_frame(dated),
                 _telematics_frame(dated), _device_frame(dated), _tax_frame(dated)):
        frame = frame.join(part, on="loan_id", how="left", maintain_order="left")
    # a loan without installments due or without POS data counts zero of them, as the row path does
    frame = frame.with_columns(pl.col("missed_last_3", "revenue_months").fill_null(0))
    out = frame.select(pl.col(name).cast(dtype) for name, dtype in row_schema().items())
    assert out.height == loans.height and set(out.columns) == ROW_NAMES | {"loan_id"}
    return out


def _state_frame(loans: pl.DataFrame) -> pl.DataFrame:
    outstanding = (pl.col("principal_disbursed_minor") + pl.col("principal_capitalized_minor")
                   - pl.col("principal_repaid_minor") - pl.col("principal_written_off_minor"))
    return loans.select("loan_id", "status", "bucket", "restructure_count", pl.col("days_past_due").alias("dpd"),
                        outstanding.alias("principal_outstanding_minor"))


def missed_frame(installments: pl.DataFrame, as_of: date, window: int = MISSED_WINDOW) -> pl.DataFrame:
    """missed_in_last per loan (loan_id, missed_last_3); loans with nothing due before `as_of` are absent."""
    due = installments.filter(pl.col("due_date") < as_of).sort("loan_id", "due_date", "settled")
    from_end = pl.int_range(pl.len(), 0, -1).over("loan_id")  # sorted ascending: the latest due is 1
    return (due.filter(from_end <= window).group_by("loan_id")
            .agg((~pl.col("settled")).sum().cast(pl.Int64).alias("missed_last_3")))


def _history(snapshots: pl.DataFrame, source: str) -> pl.DataFrame:
    """One source's snapshots, latest first per loan: loan_id, k (1 = the latest), the payload fields read."""
    part = snapshots.filter(pl.col("source") == source).sort("loan_id", "as_of", descending=[False, True])
    fields = part["payload"].str.json_decode(dtype=pl.Struct(PAYLOAD_DTYPES[source])).struct.unnest()
    return pl.concat([part.select("loan_id"), fields], how="horizontal").with_columns(
        k=pl.int_range(1, pl.len() + 1).over("loan_id"))


def _at(name: str, k: int) -> pl.Expr:
    """In a per-loan aggregation: the field of the k-th latest snapshot (null if there are fewer)."""
    return pl.col(name).filter(pl.col("k") == k).first()


def _mean_of(values: pl.Expr) -> pl.Expr:
    """Sum left to right (as Python's sum) over the count; null when empty."""
    return pl.when(values.count() > 0).then(values.cum_sum().last() / values.count())


def _pos_frame(snapshots: pl.DataFrame) -> pl.DataFrame:
    rev, k = pl.col("revenue_minor"), pl.col("k")
    pos = _history(snapshots, "pos").filter(k <= REVENUE_MONTHS).with_columns(
        margin=pl.when(rev > 0).then((rev - pl.col("cost_minor")) / rev),
        # the row path's margins list holds only months with revenue: its [0] is the latest of them
        margin_rank=(rev > 0).cum_sum().over("loan_id"),
    )
    mean_all = rev.sum() / pl.len()
    return pos.group_by("loan_id").agg(
        *(_at("revenue_minor", i).alias(f"revenue_m{i}") for i in range(1, REVENUE_MONTHS + 1)),
        pl.len().alias("revenue_months"),
        _mean_of(rev.filter(k >= 2)).alias("revenue_trailing_mean"),
        pl.when((pl.len() >= 3) & (rev.sum() != 0)).then(rev.std(ddof=0) / mean_all).alias("revenue_volatility"),
        _at("margin", 1).alias("margin_m1"),
        _mean_of(pl.col("margin").filter((rev > 0) & (pl.col("margin_rank") >= 2))).alias("margin_trailing_mean"),
    )


def _bureau_frame(snapshots: pl.DataFrame) -> pl.DataFrame:
    bureau = _history(snapshots, "bureau").filter(pl.col("k") <= 2)
    return bureau.group_by("loan_id").agg(
        _at("open_loans", 1).alias("open_loans"),
        (_at("open_loans", 1) - _at("open_loans", 2)).alias("new_loans_elsewhere"),
        _at("inquiries_6m", 1).alias("inquiries_6m"),
        (_at("inquiries_6m", 1) - _at("inquiries_6m", 2)).alias("inquiries_6m_change"),
        _at("utilisation", 1).alias("utilisation"),
        (_at("utilisation", 1) - _at("utilisation", 2)).alias("utilisation_change"),
    )


def _telematics_frame(snapshots: pl.DataFrame) -> pl.DataFrame:
    tele = _history(snapshots, "telematics").filter(pl.col("k") <= 2)
    last_km, prev_km = _at("mileage_km", 1), _at("mileage_km", 2)
    return tele.group_by("loan_id").agg(
        _at("region_exits", 1).alias("vehicle_region_exits"),
        last_km.alias("mileage_km"),
        pl.when(prev_km > 0).then(1 - last_km / prev_km).alias("mileage_drop"),
    )


def _device_frame(snapshots: pl.DataFrame) -> pl.DataFrame:
    ids = pl.col("device_id")
    # ne_missing: None != "a" is True and None != None False in Python too
    return _history(snapshots, "device").group_by("loan_id").agg(
        ids.ne_missing(ids.shift(1)).slice(1).sum().cast(pl.Int64).alias("device_changes"),
        ((pl.len() > 1) & _at("device_id", 1).ne_missing(_at("device_id", 2))).cast(pl.Int64).alias("device_changed"),
    )


def _tax_frame(snapshots: pl.DataFrame) -> pl.DataFrame:
    tax = _history(snapshots, "tax").filter(pl.col("k") == 1)
    return tax.select("loan_id", pl.col("arrears_minor").alias("tax_arrears_minor"))


# --------------------------------------------------------------------------- indicators as data

_FROZEN = ConfigDict(frozen=True, extra="forbid")
Text = Annotated[str, Field(min_length=1)]


class Threshold(BaseModel):
    model_config = _FROZEN
    severity: Severity
    at_least: float  # the indicator fires at this severity when its value >= at_least


class IndicatorDoc(BaseModel):
    model_config = _FROZEN
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
    en: Text
    zh: Text
    formula: Text
    thresholds: Annotated[tuple[Threshold, ...], Field(min_length=1)]

    @model_validator(mode="after")
    def _ordered(self) -> IndicatorDoc:
        ranks = [SEVERITIES.index(t.severity) for t in self.thresholds]
        cuts = [t.at_least for t in self.thresholds]
        if ranks != sorted(set(ranks)) or cuts != sorted(set(cuts)):
            raise ValueError("thresholds must rise in both severity and at_least")
        return self


class IndicatorSetDoc(BaseModel):
    model_config = _FROZEN
    version: Annotated[str, Field(pattern=r"^[0-9A-Za-z._-]+$", max_length=32)]
    actions: dict[Severity, tuple[Action, ...]]
    indicators: Annotated[tuple[IndicatorDoc, ...], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique(self) -> IndicatorSetDoc:
        names = [i.name for i in self.indicators]
        if len(names) != len(set(names)):
            repeated = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"indicator names must be unique; repeated: {repeated}")
        return self


@dataclass(frozen=True)
class Indicator:
    doc: IndicatorDoc
    formula: Expression

    @property
    def name(self) -> str:
        return self.doc.name

    def severity_of(self, value: Any) -> str | None:
        """The highest severity whose threshold the value reaches; None for null or below every threshold."""
        if value is None or isinstance(value, str):
            return None
        reached = [t.severity for t in self.doc.thresholds if value >= t.at_least]
        return reached[-1] if reached else None

    def severity_expr(self) -> pl.Expr:
        value = self.formula.to_polars().cast(pl.Float64)
        chain: Any = pl.lit(None, dtype=pl.Utf8)
        for threshold in self.doc.thresholds:  # later (higher) thresholds override earlier ones
            chain = pl.when(value >= threshold.at_least).then(pl.lit(threshold.severity)).otherwise(chain)
        result: pl.Expr = chain
        return result


@dataclass(frozen=True)
class IndicatorSet:
    version: str
    source: str
    actions: Mapping[str, tuple[str, ...]]
    indicators: tuple[Indicator, ...]

    def actions_for(self, severity: str) -> tuple[str, ...]:
        return tuple(self.actions.get(severity, ()))


def parse_indicators(text: str, source: str = "<indicators>") -> IndicatorSet:
    """An indicator set from YAML/JSON text; IndicatorFileError naming `source:line: field` on anything wrong."""
    return _indicator_set(parse_located(text, IndicatorSetDoc, source=source, error=IndicatorFileError))


def load_indicators(path: str | Path = DEFAULT_INDICATORS) -> IndicatorSet:
    return _indicator_set(load_located(path, IndicatorSetDoc, error=IndicatorFileError))


def _indicator_set(located: Located[IndicatorSetDoc]) -> IndicatorSet:
    doc = located.value
    actions = {str(severity): tuple(map(str, acts)) for severity, acts in doc.actions.items()}
    return IndicatorSet(doc.version, located.source, actions, _compile(located))


def _compile(located: Located[IndicatorSetDoc]) -> tuple[Indicator, ...]:
    compiled = []
    for index, item in enumerate(located.value.indicators):
        try:
            compiled.append(Indicator(item, compile_expression(item.formula, ROW_NAMES)))
        except ExpressionError as exc:
            raise located.error(("indicators", index, "formula"), exc.message, IndicatorFileError) from None
    return tuple(compiled)


# --------------------------------------------------------------------------- evaluation and alerts


@dataclass(frozen=True, slots=True)
class Alert:
    alert_id: str
    loan_id: str
    indicator: str
    severity: str
    as_of: date
    actions: tuple[str, ...]
    evidence: dict[str, Any] = field(hash=False)


def alert_id(loan_id: str, indicator: str, as_of: date) -> str:
    """Deterministic, so re-running the same date finds the alert it already raised."""
    digest = hashlib.sha256(f"{loan_id}|{indicator}|{as_of.isoformat()}".encode()).hexdigest()
    return f"ew_{digest[:24]}"


def _clean(value: Any) -> Any:
    return round(value, EVIDENCE_DIGITS) if isinstance(value, float) else value


def _alert(indicators: IndicatorSet, ind: Indicator, row: Mapping[str, Any], value: Any, severity: str,
           as_of: date) -> Alert:
    loan_id = str(row["loan_id"])
    threshold = next(t.at_least for t in ind.doc.thresholds if t.severity == severity)
    evidence = {
        "formula": ind.formula.text, "value": _clean(float(value)), "threshold": threshold,
        "inputs": {name: _clean(row.get(name)) for name in sorted(ind.formula.names)},
        "en": ind.doc.en, "zh": ind.doc.zh, "indicator_set": indicators.version,
    }
    return Alert(alert_id(loan_id, ind.name, as_of), loan_id, ind.name, severity, as_of,
                 indicators.actions_for(severity), evidence)


def evaluate_row(indicators: IndicatorSet, row: Mapping[str, Any], as_of: date) -> list[Alert]:
    """Online: one loan's row through the row evaluators."""
    alerts = []
    for ind in indicators.indicators:
        value = ind.formula.evaluate(row)
        severity = ind.severity_of(value)
        if severity is not None:
            alerts.append(_alert(indicators, ind, row, value, severity, as_of))
    return alerts


def evaluate(indicators: IndicatorSet, frame: pl.DataFrame, as_of: date) -> list[Alert]:
    """Columnar: every indicator over every loan at once; only the (few) firing rows come back to Python."""
    alerts: list[Alert] = []
    for ind in indicators.indicators:
        names = sorted(ind.formula.names | {"loan_id"})
        fired = (
            frame.lazy()
            .select(*names, ind.formula.to_polars().cast(pl.Float64).alias("__value"),
                    ind.severity_expr().alias("__severity"))
            .filter(pl.col("__severity").is_not_null())
            .collect()
        )
        for row in fired.iter_rows(named=True):
            alerts.append(_alert(indicators, ind, row, row["__value"], row["__severity"], as_of))
    return sorted(alerts, key=lambda a: (a.loan_id, a.indicator))


# --------------------------------------------------------------------------- alert lifecycle


def transition(status: str, command: str, who: str, at: datetime, *, assignee: str = "",
               note: str = "") -> tuple[str, dict[str, Any]]:
    """The new status and the history entry of one lifecycle command; EarlyWarningError if not allowed."""
    if command not in TRANSITIONS:
        raise EarlyWarningError("command", f"unknown command {command!r}; known: {', '.join(TRANSITIONS)}")
    if not who.strip():
        raise EarlyWarningError("by", "who did it is required")
    if command == "assign" and not assignee.strip():
        raise EarlyWarningError("assignee", "required to assign an alert")
    allowed, target = TRANSITIONS[command]
    if status not in allowed:
        raise EarlyWarningError("status", f"cannot {command} an alert that is {status}", kind=ErrorKind.CONFLICT)
    entry = {"action": command, "by": who, "at": at.isoformat(), "from": status, "to": target}
    if assignee:
        entry["assignee"] = assignee
    if note:
        entry["note"] = note
    return target, entry
