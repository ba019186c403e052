"""Cross-checks between sources: declared revenue vs POS settlement vs tax-implied vs invoice-implied revenue.

Packaged applicants (资料包装) can inflate what they declare and what their POS shows (fake flows),
but not what the tax bureau or the VAT invoice system recorded; the ratios between the sources show it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lendstack.origination.application import Application
from lendstack.origination.flags import Flag
from lendstack.origination.snapshots import DataBundle

MONTHS_PER_YEAR = 12


@dataclass(frozen=True, slots=True)
class CrossCheckTolerance:
    """How far sources may disagree before a flag; ratios are 'claimed / evidenced'."""

    tax_rate_effective: float = 0.02  # VAT + income tax of a small-scale taxpayer as a share of revenue
    declared_vs_tax_ratio_max: float = 1.6  # honest owners round up and under-report tax a little
    pos_vs_tax_ratio_max: float = 1.45  # POS shows 65-95% of true sales; more than tax implies is a fake flow
    declared_vs_pos_ratio_max: float = 2.5  # cash sales explain some gap, not this much
    declared_vs_pos_ratio_min: float = 0.4  # declaring far below settlement is also inconsistent
    invoices_vs_declared_ratio_max: float = 1.3  # invoiced sales cannot exceed all sales

    def __post_init__(self) -> None:
        assert 0 < self.tax_rate_effective < 1
        assert self.declared_vs_pos_ratio_min < 1 < self.declared_vs_pos_ratio_max
        assert min(self.declared_vs_tax_ratio_max, self.pos_vs_tax_ratio_max, self.invoices_vs_declared_ratio_max) > 1


DEFAULT = CrossCheckTolerance()


@dataclass(frozen=True, slots=True)
class RevenueEvidence:
    """Monthly revenue in minor units as each source implies it (None when the source has nothing)."""

    declared_minor: int | None
    pos_mean_minor: float | None
    tax_implied_minor: float | None
    invoice_implied_minor: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "declared_monthly_revenue_minor": self.declared_minor,
            "pos_monthly_mean_minor": _rounded(self.pos_mean_minor),
            "tax_implied_monthly_revenue_minor": _rounded(self.tax_implied_minor),
            "invoice_monthly_revenue_minor": _rounded(self.invoice_implied_minor),
        }


def _rounded(value: float | None) -> int | None:
    return None if value is None else round(value)


def _positive(value: float | None) -> float | None:
    return value if value is not None and value > 0 else None


def _pos_mean(payload: dict[str, Any] | None) -> float | None:
    if payload is None:
        return None
    mean = payload.get("revenue_mean_12m_minor")
    if mean is None:
        months = [m for m in payload.get("monthly_revenue_minor") or [] if m is not None]
        mean = sum(months) / len(months) if months else None
    return _positive(None if mean is None else float(mean))


def _tax_implied(payload: dict[str, Any] | None, tax_rate: float) -> float | None:
    if payload is None or payload.get("annual_tax_paid_minor") is None:
        return None
    # A business filing for less than a year paid tax on fewer months of sales.
    months = min(payload.get("tax_filing_months") or MONTHS_PER_YEAR, MONTHS_PER_YEAR)
    return _positive(payload["annual_tax_paid_minor"] / tax_rate / months)


def _invoice_monthly(payload: dict[str, Any] | None) -> float | None:
    if payload is None or payload.get("invoice_revenue_12m_minor") is None:
        return None
    return _positive(payload["invoice_revenue_12m_minor"] / MONTHS_PER_YEAR)


def revenue_evidence(application: Application, bundle: DataBundle, tolerance: CrossCheckTolerance) -> RevenueEvidence:
    return RevenueEvidence(
        declared_minor=application.declared.declared_monthly_revenue_minor,
        pos_mean_minor=_pos_mean(bundle.payload("pos")),
        tax_implied_minor=_tax_implied(bundle.payload("tax"), tolerance.tax_rate_effective),
        invoice_implied_minor=_invoice_monthly(bundle.payload("invoices")),
    )


def _ratio(claimed: float | None, evidenced: float | None) -> float | None:
    if claimed is None or evidenced is None or evidenced <= 0:
        return None
    return claimed / evidenced


def _flag(code: str, severity: str, en: str, zh: str, ev: RevenueEvidence, **ratios: float) -> Flag:
    evidence = ev.as_dict() | {name: round(value, 4) for name, value in ratios.items()}
    return Flag(f"xcheck.{code}", severity, en, zh, evidence)


def _tax_flags(ev: RevenueEvidence, tol: CrossCheckTolerance) -> list[Flag]:
    flags = []
    declared_vs_tax = _ratio(ev.declared_minor, ev.tax_implied_minor)
    if declared_vs_tax is not None and declared_vs_tax > tol.declared_vs_tax_ratio_max:
        en = f"declared revenue is {declared_vs_tax:.2f}x what the tax paid implies"
        zh = f"申报收入为纳税额推算收入的{declared_vs_tax:.2f}倍"
        flags.append(_flag("revenue_vs_tax", "high", en, zh, ev, declared_vs_tax_ratio=declared_vs_tax))
    pos_vs_tax = _ratio(ev.pos_mean_minor, ev.tax_implied_minor)
    if pos_vs_tax is not None and pos_vs_tax > tol.pos_vs_tax_ratio_max:
        en = f"POS settlement is {pos_vs_tax:.2f}x what the tax paid implies (possible fake flows)"
        zh = f"收单流水为纳税额推算收入的{pos_vs_tax:.2f}倍（疑似虚假流水）"
        flags.append(_flag("pos_vs_tax", "high", en, zh, ev, pos_vs_tax_ratio=pos_vs_tax))
    return flags


def _pos_flags(ev: RevenueEvidence, tol: CrossCheckTolerance) -> list[Flag]:
    declared_vs_pos = _ratio(ev.declared_minor, ev.pos_mean_minor)
    if declared_vs_pos is None:
        return []
    if declared_vs_pos > tol.declared_vs_pos_ratio_max or declared_vs_pos < tol.declared_vs_pos_ratio_min:
        en = f"declared revenue is {declared_vs_pos:.2f}x the POS settlement"
        zh = f"申报收入为收单流水的{declared_vs_pos:.2f}倍"
        return [_flag("revenue_vs_pos", "warn", en, zh, ev, declared_vs_pos_ratio=declared_vs_pos)]
    return []


def _invoice_flags(ev: RevenueEvidence, tol: CrossCheckTolerance) -> list[Flag]:
    invoices_vs_declared = _ratio(ev.invoice_implied_minor, ev.declared_minor)
    if invoices_vs_declared is not None and invoices_vs_declared > tol.invoices_vs_declared_ratio_max:
        en = f"VAT invoices are {invoices_vs_declared:.2f}x the declared revenue"
        zh = f"增值税发票开票额为申报收入的{invoices_vs_declared:.2f}倍"
        return [_flag("invoices_vs_revenue", "warn", en, zh, ev, invoices_vs_declared_ratio=invoices_vs_declared)]
    return []


def _unverifiable(ev: RevenueEvidence) -> list[Flag]:
    if ev.declared_minor and ev.pos_mean_minor is None and ev.tax_implied_minor is None:
        en, zh = "declared revenue has no POS or tax data to check against", "申报收入无收单或纳税数据可核验"
        return [_flag("revenue_unverified", "info", en, zh, ev)]
    return []


def cross_check(application: Application, bundle: DataBundle, tolerance: CrossCheckTolerance = DEFAULT) -> list[Flag]:
    """Flags for sources that disagree beyond `tolerance`; evidence holds the monthly figures and the ratios."""
    ev = revenue_evidence(application, bundle, tolerance)
    if ev.declared_minor is None and ev.pos_mean_minor is None:
        return []  # a salaried individual: no revenue to cross-check
    return _tax_flags(ev, tolerance) + _pos_flags(ev, tolerance) + _invoice_flags(ev, tolerance) + _unverifiable(ev)
