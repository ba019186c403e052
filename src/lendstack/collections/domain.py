"""Collections (催收): strategies as data, the roll model, step selection, priorities and queues.

A functional core, no I/O but reading a strategy file. A strategy says what to do with a loan:
reminders before the due date, and once it is overdue, one step per (DPD stage, risk band): the
action (reminder, call, escalate, field visit, legal), the channels, the bilingual message template
and how often to repeat it. The risk band comes from P(roll), the probability that the loan rolls to
the next bucket, estimated by a small documented model (`roll_ppm`). A case's priority in the
collectors' queues is the expected amount that rolls: amount overdue × P(roll), in minor units.
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lendstack.documents import PlacedFieldError, load_document, parse_document
from lendstack.errors import LendstackError
from lendstack.money.money import format_minor

DEFAULT_STRATEGY = Path(__file__).with_name("strategies") / "default.yaml"
PPM = 1_000_000  # probabilities are integer parts per million: exact, comparable, no float in storage
LANGUAGES = ("en", "zh-CN")
BANDS = ("low", "medium", "high")
ACTIONS = ("reminder", "call", "escalate", "field_visit", "legal")
CHANNELS = ("sms", "email", "push")
CONTACT_OUTCOMES = ("reached", "no_answer", "wrong_number", "refused", "promised")
PROMISE_STATUSES = ("pending", "kept", "broken", "cancelled")
CASE_STATUSES = ("open", "closed")
PLACEHOLDERS = frozenset({"loan_id", "amount_due", "currency", "due_date", "days_past_due"})
EVERY_DAYS_MAX = 366
REMINDER_DAYS_MAX = 60
ASSIGN_BATCH_MAX = 10_000  # one auto-assignment round hands out at most this many cases
BUCKET_ORDER = ("M0", "M1", "M2", "M3", "M4", "M5", "M6", "M7+")
BUCKET_DAYS = 30  # width of one bucket in DPD (servicing's default aging); M7+ is open-ended

Band = Literal["low", "medium", "high"]
ActionName = Literal["reminder", "call", "escalate", "field_visit", "legal"]
ChannelName = Literal["sms", "email", "push"]


class CollectionsError(LendstackError):
    """A strategy that does not parse or bad input to a collections command; names the field."""


class StrategyFileError(PlacedFieldError, CollectionsError):
    """A strategy document that cannot be read or is invalid. A DocumentError (any bad config file) and a
    CollectionsError whose `field` is `file:line: dotted.field`, as strategy errors always named it;
    `location` is the dotted field alone."""

    shape = "a strategy is a mapping with strategy_id, version, stages, ..."


# --------------------------------------------------------------------------- the strategy document

_FROZEN = ConfigDict(frozen=True, extra="forbid")
Ident = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]
Probability = Annotated[Decimal, Field(ge=0, le=1)]


class TemplateDoc(BaseModel):
    """One message in both languages; {placeholders} are filled from the loan."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
    en: Annotated[str, Field(min_length=1, max_length=1000)]
    zh_cn: Annotated[str, Field(min_length=1, max_length=1000, alias="zh-CN")]

    @model_validator(mode="after")
    def _placeholders(self) -> TemplateDoc:
        for language, text in (("en", self.en), ("zh-CN", self.zh_cn)):
            unknown = placeholders_of(text) - PLACEHOLDERS
            if unknown:
                raise ValueError(f"{language}: unknown placeholder(s) {sorted(unknown)}; "
                                 f"known: {sorted(PLACEHOLDERS)}")
        return self


class StepDoc(BaseModel):
    model_config = _FROZEN
    action: ActionName
    channels: Annotated[tuple[ChannelName, ...], Field(max_length=len(CHANNELS))] = ()
    template: Ident
    every_days: Annotated[int, Field(ge=1, le=EVERY_DAYS_MAX)]

    @model_validator(mode="after")
    def _channels(self) -> StepDoc:
        if len(set(self.channels)) != len(self.channels):
            raise ValueError("channels must not repeat")
        if self.action == "reminder" and not self.channels:
            raise ValueError("a reminder needs at least one channel")
        return self


