"""The data dictionary: one `FieldDoc` per column of `generate_applications`, in column order.

The application's columns come from the application schema (`lendstack.origination.schema.FIELDS`,
where each is declared once); the simulator adds only its hidden truth and outcomes, declared here.

`role` tells downstream code what a column may be used for: `feature` columns are what a lender
observes at application time; `key` columns identify; `protected` columns (gender) are kept only
for fairness audits and must never be model inputs or policy terms (scoring on sex is
discrimination); `ground_truth` and `outcome` columns are the simulator's hidden truth and labels
and must never be model inputs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import polars as pl

from lendstack.invariants import check
from lendstack.origination.schema import FIELDS as APPLICATION_FIELDS
from lendstack.origination.schema import FieldSpec, Kind

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
    name_en: str = ""  # a short English name for a sentence, when `meaning_en` is a formula or a list


_S, _I, _F = pl.String(), pl.Int64(), pl.Float64()
_FEN = "CNY fen"
DTYPES: dict[Kind, pl.DataType] = {"int": _I, "float": _F, "str": _S, "enum": _S, "bool": pl.Boolean(),
                                   "date": pl.Date()}


def field_docs(specs: Iterable[FieldSpec]) -> dict[str, FieldDoc]:
    """The simulator's column documentation of application fields, from the schema."""
    return {
        spec.name: FieldDoc(spec.name, DTYPES[spec.kind], spec.source, spec.unit, spec.role, spec.nullable,
                            spec.meaning_en, spec.meaning_zh, spec.name_en)
        for spec in specs
    }


# The simulator's own columns: its hidden truth and the outcomes it draws (never in an application).
_ROWS: tuple[tuple[str, pl.DataType, str, str, Role, bool, str, str], ...] = (
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

FIELDS: dict[str, FieldDoc] = {**field_docs(APPLICATION_FIELDS), **{row[0]: FieldDoc(*row) for row in _ROWS}}
check(len(FIELDS) == len(APPLICATION_FIELDS) + len(_ROWS), "a simulator column is also an application field")


def schema() -> dict[str, pl.DataType]:
    return {name: doc.dtype for name, doc in FIELDS.items()}
