"""The decision core: a pure function of (application, data bundle, flags, features, policy,
model, exposure). validate → source failures → fraud flags → knockouts → score → grade → rules →
price → limit → concentration → decision. No I/O; the service layer gathers and persists.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from lendstack.decisioning.model import ScoringModel
from lendstack.decisioning.names import KNOCKOUT_NAMES, SEVERITY_RANK, value_problem
from lendstack.decisioning.policy import Policy
from lendstack.decisioning.types import (
    ApplicationLike,
    BundleLike,
    Decision,
    FlagLike,
    FlagRecord,
    Offer,
    Outcome,
    ReasonCode,
    failed_sources,
    normalize_fingerprints,
    sha256_json,
)
from lendstack.errors import LendstackError
from lendstack.money import RateCapExceeded
from lendstack.money.money import AMOUNT_MINOR_MAX
from lendstack.pricing import (
    Exposure,
    LimitInput,
    LimitResult,
    apr_check,
    credit_limit,
    pd_units,
    quote_rate,
    split_tranches,
)
from lendstack.products import LoanProduct, load_catalog

_CATALOG: dict[str, LoanProduct] = {}


class DecisionInputError(LendstackError):
    """Input the engine cannot decide on; `field` names it."""


def product_catalog() -> dict[str, LoanProduct]:
    if not _CATALOG:
        _CATALOG.update(load_catalog())
    return _CATALOG


def resolve_product(policy: Policy, application: ApplicationLike, features: Mapping[str, Any]) -> LoanProduct:
    product_id = getattr(application, "product_id", None) or policy.product_for(features.get("applicant_type"))
    product = product_catalog().get(product_id)
    if product is None:
        raise DecisionInputError("product_id", f"unknown product {product_id!r}; known: {sorted(product_catalog())}")
    return product


def month_of(applied_on: Any) -> int:
    day = applied_on if isinstance(applied_on, date) else date.fromisoformat(str(applied_on))
    return day.month


def income_minor(value: Any) -> int | None:
    """The limit's income expression value as whole minor units (floor), the same as the batch path."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return math.floor(float(value))


def expression_row(features: Mapping[str, Any], flags: Sequence[FlagRecord], failures: int) -> dict[str, Any]:
    row = {"co2_reduced_tonnes": None, **features}
    if isinstance(row.get("applied_on"), str):
        row["applied_on"] = _iso_date(row["applied_on"])
    row["flag_count"] = len(flags)
    row["flag_severity_max"] = max((SEVERITY_RANK.get(f.severity, 0) for f in flags), default=0)
    row["failed_source_count"] = failures
    # The policy's expressions were checked against these types and ranges at load: a value outside
    # them would void that proof (an overflow, a str compared with an int), so it is refused here.
    for name in sorted(KNOCKOUT_NAMES):
        problem = value_problem(name, row.get(name))
        if problem:
            raise DecisionInputError(name, problem)
    return row


def _iso_date(text: str) -> date | str:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return text  # refused by the type check with the field's name


def clamp_term(product: LoanProduct, requested: int) -> int:
    """The allowed term nearest the request: for the limit and the instalment shown; a request
    outside the product's terms is referred or declined (`term_reason`), never silently moved."""
    return min(max(int(requested), product.term_min), product.term_max)


def term_reason(policy: Policy, product: LoanProduct, requested: int) -> ReasonCode | None:
    """TERM_BELOW_MINIMUM / TERM_ABOVE_MAXIMUM with the policy's action, or None inside the product's terms."""
    action = policy.document.decision.term_outside_product
    if requested < product.term_min:
        return ReasonCode("TERM_BELOW_MINIMUM", "product", action,
                          f"The requested term ({requested} months) is below the product minimum of "
                          f"{product.term_min} months",
                          f"申请期限（{requested}个月）低于产品最短期限{product.term_min}个月")
    if requested > product.term_max:
        return ReasonCode("TERM_ABOVE_MAXIMUM", "product", action,
                          f"The requested term ({requested} months) is above the product maximum of "
                          f"{product.term_max} months",
                          f"申请期限（{requested}个月）超过产品最长期限{product.term_max}个月")
    return None


def _method(product: LoanProduct) -> str:
    method = product.schedule_method
    return str(getattr(method, "value", method))


