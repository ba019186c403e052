"""The data dictionary: one `FieldDoc` per column of `generate_applications`, in column order.

`role` tells downstream code what a column may be used for: `feature` columns are what a lender
observes at application time; `key` columns identify; `protected` columns (gender) are kept only
for fairness audits and must never be model inputs or policy terms (scoring on sex is
discrimination); `ground_truth` and `outcome` columns are the simulator's hidden truth and labels
and must never be model inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import polars as pl

from lendstack.sim.flows import REVENUE_COLUMNS

Role = Literal["key", "feature", "protected", "ground_truth", "outcome"]


@dataclass(frozen=True)
class FieldDoc:
    name: str
    dtype: pl.DataType
    source: str  # application, identity, bureau, tax, invoices, pos, supply_chain, telematics, device, declared, truth
    unit: str  # "CNY fen" for money, "share" for 0-1 rates, "count", "months", ...
    role: Role
    nullable: bool
    meaning_en: str
    meaning_zh: str


_S, _I, _F, _D = pl.String(), pl.Int64(), pl.Float64(), pl.Date()
_FEN = "CNY fen"

_ROWS: tuple[tuple[str, pl.DataType, str, str, Role, bool, str, str], ...] = (
    ("application_id", _S, "application", "id", "key", False, "stable id A{seed:04d}-{row:07d}", "申请编号"),
    ("applied_on", _D, "application", "date", "feature", False, "date of the application", "申请日期"),
    (
        "applicant_type",
        _S,
        "application",
        "label",
        "feature",
        False,
        "individual / small_business / sole_proprietor",
        "申请人类型：个人 / 小微企业 / 个体工商户",
    ),
    ("segment", _S, "application", "label", "feature", False, "line of business or work", "行业细分"),
    ("region", _S, "application", "label", "feature", False, "region of China", "地区"),
    (
        "gender",
        _S,
        "declared",
        "label",
        "protected",
        False,
        "female / male; for fairness analysis",
        "性别（用于公平性分析）",
    ),
    ("age", _I, "declared", "years", "feature", False, "age in years, 18-70", "年龄"),
    ("phone_hash", _S, "identity", "hex", "key", False, "hash of the phone number", "手机号哈希"),
    ("device_id", _S, "identity", "hex", "key", False, "device identifier", "设备编号"),
    ("bank_account_hash", _S, "identity", "hex", "key", False, "hash of the bank account", "银行账户哈希"),
    ("address_hash", _S, "identity", "hex", "key", False, "hash of the home or business address", "地址哈希"),
    ("monthly_income_minor", _I, "bureau", _FEN, "feature", True, "monthly personal income", "月收入"),
    ("debt_to_income", _F, "bureau", "ratio", "feature", True, "monthly debt service / monthly income", "负债收入比"),
    ("inquiries_6m", _I, "bureau", "count", "feature", True, "credit inquiries in 6 months", "近6个月查询次数"),
    (
        "open_loans_elsewhere",
        _I,
        "bureau",
        "count",
        "feature",
        True,
        "open loans at other lenders (multi-borrowing)",
        "他行在贷笔数（多头借贷）",
    ),
    (
        "past_delinquencies_24m",
        _I,
        "bureau",
        "count",
        "feature",
        True,
        "delinquencies in 24 months",
        "近24个月逾期次数",
    ),
    ("bureau_score", _I, "bureau", "points 300-950", "feature", True, "bureau credit score", "征信评分"),
    (
        "months_since_oldest_account",
        _I,
        "bureau",
        "months",
        "feature",
        True,
        "length of credit history",
        "信用历史长度（月）",
    ),
    ("annual_tax_paid_minor", _I, "tax", _FEN, "feature", True, "tax paid in 12 months (businesses)", "近12个月纳税额"),
    (
        "tax_filing_months",
        _I,
        "tax",
        "months",
        "feature",
        True,
        "months of tax filing history, capped at 120 (businesses)",
        "纳税申报月数",
    ),
    (
        "invoice_revenue_12m_minor",
        _I,
        "invoices",
        _FEN,
        "feature",
        True,
        "revenue on VAT invoices in 12 months (businesses)",
        "近12个月增值税发票开票金额",
    ),
    (
        "invoice_count_12m",
        _I,
        "invoices",
        "count",
        "feature",
        True,
        "VAT invoices issued in 12 months (businesses)",
        "近12个月开票张数",
    ),
    *(
        (
            name,
            _I,
            "pos",
            _FEN,
            "feature",
            True,
            f"POS / e-commerce / delivery revenue in month {k} of the 12 full months before the application "
            "(m12 is the latest); null for salaried individuals",
            f"申请前第{13 - k}个月的收单/电商/外卖流水",
        )
        for k, name in enumerate(REVENUE_COLUMNS, start=1)
    ),
    ("revenue_mean_12m_minor", _I, "pos", _FEN, "feature", True, "mean monthly POS revenue", "近12个月月均流水"),
    (
        "revenue_volatility",
        _F,
        "pos",
        "ratio",
        "feature",
        True,
        "coefficient of variation of monthly POS revenue",
        "流水波动率（变异系数）",
    ),
    (
        "orders_12m",
        _I,
        "supply_chain",
        "count",
        "feature",
        True,
        "supply-chain orders in 12 months (businesses)",
        "近12个月供应链订单数",
    ),
    (
        "vehicle_value_minor",
        _I,
        "telematics",
        _FEN,
        "feature",
        True,
        "vehicle value (vehicle-backed ride-hailing / logistics loans)",
        "车辆价值",
    ),
    ("mileage_km_30d", _F, "telematics", "km", "feature", True, "distance driven in 30 days", "近30天里程"),
    (
        "night_driving_share",
        _F,
        "telematics",
        "share",
        "feature",
        True,
        "share of driving between 22:00 and 06:00",
        "夜间驾驶占比",
    ),
    (
        "region_exits_30d",
        _I,
        "telematics",
        "count",
        "feature",
        True,
        "times the vehicle left its home region in 30 days",
        "近30天出区域次数",
    ),
    ("device_age_days", _I, "device", "days", "feature", False, "days since the device was first seen", "设备使用天数"),
    ("device_changes_90d", _I, "device", "count", "feature", False, "device changes in 90 days", "近90天换机次数"),
    ("app_sessions_30d", _I, "device", "count", "feature", False, "app sessions in 30 days", "近30天App会话数"),
    (
        "night_edits_share",
        _F,
        "device",
        "share",
        "feature",
        False,
        "share of application edits made between 00:00 and 05:00",
        "深夜修改申请的占比",
    ),
    (
        "gps_distance_km",
        _F,
        "device",
        "km",
        "feature",
        False,
        "distance between the device's location and the declared address",
        "GPS位置与申报地址的距离",
    ),
    (
        "declared_monthly_revenue_minor",
        _I,
        "declared",
        _FEN,
        "feature",
        True,
        "monthly revenue the applicant declares; null for salaried individuals",
        "申报月营业收入",
    ),
    ("requested_amount_minor", _I, "declared", _FEN, "feature", False, "requested loan amount", "申请金额"),
    ("requested_term_months", _I, "declared", "months", "feature", False, "requested term", "申请期限（月）"),
    ("purpose", _S, "declared", "label", "feature", False, "purpose of the loan", "借款用途"),
    (
        "collateral",
        _S,
        "declared",
        "label",
        "feature",
        False,
        "none / vehicle / property / receivables / guarantee",
        "担保方式：无/车辆/房产/应收账款/保证",
    ),
    (
        "latent_z",
        _F,
        "truth",
        "std normal",
        "ground_truth",
        False,
        "hidden creditworthiness (higher is better); never a model input",
        "潜在信用水平（真值，禁止用作特征）",
    ),
    (
        "is_packaged",
        pl.Boolean(),
        "truth",
        "flag",
        "ground_truth",
        False,
        "declared and POS revenue inflated (packaged data)",
        "是否资料包装（真值）",
    ),
    ("ring_id", _S, "truth", "id", "ground_truth", True, "fraud ring, null outside rings", "欺诈团伙编号（真值）"),
    (
        "pd_true",
        _F,
        "truth",
        "probability",
        "ground_truth",
        False,
        "true 12-month probability of default used to draw default_12m",
        "真实违约概率",
    ),
    ("default_12m", _I, "outcome", "0/1", "outcome", False, "1 if 90+ DPD within 12 months", "12个月内逾期90天以上"),
    (
        "months_to_default",
        _I,
        "outcome",
        "month 1-9",
        "outcome",
        True,
        "month of the first missed installment of the spell that reaches 90+ DPD; null without default",
        "违约起始月份（首次未还款月）",
    ),
    (
        "recovery_rate",
        _F,
        "outcome",
        "share",
        "outcome",
        True,
        "share of EAD recovered after default; null without default",
        "违约回收率",
    ),
    (
        "ead_minor",
        _I,
        "outcome",
        _FEN,
        "outcome",
        False,
        "exposure at default: outstanding principal + accrued interest at default, else the commitment",
        "违约风险暴露",
    ),
)

FIELDS: dict[str, FieldDoc] = {row[0]: FieldDoc(*row) for row in _ROWS}
assert len(FIELDS) == len(_ROWS), "duplicate column in the data dictionary"


def schema() -> dict[str, pl.DataType]:
    return {name: doc.dtype for name, doc in FIELDS.items()}
