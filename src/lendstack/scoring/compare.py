"""Champion / challenger comparison of two PD models on the same labelled rows.

- Discrimination: each model's AUC with its DeLong 95 % interval, and the difference A − B with
  its paired DeLong interval and two-sided p-value (the same rows, so the two AUCs are
  correlated and the paired test is far sharper than comparing two separate intervals).
- Swap sets at a cut-off: who is approved by A and declined by B, and the reverse, with both-
  approve and both-decline; counts, bads and realised bad rates with Wilson 95 % intervals. The
  cut-off is an approval rate (each model approves its own lowest-PD share of the rows) or a PD
  (approve when PD ≤ the cut-off).
- Calibration side by side: by decile of each model's own PD, the mean PD against the observed
  bad rate, with the Jeffreys test per decile.

The realised bad rates are those of the labelled file: rows a model would have declined have
outcomes only because the file holds them (reject inference is out of scope).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from lendstack.scoring import evaluation
from lendstack.scoring.credit_model import CreditModel, data_fingerprint
from lendstack.scoring.errors import DataError
from lendstack.scoring.features import as_polars, encode_target

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
DEFAULT_APPROVAL_RATE = 0.7


@dataclass(frozen=True)
class Contender:
    """A model and how the comparison names it (its path or version) and its content hash."""

    label: str
    credit: CreditModel
    content_sha256: str = ""


def require_features(frame: pl.DataFrame, contender: Contender) -> None:
    """Every feature the model reads must be a column of the data (DataError names the first missing)."""
    missing = [name for name in contender.credit.spec.names if name not in frame.columns]
    if missing:
        raise DataError(missing[0], f"feature of model {contender.label} missing from the data"
                        + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))


def approvals(pd: FloatArray, approval_rate: float | None, cutoff: float | None) -> BoolArray:
    """Which rows a model approves: its lowest-PD `approval_rate` share (ties broken by row order,
    so exactly round(rate · n) rows), or every row with PD ≤ `cutoff`."""
    assert (approval_rate is None) != (cutoff is None), "exactly one of approval_rate and cutoff"
    if cutoff is not None:
        assert 0.0 <= cutoff <= 1.0, cutoff
        return np.asarray(pd <= cutoff)
    assert approval_rate is not None and 0.0 <= approval_rate <= 1.0, approval_rate
    approved = np.zeros(pd.size, dtype=bool)
    approved[np.argsort(pd, kind="stable")[: round(approval_rate * pd.size)]] = True
    return approved


def swap_sets(y: npt.NDArray[np.int8], approved_a: BoolArray, approved_b: BoolArray) -> list[dict[str, Any]]:
    """The four cells of A's and B's decisions with their realised bad rates (Wilson 95 %)."""
    cells = (("both_approve", approved_a & approved_b), ("a_only", approved_a & ~approved_b),
             ("b_only", ~approved_a & approved_b), ("both_decline", ~approved_a & ~approved_b))
    rows = []
    for name, mask in cells:
        count, bads = int(mask.sum()), int(y[mask].sum())
        rows.append({"set": name, "count": count, "bads": bads, "bad_rate": bads / count if count else None,
                     "bad_rate_ci95": evaluation.wilson(bads, count)})
    return rows


def _model_summary(contender: Contender, y: npt.NDArray[np.int8], pd: FloatArray,
                   approved: BoolArray) -> dict[str, Any]:
    value, lo, hi = evaluation.auc_ci(y, pd)
    approved_bads = int(y[approved].sum())
    return {"label": contender.label, "kind": contender.credit.kind, "content_sha256": contender.content_sha256,
            "features": len(contender.credit.spec.names), "auc": value, "auc_ci95": [lo, hi],
            "gini": 2 * value - 1, "ks": evaluation.ks(y, pd), "brier": evaluation.brier(y, pd),
            "ece": evaluation.ece(y, pd), "mean_pd": float(pd.mean()), "approved": int(approved.sum()),
            "approved_bad_rate": approved_bads / int(approved.sum()) if approved.any() else None,
            "approved_bad_rate_ci95": evaluation.wilson(approved_bads, int(approved.sum()))}


def _side_by_side(y: npt.NDArray[np.int8], pd_a: FloatArray, pd_b: FloatArray) -> list[dict[str, Any]]:
    keep = ("count", "bads", "predicted", "observed", "p_value", "flagged")
    rows = []
    for a, b in zip(evaluation.calibration_bands(y, pd_a), evaluation.calibration_bands(y, pd_b), strict=True):
        rows.append({"decile": int(a["band"]), **{f"a_{k}": a[k] for k in keep}, **{f"b_{k}": b[k] for k in keep}})
    return rows


def compare_models(
    a: Contender, b: Contender, data: Any, target: str, bad_value: str | None = None, *,
    approval_rate: float | None = None, cutoff: float | None = None,
) -> dict[str, Any]:
    """The whole comparison as one JSON-ready dict (see the module docstring)."""
    if approval_rate is not None and cutoff is not None:
        raise DataError("cutoff", "give an approval rate or a PD cut-off, not both")
    if approval_rate is not None and not 0.0 < approval_rate < 1.0:
        raise DataError("approval-rate", f"must be between 0 and 1 (exclusive), not {approval_rate}")
    if cutoff is not None and not 0.0 < cutoff < 1.0:
        raise DataError("cutoff", f"a PD cut-off must be between 0 and 1 (exclusive), not {cutoff}")
    rate = DEFAULT_APPROVAL_RATE if approval_rate is None and cutoff is None else approval_rate
    frame = as_polars(data)
    if target not in frame.columns:
        raise DataError(target, "target column not found")
    for contender in (a, b):
        require_features(frame, contender)
    y = encode_target(frame.get_column(target), _bad_value(a, b, bad_value), min_bads=1)
    pd_a, pd_b = a.credit.predict_pd(frame), b.credit.predict_pd(frame)
    approved_a, approved_b = approvals(pd_a, rate, cutoff), approvals(pd_b, rate, cutoff)
    return {
        "rows": int(y.size), "bads": int(y.sum()), "bad_rate": float(y.mean()), "target": target,
        "cutoff": {"approval_rate": rate, "pd": cutoff},
        "a": _model_summary(a, y, pd_a, approved_a), "b": _model_summary(b, y, pd_b, approved_b),
        "auc_difference": evaluation.paired_auc_difference(y, pd_a, pd_b),
        "swap_sets": swap_sets(y, approved_a, approved_b),
        "calibration": _side_by_side(y, pd_a, pd_b),
        "note": "bad rates are realised on the labelled rows; declined applicants' outcomes exist only because "
                "the file holds them (reject inference is out of scope)",
        "warnings": _in_sample_warnings(frame, a, b),
    }


def _in_sample_warnings(frame: pl.DataFrame, a: Contender, b: Contender) -> list[str]:
    """A comparison on a model's own training file flatters that model: say so."""
    fingerprint = data_fingerprint(frame)
    return [f"{side}: this file is the model's training data (same fingerprint): its metrics are in-sample and "
            f"optimistic; compare on a hold-out / {side}：该文件即模型的训练数据，指标为样本内结果，偏乐观"
            for side, contender in (("A", a), ("B", b)) if contender.credit.data_fingerprint == fingerprint]