def instalment_factor(rate_units: int, term: int, method: str) -> float:
    """The monthly payment per unit of principal (the first, largest one) for a schedule method;
    rate in 1e-6 annual units. A plain Python function both the online and the batch path call, so
    they get the same float."""
    assert term >= 1 and rate_units >= 0
    monthly = rate_units / 12_000_000
    if method == "equal_principal":
        return 1 / term + monthly
    if method == "interest_only":
        return monthly
    if method == "bullet":
        return (1 + monthly * term) / term
    return monthly / (1 - (1 + monthly) ** -term) if monthly > 0 else 1 / term


def new_instalment_minor(amount_minor: int, factor: float) -> int:
    """The new loan's monthly instalment in whole minor units (rounded up), bounded like an amount."""
    return int(min(math.ceil(amount_minor * factor), AMOUNT_MINOR_MAX))


def compute_limit(policy: Policy, row: Mapping[str, Any], product: LoanProduct, exposure: Exposure) -> LimitResult:
    request = LimitInput(
        monthly_income_minor=income_minor(policy.income.evaluate(row)),
        term_months=clamp_term(product, row["requested_term_months"]), month=month_of(row["applied_on"]),
        segment=str(row.get("segment") or ""), co2_reduced_tonnes=row.get("co2_reduced_tonnes"),
        product_max_minor=product.amount_max_minor,
    )
    return credit_limit(policy.document.limits, request, exposure)


class _Reasons:
    """Collects reason codes in the order the steps ran; the outcome is the most severe action."""

    def __init__(self) -> None:
        self.items: list[ReasonCode] = []

    def add(self, code: str, source: str, action: str, en: str, zh: str) -> None:
        self.items.append(ReasonCode(code, source, action, en, zh))

    def outcome(self) -> Outcome:
        actions = {item.action for item in self.items}
        return "decline" if "decline" in actions else "refer" if "refer" in actions else "approve"


def _screen(
    policy: Policy, failures: Sequence[tuple[str, str]], flags: Sequence[FlagRecord], reasons: _Reasons
) -> None:
    for source, status in failures:
        action = policy.source_action(source)
        reasons.add(f"SOURCE_{source.upper()}_{status.upper()}", "source", "flag" if action == "proceed" else action,
                    f"Data source {source} {status}; policy: {action}", f"数据源{source}{status}，政策处理：{action}")
    rules = policy.document.decision
    for flag in flags:
        rank = SEVERITY_RANK.get(flag.severity, 0)
        action = ("decline" if rank >= SEVERITY_RANK[rules.decline_severity]
                  else "refer" if rank >= SEVERITY_RANK[rules.refer_severity] else "flag")
        reasons.add(flag.code, "fraud", action, flag.en, flag.zh)


def _rules(policy: Policy, row: Mapping[str, Any], reasons: _Reasons) -> None:
    for rule, expression in policy.rules:
        if expression.fires(row):
            reasons.add(rule.code, "rule", rule.action, rule.en, rule.zh)


def _grade_reason(policy: Policy, grade: str, reasons: _Reasons) -> None:
    rules = policy.document.decision
    if grade in rules.decline_grades:
        reasons.add(f"GRADE_{grade}", "grade", "decline", f"Risk grade {grade} is outside appetite",
                    f"风险等级{grade}超出风险偏好")
    elif grade in rules.refer_grades:
        reasons.add(f"GRADE_{grade}", "grade", "refer", f"Risk grade {grade} needs manual review",
                    f"风险等级{grade}需人工审核")


def offer_amount(limit_minor: int, requested_minor: int) -> int:
    return min(limit_minor, int(requested_minor))


def _limit_reasons(limit: LimitResult, amount_minor: int, product: LoanProduct, reasons: _Reasons) -> None:
    for warning in limit.warnings:
        reasons.add(warning, "limit", "flag", _WARNINGS[warning][0], _WARNINGS[warning][1])
    if amount_minor < product.amount_min_minor:
        if limit.binding_cap in ("customer", "household", "segment"):
            reasons.add(f"CONCENTRATION_{limit.binding_cap.upper()}", "limit", "decline",
                        f"The {limit.binding_cap} exposure cap is reached (小额分散)",
                        f"已达{_CAP_ZH[limit.binding_cap]}授信集中度上限（小额分散）")
        else:
            reasons.add("LIMIT_BELOW_MINIMUM", "limit", "decline", "The affordable limit is below the product minimum",
                        "可授信额度低于产品最低金额")


_WARNINGS = {
    "OFF_SEASON": ("Application in the segment's off-season", "申请处于行业淡季"),
    "NO_VERIFIED_INCOME": ("No verified income or revenue for the limit", "无可核实的收入或流水"),
}
_CAP_ZH = {"customer": "单户", "household": "家庭", "segment": "行业"}


