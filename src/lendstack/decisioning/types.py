"""The decision's value types and the protocols it needs from origination (structural, so the
core does not depend on origination's concrete classes)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, Protocol

Outcome = Literal["approve", "refer", "decline"]


class ApplicationLike(Protocol):
    @property
    def application_id(self) -> str: ...


class FlagLike(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def message_en(self) -> str: ...
    @property
    def message_zh(self) -> str: ...


class BundleLike(Protocol):
    def fingerprints(self) -> Any: ...
    def failed(self) -> Any: ...


@dataclass(frozen=True)
class FlagRecord:
    code: str
    severity: str
    en: str
    zh: str
    evidence_json: str = "{}"

    @classmethod
    def of(cls, flag: FlagLike) -> FlagRecord:
        evidence = getattr(flag, "evidence", {}) or {}
        return cls(flag.code, flag.severity, flag.message_en, flag.message_zh, canonical_json(evidence))


@dataclass(frozen=True)
class ReasonCode:
    code: str
    source: str  # knockout | rule | fraud | source | grade | limit | model | pricing
    action: str  # decline | refer | flag | info
    en: str
    zh: str


@dataclass(frozen=True)
class Offer:
    product_id: str
    amount_minor: int
    currency: str
    term: int
    rate_annual: Decimal
    apr: Decimal
    first_installment_minor: int
    total_repayable_minor: int
    tranches: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class Decision:
    """Everything needed to explain and reproduce one decision; equal inputs give an equal Decision."""

    application_id: str
    outcome: Outcome
    grade: str
    pd: float
    lgd: Decimal
    rate_annual: Decimal
    apr: Decimal | None
    limit_minor: int
    offer: Offer | None
    flags: tuple[FlagRecord, ...]
    reasons: tuple[ReasonCode, ...]
    policy_key: str
    policy_hash: str
    model_version: str
    model_hash: str
    fingerprints: tuple[tuple[str, str], ...]
    input_hash: str
    product_id: str
    pricing: tuple[tuple[str, str], ...]
    limit_components: tuple[tuple[str, int], ...]

    def to_dict(self) -> dict[str, Any]:
        return decision_to_dict(self)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sha256_json(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def normalize_fingerprints(bundle: BundleLike) -> tuple[tuple[str, str], ...]:
    found = bundle.fingerprints()
    pairs = found.items() if isinstance(found, Mapping) else ((s.source, s.fingerprint) for s in found)
    return tuple(sorted((str(k), str(v)) for k, v in pairs))


def failed_sources(bundle: BundleLike) -> tuple[tuple[str, str], ...]:
    """(source, status) of the sources that timed out or failed; a 'missing' source is not a failure."""
    found = bundle.failed()
    items: Iterable[Any] = found.values() if isinstance(found, Mapping) else found
    snapshots = getattr(bundle, "snapshots", {})
    pairs = [(item, str(getattr(snapshots.get(item), "status", "error"))) if isinstance(item, str)
             else (str(item.source), str(item.status)) for item in items]
    return tuple(sorted((name, status) for name, status in pairs if status != "missing"))


def decision_to_dict(decision: Decision) -> dict[str, Any]:
    offer = decision.offer
    return {
        "application_id": decision.application_id, "outcome": decision.outcome, "grade": decision.grade,
        "pd": decision.pd, "lgd": str(decision.lgd), "rate_annual": str(decision.rate_annual),
        "apr": None if decision.apr is None else str(decision.apr), "limit_minor": decision.limit_minor,
        "product_id": decision.product_id,
        "offer": None if offer is None else {
            "product_id": offer.product_id, "amount_minor": offer.amount_minor, "currency": offer.currency,
            "term": offer.term, "rate_annual": str(offer.rate_annual), "apr": str(offer.apr),
            "first_installment_minor": offer.first_installment_minor,
            "total_repayable_minor": offer.total_repayable_minor,
            "tranches": [{"stage": s, "amount_minor": a} for s, a in offer.tranches]},
        "flags": [
            {"code": f.code, "severity": f.severity, "en": f.en, "zh": f.zh, "evidence": json.loads(f.evidence_json)}
            for f in decision.flags
        ],
        "reasons": [{"code": r.code, "source": r.source, "action": r.action, "en": r.en, "zh": r.zh}
                    for r in decision.reasons],
        "policy": decision.policy_key, "policy_hash": decision.policy_hash,
        "model_version": decision.model_version, "model_hash": decision.model_hash,
        "fingerprints": dict(decision.fingerprints), "input_hash": decision.input_hash,
        "pricing": dict(decision.pricing), "limit_components": dict(decision.limit_components),
    }