class StageDoc(BaseModel):
    """A DPD range [dpd_from, dpd_to] (dpd_to None: open-ended) with one step per risk band."""

    model_config = _FROZEN
    id: Ident
    dpd_from: Annotated[int, Field(ge=1)]
    dpd_to: Annotated[int, Field(ge=1)] | None
    steps: dict[Band, StepDoc]

    @model_validator(mode="after")
    def _complete(self) -> StageDoc:
        if self.dpd_to is not None and self.dpd_to < self.dpd_from:
            raise ValueError(f"dpd_to ({self.dpd_to}) is below dpd_from ({self.dpd_from})")
        missing = [band for band in BANDS if band not in self.steps]
        if missing:
            raise ValueError(f"@steps.{missing[0]}: a step is needed for every risk band; missing: {missing}")
        return self


class ReminderDoc(BaseModel):
    """A reminder sent `days_before_due` days before an installment falls due (0: on the due date)."""

    model_config = _FROZEN
    id: Ident
    days_before_due: Annotated[int, Field(ge=0, le=REMINDER_DAYS_MAX)]
    channels: Annotated[tuple[ChannelName, ...], Field(min_length=1, max_length=len(CHANNELS))]
    template: Ident


class RiskBandsDoc(BaseModel):
    model_config = _FROZEN
    medium_from: Probability
    high_from: Probability

    @model_validator(mode="after")
    def _ordered(self) -> RiskBandsDoc:
        if not 0 < self.medium_from < self.high_from <= 1:
            raise ValueError("need 0 < medium_from < high_from <= 1")
        return self


class PromiseDoc(BaseModel):
    model_config = _FROZEN
    grace_days: Annotated[int, Field(ge=0, le=30)]  # a promise is kept if paid by promised date + grace
    max_days_ahead: Annotated[int, Field(ge=1, le=90)]  # how far ahead a promise may be dated


class QueueDoc(BaseModel):
    model_config = _FROZEN
    capacity_per_collector: Annotated[int, Field(ge=1, le=10_000)]
    priority_basis: Literal["overdue", "exposure"] = "overdue"


class RollModelDoc(BaseModel):
    """Log-odds weights of the roll model (see `roll_ppm`). Defaults are the documented ones."""

    model_config = _FROZEN
    base: dict[str, Probability] = Field(default_factory=lambda: {
        "M0": Decimal("0.05"), "M1": Decimal("0.25"), "M2": Decimal("0.45"), "M3": Decimal("0.60"),
        "M4": Decimal("0.70"), "M5": Decimal("0.75"), "M6": Decimal("0.80"), "M7+": Decimal("0.85")})
    bucket_elapsed: Decimal = Decimal("1.0")
    missed: Decimal = Decimal("0.4")
    paid_recently: Decimal = Decimal("-1.0")
    origination_pd: Decimal = Decimal("0.6")
    reference_pd: Probability = Decimal("0.05")
    alert: Decimal = Decimal("0.4")
    broken_promise: Decimal = Decimal("0.7")

    @model_validator(mode="after")
    def _every_bucket(self) -> RollModelDoc:
        missing = [b for b in BUCKET_ORDER if b not in self.base]
        unknown = sorted(set(self.base) - set(BUCKET_ORDER))
        if missing or unknown:
            raise ValueError(f"base needs exactly the buckets {list(BUCKET_ORDER)}; missing {missing}, "
                             f"unknown {unknown}")
        if not all(0 < p < 1 for p in self.base.values()) or not 0 < self.reference_pd < 1:
            raise ValueError("base rates and reference_pd must be strictly between 0 and 1")
        return self