def _bad_value(a: Contender, b: Contender, given: str | None) -> str | None:
    """The bad value: as given, else the models' own (which must agree)."""
    if given is not None:
        return given
    if a.credit.bad_value != b.credit.bad_value:
        raise DataError("bad-value", f"the models were trained with different bad values "
                                     f"({a.credit.bad_value!r} and {b.credit.bad_value!r}); give --bad-value")
    return a.credit.bad_value


# --------------------------------------------------------------------------- rendering

_SETS = {"both_approve": "approved by both 双方批准", "a_only": "approved by A only, declined by B 仅A批准",
         "b_only": "approved by B only, declined by A 仅B批准", "both_decline": "declined by both 双方拒绝"}


def _num(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{float(value):.{digits}f}"


def _interval(pair: list[float]) -> str:
    return f"[{pair[0]:.4f}, {pair[1]:.4f}]"


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render_html(result: dict[str, Any], title: str = "Model comparison · 模型对比") -> str:
    """A self-contained HTML page of the comparison: tables only, escaped, no scripts."""
    a, b, diff = result["a"], result["b"], result["auc_difference"]
    models = _table(["", "model 模型", "kind", "sha256", "AUC", "AUC 95% CI", "KS", "Brier", "ECE", "approved 批准",
                     "approved bad rate 批准坏账率", "95% CI"],
                    [[side, m["label"], m["kind"], m["content_sha256"][:12], _num(m["auc"]), _interval(m["auc_ci95"]),
                      _num(m["ks"]), _num(m["brier"]), _num(m["ece"]), _num(m["approved"]),
                      _num(m["approved_bad_rate"]), _interval(m["approved_bad_rate_ci95"])]
                     for side, m in (("A", a), ("B", b))])
    swaps = _table(["set 集合", "count 数量", "bads 坏", "bad rate 坏账率", "95% CI (Wilson)"],
                   [[_SETS[s["set"]], _num(s["count"]), _num(s["bads"]), _num(s["bad_rate"]),
                     _interval(s["bad_rate_ci95"])] for s in result["swap_sets"]])
    calib = _table(["decile 十分位", "A mean PD", "A observed", "A Jeffreys p", "B mean PD", "B observed",
                    "B Jeffreys p"],
                   [[str(r["decile"]), _num(r["a_predicted"]), _num(r["a_observed"]), _num(r["a_p_value"]),
                     _num(r["b_predicted"]), _num(r["b_observed"]), _num(r["b_p_value"])]
                    for r in result["calibration"]])
    cut = result["cutoff"]
    cut_text = f"approval rate {cut['approval_rate']:.0%}" if cut["pd"] is None else f"PD ≤ {cut['pd']}"
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "td,th{padding:2px 8px;text-align:left;border-bottom:1px solid #ddd}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p>{_num(result['rows'])} rows, {_num(result['bads'])} bads, target {html.escape(result['target'])}</p>"
        f"<h2>Discrimination · 区分能力</h2>{models}"
        f"<p>AUC difference A − B 差异: <b>{_num(diff['difference'])}</b>, paired DeLong 95% CI "
        f"{_interval(diff['ci95'])}, p = {_num(diff['p_value'])}</p>"
        f"<h2>Swap sets at {html.escape(cut_text)} · 换入换出</h2>{swaps}"
        f"<h2>Calibration by PD decile · 分组校准</h2>{calib}"
        f"<p>{html.escape(result['note'])}</p></body></html>"
    )