def input_hash(application_id: str, product_id: str, row: Mapping[str, Any], fingerprints: Any, failures: Any,
               flags: Sequence[FlagRecord], exposure: Exposure) -> str:
    return sha256_json({
        "application_id": application_id, "product_id": product_id, "row": dict(row), "fingerprints": fingerprints,
        "failures": failures, "flags": [vars(f) for f in flags], "exposure": vars(exposure),
    })


def decide(
    application: ApplicationLike, bundle: BundleLike, flags: Sequence[FlagLike], features: Mapping[str, Any],
    policy: Policy, model: ScoringModel, exposure: Exposure = Exposure(),
) -> Decision:
    """The decision for one application. Deterministic: equal inputs give an equal Decision."""
    records = tuple(FlagRecord.of(flag) for flag in flags)
    failures = failed_sources(bundle)
    row = expression_row(features, records, len(failures))
    product = resolve_product(policy, application, features)
    reasons = _Reasons()
    _screen(policy, failures, records, reasons)
    for knockout, expression in policy.knockouts:
        if expression.fires(row):
            reasons.add(knockout.code, "knockout", "decline", knockout.en, knockout.zh)
    units = pd_units(model.pd_one(dict(features)))
    grade = policy.grade_of(units)
    row["pd"], row["grade"] = units / 10**8, grade
    lgd = policy.document.pricing.lgd(row.get("collateral"))
    quote = quote_rate(units / 10**8, lgd, product, policy.document.pricing, grade)
    limit = compute_limit(policy, row, product, exposure)
    amount = offer_amount(limit.amount_minor, row["requested_amount_minor"])
    # Price and limit come before the rules so a rule can read the new loan's instalment (debt
    # service after the loan); the reasons keep the order rules → grade → term → limit.
    factor = instalment_factor(int(quote.rate_annual * 10**6), clamp_term(product, row["requested_term_months"]),
                               _method(product))
    row["new_instalment_minor"] = new_instalment_minor(amount, factor)
    _rules(policy, row, reasons)
    _grade_reason(policy, grade, reasons)
    term = term_reason(policy, product, int(row["requested_term_months"]))
    if term is not None:
        reasons.items.append(term)
    _limit_reasons(limit, amount, product, reasons)
    offer = _offer(application, policy, product, row, quote.rate_annual, amount, reasons)
    for reason in model.reasons(dict(features), policy.document.decision.model_reasons_max):
        reasons.add(f"MODEL_{reason.feature.upper()}", "model", "info", reason.text_en, reason.text_zh)
    outcome = reasons.outcome()
    assert (offer is not None) == (outcome == "approve"), "an offer exactly when approved"
    fingerprints = normalize_fingerprints(bundle)
    return Decision(
        application_id=application.application_id, outcome=outcome, grade=grade, pd=units / 10**8, lgd=lgd,
        rate_annual=quote.rate_annual, apr=offer.apr if offer else None, limit_minor=limit.amount_minor, offer=offer,
        flags=records + tuple(FlagRecord(w, "warn", *_WARNINGS[w]) for w in limit.warnings),
        reasons=tuple(reasons.items), policy_key=policy.key, policy_hash=policy.content_hash,
        model_version=model.version, model_hash=model.content_hash, fingerprints=fingerprints,
        input_hash=input_hash(application.application_id, product.product_id, features, fingerprints, failures,
                              records, exposure),
        product_id=product.product_id, pricing=tuple(sorted(quote.components().items())),
        limit_components=tuple(sorted(limit.components.items())),
    )


def _offer(application: ApplicationLike, policy: Policy, product: LoanProduct, row: Mapping[str, Any],
           rate: Decimal, amount: int, reasons: _Reasons) -> Offer | None:
    if reasons.outcome() != "approve":
        return None
    term = clamp_term(product, row["requested_term_months"])
    start = row["applied_on"] if isinstance(row["applied_on"], date) else date.fromisoformat(str(row["applied_on"]))
    try:
        summary = apr_check(product, amount, term, rate, start)
    except RateCapExceeded:
        reasons.add("APR_CAP", "pricing", "refer", "The offer's APR would exceed the legal cap",
                    "年化利率将超过法定上限")
        return None
    tranches = split_tranches(policy.document.limits, str(row.get("segment") or ""), amount)
    return Offer(product.product_id, amount, product.currency, term, rate, summary.apr,
                 summary.first_installment_minor, summary.total_repayable_minor, tranches)