class StrategyDoc(BaseModel):
    model_config = _FROZEN
    strategy_id: Ident
    version: Annotated[str, Field(pattern=r"^[0-9A-Za-z._-]+$", max_length=32)]
    default_language: Literal["en", "zh-CN"]
    risk_bands: RiskBandsDoc
    promise: PromiseDoc
    queue: QueueDoc
    roll_model: RollModelDoc = Field(default_factory=RollModelDoc)
    reminders: Annotated[tuple[ReminderDoc, ...], Field(max_length=10)] = ()
    stages: Annotated[tuple[StageDoc, ...], Field(min_length=1, max_length=50)]
    templates: dict[Ident, TemplateDoc]

    @model_validator(mode="after")
    def _coherent(self) -> StrategyDoc:
        check_dpd_ranges([(s.dpd_from, s.dpd_to) for s in self.stages])
        ids = [s.id for s in self.stages] + [r.id for r in self.reminders]
        if len(ids) != len(set(ids)):
            repeated = sorted({i for i in ids if ids.count(i) > 1})
            raise ValueError(f"stage and reminder ids must be unique; repeated: {repeated}")
        days = [r.days_before_due for r in self.reminders]
        if len(days) != len(set(days)):
            raise ValueError("two reminders on the same days_before_due")
        used = {r.template for r in self.reminders} | {st.template for s in self.stages for st in s.steps.values()}
        missing = sorted(used - set(self.templates) | ({"promise_broken"} - set(self.templates)))
        if missing:
            raise ValueError(f"templates used but not defined: {missing}")
        return self


def check_dpd_ranges(ranges: Sequence[tuple[int, int | None]]) -> None:
    """Stages must cover DPD 1.. with no gap and no overlap, in order, the last one open-ended."""
    expected_from = 1
    for index, (dpd_from, dpd_to) in enumerate(ranges):
        if dpd_from != expected_from:
            kind = "a gap" if dpd_from > expected_from else "an overlap"
            raise ValueError(f"@stages.{index}.dpd_from: {kind}: expected {expected_from}, got {dpd_from}")
        last = index == len(ranges) - 1
        if dpd_to is None:
            if not last:
                raise ValueError(f"@stages.{index}.dpd_to: only the last stage is open-ended")
            return
        expected_from = dpd_to + 1
    raise ValueError(f"@stages.{len(ranges) - 1}.dpd_to: the last stage must be open-ended (no dpd_to)")


