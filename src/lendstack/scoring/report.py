"""A self-contained HTML model report: the model's version and content hash, the metric table
(AUC with its DeLong 95 % interval), inline SVG charts (ROC, calibration, score distribution, bad
rate by score band, IV per feature) and the same numbers as tables beside them (calibration by
band with the Jeffreys test, the gains/KS table, score bands, IV). No scripts, no external assets."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

_W, _H, _PAD = 420, 260, 36


def _scale(values: Sequence[float], lo: float, hi: float, out_lo: float, out_hi: float) -> list[float]:
    span = (hi - lo) or 1.0
    return [out_lo + (v - lo) / span * (out_hi - out_lo) for v in values]


def _frame(title: str, body: str) -> str:
    return (
        f"<figure><figcaption>{html.escape(title)}</figcaption>"
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" viewBox="0 0 {_W} {_H}">'
        f'<rect x="{_PAD}" y="{_PAD // 2}" width="{_W - 1.5 * _PAD}" height="{_H - 1.5 * _PAD}" '
        f'fill="none" stroke="#999"/>{body}</svg></figure>'
    )


def line_chart(title: str, series: dict[str, tuple[Sequence[float], Sequence[float]]], diagonal: bool = False) -> str:
    """Lines on [0, 1] × [0, max] axes; `series` maps label → (xs, ys)."""
    colours = ["#1f77b4", "#d62728", "#2ca02c"]
    y_max = max([1.0 if diagonal else 0.0] + [max(ys, default=0.0) for _, ys in series.values()]) or 1.0
    x_max = max([1.0] + [max(xs, default=0.0) for xs, _ in series.values()])
    parts = []
    if diagonal:
        parts.append(
            f'<line x1="{_PAD}" y1="{_H - _PAD}" x2="{_W - _PAD / 2}" y2="{_PAD / 2}" stroke="#bbb" '
            'stroke-dasharray="4"/>'
        )
    for index, (label, (xs, ys)) in enumerate(series.items()):
        px = _scale(xs, 0.0, x_max, _PAD, _W - _PAD / 2)
        py = _scale(ys, 0.0, y_max, _H - _PAD, _PAD / 2)
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(px, py, strict=True))
        colour = colours[index % len(colours)]
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>')
        parts.append(
            f'<text x="{_PAD + 8}" y="{_PAD + 14 * index + 4}" fill="{colour}" font-size="11">'
            f"{html.escape(label)}</text>"
        )
    parts.append(
        f'<text x="{_PAD}" y="{_H - 8}" font-size="10">0</text>'
        f'<text x="{_W - _PAD}" y="{_H - 8}" font-size="10">{x_max:.3g}</text>'
        f'<text x="2" y="{_PAD / 2 + 8}" font-size="10">{y_max:.3g}</text>'
    )
    return _frame(title, "".join(parts))


def bar_chart(title: str, labels: Sequence[str], groups: dict[str, Sequence[float]]) -> str:
    """Grouped vertical bars; `groups` maps series label → one value per label."""
    colours = ["#1f77b4", "#d62728"]
    top = max([max(values, default=0.0) for values in groups.values()] + [1e-12])
    slot = (_W - 1.5 * _PAD) / max(len(labels), 1)
    width = slot * 0.8 / max(len(groups), 1)
    parts = []
    for g, (name, values) in enumerate(groups.items()):
        colour = colours[g % len(colours)]
        for i, value in enumerate(values):
            height = value / top * (_H - 1.5 * _PAD)
            x = _PAD + i * slot + slot * 0.1 + g * width
            parts.append(
                f'<rect x="{x:.1f}" y="{_H - _PAD - height:.1f}" width="{width:.1f}" height="{height:.1f}" '
                f'fill="{colour}"><title>{html.escape(labels[i])}: {value:.4g}</title></rect>'
            )
        parts.append(
            f'<text x="{_W - 120}" y="{_PAD + 14 * g}" fill="{colour}" font-size="11">{html.escape(name)}</text>'
        )
    parts.append(f'<text x="2" y="{_PAD / 2 + 8}" font-size="10">{top:.3g}</text>')
    if labels:
        parts.append(
            f'<text x="{_PAD}" y="{_H - 8}" font-size="10">{html.escape(labels[0])}</text>'
            f'<text x="{_W - _PAD * 2}" y="{_H - 8}" font-size="10">{html.escape(labels[-1])}</text>'
        )
    return _frame(title, "".join(parts))


def _metric_rows(metrics: dict[str, Any]) -> str:
    rows = []
    for key, value in metrics.items():
        if isinstance(value, float | int) and not isinstance(value, bool):
            rows.append(f"<tr><th>{html.escape(key)}</th><td>{value:.4f}</td></tr>")
        if key == "auc" and isinstance(metrics.get("auc_ci95"), list):
            lo, hi = metrics["auc_ci95"]
            rows.append(f"<tr><th>auc 95% CI (DeLong)</th><td>[{lo:.4f}, {hi:.4f}]</td></tr>")
    return "<table>" + "".join(rows) + "</table>"


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "FLAG" if value else ""
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, list) and len(value) == 2:
        return f"[{_cell(value[0])}, {_cell(value[1])}]"
    return str(value)


def numeric_table(caption: str, columns: Sequence[tuple[str, str]], rows: Sequence[dict[str, Any]]) -> str:
    """A table of dict rows; `columns` is (key, heading) pairs. Every text escaped."""
    head = "".join(f"<th>{html.escape(heading)}</th>" for _, heading in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(row.get(key)))}</td>" for key, _ in columns) + "</tr>"
                   for row in rows)
    return f"<table><caption>{html.escape(caption)}</caption><tr>{head}</tr>{body}</table>"


def _model_rows(model_info: dict[str, Any] | None) -> str:
    if not model_info:
        return ""
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_cell(v))}</td></tr>"
                   for k, v in model_info.items())
    return f"<h2>Model 模型</h2><table>{rows}</table>"


def _tables(metrics: dict[str, Any]) -> str:
    """The numbers behind the charts."""
    parts = []
    if metrics.get("calibration_bands"):
        parts.append(numeric_table(
            "Calibration by PD decile with the Jeffreys test (flag: PD too low, one-sided p < 0.05) 校准",
            [("band", "band"), ("count", "count"), ("bads", "bads"), ("predicted", "mean PD"),
             ("observed", "observed"), ("jeffreys_ci95", "Jeffreys 95% CI"), ("p_value", "p-value"),
             ("flagged", "flag")], metrics["calibration_bands"]))
    else:
        parts.append(numeric_table("Calibration by PD decile 校准", [
            ("bin", "decile"), ("count", "count"), ("predicted", "mean PD"), ("observed", "observed")],
            metrics["calibration"]))
    if metrics.get("gains"):
        parts.append(numeric_table("Gains / KS table, riskiest decile first 增益表", [
            ("decile", "decile"), ("count", "count"), ("bads", "bads"), ("bad_rate", "bad rate"),
            ("score_min", "score min"), ("score_max", "score max"), ("cum_bads_share", "cum. bads"),
            ("cum_goods_share", "cum. goods"), ("ks", "KS"), ("lift", "lift"), ("cum_lift", "cum. lift")],
            metrics["gains"]))
    parts.append(numeric_table("Bad rate by score band, low score first 分数段坏账率", [
        ("score_min", "score min"), ("score_max", "score max"), ("count", "count"), ("bad_rate", "bad rate")],
        metrics["score_bands"]))
    return "".join(parts)


def render_html(title: str, metrics: dict[str, Any], importance: dict[str, float] | None = None, *,
                model_info: dict[str, Any] | None = None) -> str:
    """The whole report as one HTML string (metrics as returned by `evaluation.evaluate`);
    `model_info` (e.g. version, kind, content_sha256, data_fingerprint) heads the page."""
    charts = [line_chart("ROC curve", {"model": (metrics["roc"]["fpr"], metrics["roc"]["tpr"])}, diagonal=True)]
    calib = metrics["calibration"]
    charts.append(
        line_chart(
            "Calibration: observed vs predicted bad rate (deciles)",
            {
                "observed": ([r["predicted"] for r in calib], [r["observed"] for r in calib]),
                "perfect": ([r["predicted"] for r in calib], [r["predicted"] for r in calib]),
            },
        )
    )
    hist = metrics["score_histogram"]
    labels = [f"{edge:.0f}" for edge in hist["edges"][:-1]]
    charts.append(bar_chart("Score distribution", labels, {"goods": hist["goods"], "bads": hist["bads"]}))
    bands = metrics["score_bands"]
    charts.append(
        bar_chart(
            "Bad rate by score band (low score first)",
            [f"{b['score_min']:.0f}" for b in bands],
            {"bad rate": [b["bad_rate"] for b in bands]},
        )
    )
    if metrics.get("iv"):
        top = sorted(metrics["iv"].items(), key=lambda kv: -kv[1])[:20]
        charts.append(
            bar_chart("Information value per feature (top 20)", [k for k, _ in top], {"IV": [v for _, v in top]})
        )
    if importance:
        top = list(importance.items())[:20]
        charts.append(
            bar_chart(
                "Global importance (mean |impact|, top 20)", [k for k, _ in top], {"importance": [v for _, v in top]}
            )
        )
    iv_rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{v:.4f}</td></tr>"
        for k, v in sorted((metrics.get("iv") or {}).items(), key=lambda kv: -kv[1])
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "figure{display:inline-block;margin:1em}td,th{padding:2px 8px;text-align:left}"
        "caption{text-align:left;font-weight:bold;margin-top:1em}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{_model_rows(model_info)}<h2>Metrics 指标</h2>{_metric_rows(metrics)}"
        f"<h2>Charts 图表</h2>{''.join(charts)}<h2>Tables 数据表</h2>{_tables(metrics)}"
        f"<h2>Information value 信息值</h2><table>{iv_rows}</table></body></html>"
    )