def placeholders_of(text: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:  # unbalanced braces
        raise ValueError(f"template {text!r}: {exc}") from None


# --------------------------------------------------------------------------- the strategy, compiled


@dataclass(frozen=True, slots=True)
class Step:
    """What to do for one loan today: a reminder before the due date or an overdue stage's band step."""

    step_id: str  # "<stage>.<band>" or "<reminder id>"
    stage: str
    band: str
    action: str
    channels: tuple[str, ...]
    template: str
    every_days: int


@dataclass(frozen=True)
class Strategy:
    doc: StrategyDoc
    source: str

    @property
    def version(self) -> str:
        return f"{self.doc.strategy_id}@{self.doc.version}"

    def band_of(self, roll: int) -> str:
        """The risk band of a P(roll) in ppm."""
        assert 0 <= roll <= PPM
        if roll >= _ppm(self.doc.risk_bands.high_from):
            return "high"
        return "medium" if roll >= _ppm(self.doc.risk_bands.medium_from) else "low"

    def stage_for(self, days_past_due: int) -> StageDoc:
        """The one stage whose DPD range holds `days_past_due` (>= 1); the ranges are contiguous."""
        assert days_past_due >= 1, "only overdue loans have a stage"
        for stage in self.doc.stages:
            if stage.dpd_to is None or days_past_due <= stage.dpd_to:
                assert stage.dpd_from <= days_past_due
                return stage
        raise AssertionError("the last stage is open-ended")  # the validator guarantees it

    def step_for(self, days_past_due: int, band: str) -> Step:
        assert band in BANDS
        stage = self.stage_for(days_past_due)
        doc = stage.steps[band]  # type: ignore[index]
        return Step(f"{stage.id}.{band}", stage.id, band, doc.action, tuple(doc.channels), doc.template,
                    doc.every_days)

    def reminder_for(self, days_to_due: int) -> Step | None:
        for r in self.doc.reminders:
            if r.days_before_due == days_to_due:
                return Step(r.id, r.id, "", "reminder", tuple(r.channels), r.template, 1)
        return None

    @property
    def reminder_days(self) -> tuple[int, ...]:
        return tuple(sorted(r.days_before_due for r in self.doc.reminders))

    def render(self, template: str, values: MessageValues) -> dict[str, str]:
        """The message in both languages."""
        doc = self.doc.templates[template]
        fields = values.as_fields()
        return {"en": doc.en.format(**fields), "zh-CN": doc.zh_cn.format(**fields)}


def _ppm(p: Decimal) -> int:
    return int((p * PPM).to_integral_value())


def parse_strategy(text: str, source: str = "<strategy>") -> Strategy:
    """A strategy from YAML text (probabilities exact, as Decimal); StrategyFileError naming
    `source:line: field` on anything wrong."""
    return Strategy(parse_document(text, StrategyDoc, source=source, error=StrategyFileError), source)


def load_strategy(path: str | Path = DEFAULT_STRATEGY) -> Strategy:
    file = Path(path)
    return Strategy(load_document(file, StrategyDoc, error=StrategyFileError), str(file))


# --------------------------------------------------------------------------- messages


@dataclass(frozen=True, slots=True)
class MessageValues:
    loan_id: str
    amount_due_minor: int
    currency: str
    due_date: date
    days_past_due: int

    def as_fields(self) -> dict[str, str]:
        assert self.amount_due_minor >= 0
        return {"loan_id": self.loan_id, "amount_due": format_minor(self.amount_due_minor, self.currency),
                "currency": self.currency, "due_date": self.due_date.isoformat(),
                "days_past_due": str(self.days_past_due)}


@dataclass(frozen=True, slots=True)
class Message:
    """One message to one borrower through one channel. The id is deterministic (loan, step, day,
    channel), so a second run of the same day finds it already sent."""

    message_id: str
    loan_id: str
    case_id: str  # '' for a reminder before the due date (no case)
    as_of: date
    step_id: str
    action: str
    channel: str
    language: str
    template: str
    body: Mapping[str, str]  # {"en": ..., "zh-CN": ...}


def message_id(loan_id: str, step_id: str, as_of: date, channel: str) -> str:
    return f"msg:{loan_id}:{step_id}:{as_of.isoformat()}:{channel}"


@dataclass(frozen=True, slots=True)
class Receipt:
    channel: str
    reference: str  # the adapter's id for the message (the outbox event id for the default)
    status: str  # queued | sent | failed
    at: datetime


# --------------------------------------------------------------------------- the roll model


@dataclass(frozen=True, slots=True)
class RollInputs:
    """What the roll model reads of one overdue loan."""

    bucket: str
    days_past_due: int
    missed_last_3: int  # of the last three installments due, how many are unpaid
    paid_last_30_minor: int  # cash received in the 30 days before the run
    origination_pd: Decimal | None  # the PD stored with the acting decision, if the loan came from one
    open_alerts: int  # open early-warning alerts of severity high or critical
    broken_promises: int


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def roll_ppm(inputs: RollInputs, model: RollModelDoc) -> int:
    """P(the loan rolls to the next bucket), in ppm (1 .. 999,999).

    A logistic model on top of the bucket's base roll rate (the trade's usual consumer-loan roll
    rates; set your own from `portfolio report` roll rates):

        logit p = logit base[bucket]
                + bucket_elapsed × (share of the bucket's 30 days already elapsed)   later in a bucket, closer to roll
                + missed × max(0, missed_last_3 − 1)                                 a habit, not one slip
                + paid_recently × [cash received in the last 30 days]                paying something = engaged
                + origination_pd × (logit PD − logit reference_pd)                   riskier at origination
                + alert × min(open high/critical early-warning alerts, 3)
                + broken_promise × min(broken promises, 3)

    Every term is bounded, so no single signal can push p to 0 or 1.
    """
    assert inputs.bucket in BUCKET_ORDER, inputs.bucket
    assert inputs.days_past_due >= 0 and inputs.missed_last_3 >= 0 and inputs.paid_last_30_minor >= 0
    assert inputs.open_alerts >= 0 and inputs.broken_promises >= 0
    index = BUCKET_ORDER.index(inputs.bucket)
    elapsed = 0.0
    if 0 < index < len(BUCKET_ORDER) - 1:
        elapsed = min(1.0, max(0.0, (inputs.days_past_due - (index - 1) * BUCKET_DAYS - 1) / BUCKET_DAYS))
    z = _logit(float(model.base[inputs.bucket]))
    z += float(model.bucket_elapsed) * elapsed
    z += float(model.missed) * max(0, min(inputs.missed_last_3, 3) - 1)
    z += float(model.paid_recently) * (inputs.paid_last_30_minor > 0)
    if inputs.origination_pd is not None:
        pd = min(max(float(inputs.origination_pd), 1e-4), 1 - 1e-4)
        z += float(model.origination_pd) * (_logit(pd) - _logit(float(model.reference_pd)))
    z += float(model.alert) * min(inputs.open_alerts, 3)
    z += float(model.broken_promise) * min(inputs.broken_promises, 3)
    p = 1 / (1 + math.exp(-z))
    return min(PPM - 1, max(1, round(p * PPM)))


def priority_minor(amount_minor: int, roll: int) -> int:
    """The expected amount that rolls: amount × P(roll), floored to a minor unit. Monotone in both."""
    assert amount_minor >= 0 and 0 <= roll <= PPM
    return amount_minor * roll // PPM


def step_due(last_stage: str, last_on: date | None, step: Step, as_of: date) -> bool:
    """A step fires on entering its stage, then every `every_days`; never twice on one day."""
    if last_on is None or last_stage != step.stage:
        return last_on != as_of
    return (as_of - last_on).days >= step.every_days


# --------------------------------------------------------------------------- queues and promises


@dataclass(frozen=True, slots=True)
class QueueItem:
    case_id: str
    priority_minor: int
    days_past_due: int
    collector: str  # '' = unassigned


def queue_order(items: Sequence[QueueItem]) -> list[QueueItem]:
    """Highest expected roll amount first; then the older debt; then the case id (a total order)."""
    return sorted(items, key=lambda i: (-i.priority_minor, -i.days_past_due, i.case_id))


def plan_assignments(items: Sequence[QueueItem], collectors: Sequence[str], loads: Mapping[str, int],
                     capacity: int) -> list[tuple[str, str]]:
    """Hand the unassigned cases, in queue order, to the least-loaded collector with room (ties by name);
    stop when every collector is at capacity. Returns (case_id, collector) pairs."""
    assert capacity >= 1 and len(set(collectors)) == len(collectors)
    load = {c: int(loads.get(c, 0)) for c in collectors}
    plan: list[tuple[str, str]] = []
    for item in queue_order([i for i in items if not i.collector])[:ASSIGN_BATCH_MAX]:
        room = [c for c in sorted(load) if load[c] < capacity]
        if not room:
            break
        chosen = min(room, key=lambda c: (load[c], c))
        plan.append((item.case_id, chosen))
        load[chosen] += 1
    assert all(v <= capacity or v == loads.get(c, 0) for c, v in load.items())
    return plan


def promise_status(amount_minor: int, paid_minor: int, promised_for: date, grace_days: int, as_of: date) -> str:
    """kept once the cash received since the promise covers it; broken when the date plus grace has
    passed without that; pending otherwise."""
    assert amount_minor > 0 and paid_minor >= 0 and grace_days >= 0
    if paid_minor >= amount_minor:
        return "kept"
    return "broken" if (as_of - promised_for).days > grace_days else "pending"


def check_text(value: Any, field: str, *, max_length: int, required: bool = True) -> str:
    if not isinstance(value, str) or (required and not value.strip()):
        raise CollectionsError(field, "required, a non-empty string")
    if len(value) > max_length:
        raise CollectionsError(field, f"at most {max_length} characters")
    return value.strip()


def check_amount(value: Any, field: str = "amount_minor") -> int:
    # bool is an int subclass; a flag where an amount is expected is malformed input.
    if isinstance(value, bool) or not isinstance(value, int):
        raise CollectionsError(field, f"an integer number of minor units, got {value!r}")
    if value <= 0:
        raise CollectionsError(field, f"must be > 0, got {value}")
    return value


def check_choice(value: Any, field: str, known: Sequence[str]) -> str:
    if value not in known:
        raise CollectionsError(field, f"unknown {field} {value!r}; known: {', '.join(known)}")
    return str(value)
