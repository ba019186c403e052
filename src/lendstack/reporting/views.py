"""The charts of each report, built from its data dict (the templates lay out tables and text).

Every function takes the report's data and returns {name: svg figure markup}; a chart with no
data is simply absent, and the template shows its table (or a "no data" line) instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lendstack.reporting.charts import LABELS_MAX, SERIES_MAX, bar_chart, heatmap, line_chart

Charts = dict[str, str]
TOP_FEATURES = 20


def portfolio(data: dict[str, Any]) -> Charts:
    charts: Charts = {}
    for currency in sorted({r["currency"] for r in data.get("by_bucket", [])}):
        for key, title in (("dpd_distribution", "DPD bands · 逾期天数分布"), ("by_bucket", "Buckets · 账龄分布"),
                           ("by_class", "Five-tier class · 五级分类")):
            rows = [r for r in data[key] if r["currency"] == currency]
            if rows:
                charts[f"{key}_{currency}"] = bar_chart(
                    f"{title} ({currency}, share of principal)", [_tier(r) for r in rows],
                    {"principal share": [float(r["share"]) for r in rows]})
    vintages = data.get("vintages") or []
    if vintages:
        charts["vintages"] = _vintage_chart(vintages)
    roll = data.get("roll_rates")
    if roll and any(sum(r) for r in roll["counts"]):
        charts["roll_rates"] = heatmap(f"Roll rates · 迁徙率 {roll['start']} → {roll['end']}", roll["from"],
                                       roll["to"], roll["shares"], roll["counts"])
    return charts


def _tier(row: dict[str, Any]) -> str:
    return f"{row['name']} {row['name_zh']}" if "name_zh" in row else str(row["name"])


def _vintage_chart(rows: list[dict[str, Any]]) -> str:
    mobs = sorted({int(r["mob"]) for r in rows})
    names = sorted({str(r["vintage"]) for r in rows})[-SERIES_MAX:]  # the newest vintages
    series: dict[str, list[float | None]] = {name: [None] * len(mobs) for name in names}
    for r in rows:
        if r["vintage"] in series:
            series[r["vintage"]][mobs.index(int(r["mob"]))] = float(r["ever_dpd30_share"])
    return line_chart("Vintages: ever 30+ DPD share by months on book · 账龄曲线 (MOB)", [str(m) for m in mobs], series)


def models(data: dict[str, Any]) -> Charts:
    charts: Charts = {}
    drift = data.get("drift") or {}
    features = (drift.get("features") or [])[:TOP_FEATURES]
    if features:
        charts["csi"] = bar_chart("Characteristic stability (CSI), worst first · 特征稳定性",
                                  [f["column"] for f in features], {"CSI": [float(f["index"]) for f in features]})
    score = drift.get("score")
    if score:
        labels = [f"bin {i + 1}" for i in range(len(score["current_shares"]))]
        charts["psi"] = bar_chart("Score distribution: development vs recent · 评分分布 (PSI)", labels,
                                  {"development": score["development_shares"], "recent": score["current_shares"]})
    calibration = (data.get("realized") or {}).get("calibration") or []
    if calibration:
        charts["calibration"] = line_chart(
            "Calibration on matured loans · 校准 (observed vs predicted, by decile)",
            [f"{r['predicted']:.3f}" for r in calibration],
            {"observed": [float(r["observed"]) for r in calibration],
             "predicted": [float(r["predicted"]) for r in calibration]})
    arms = data.get("arms") or []
    if arms:
        labels = [f"{a['arm']} {a['model_version']}" for a in arms][:LABELS_MAX]
        charts["arms"] = bar_chart("Champion / challenger · 冠军/挑战者: approval and bad rate", labels, {
            "approval rate": [float(a["approval_rate"]) for a in arms][:LABELS_MAX],
            "bad rate (matured)": [float(a["bad_rate"] or 0.0) for a in arms][:LABELS_MAX]})
    return charts


def fairness(data: dict[str, Any]) -> Charts:
    report = data.get("audit")
    if not report:
        return {}
    return fairness_charts(report)


def fairness_charts(report: dict[str, Any]) -> Charts:
    groups = report["groups"][:LABELS_MAX]
    labels = [str(g["group"]) for g in groups]
    charts = {"approval": bar_chart("Approval rate by group · 各组批准率", labels,
                                    {"approval rate": [float(g["approval_rate"]) for g in groups]})}
    if any(g.get("bad_rate_approved") is not None for g in groups):
        charts["bad_rate"] = bar_chart("Bad rate of approved (matured) by group · 各组坏账率", labels,
                                       {"bad rate": [float(g.get("bad_rate_approved") or 0.0) for g in groups]})
    return charts


def stress(data: dict[str, Any]) -> Charts:
    """Monthly and cumulative losses by scenario, one chart pair per currency."""
    scenarios = (data.get("scenarios") or [])[:SERIES_MAX]
    charts: Charts = {}
    for currency in data.get("currencies") or []:
        months = sorted({str(m["month"]) for s in scenarios for m in s["months"] if m["currency"] == currency})
        if not months:
            continue
        for key, title in (("default_rate", "Default rate by month · 月度违约率"),
                           ("cumulative_losses_minor", "Cumulative losses · 累计损失")):
            series = {s["name"]: _aligned([m for m in s["months"] if m["currency"] == currency], months, key)
                      for s in scenarios}
            charts[f"{key}_{currency}"] = line_chart(f"{title} ({currency})", months, series)
    return charts


def _aligned(rows: list[dict[str, Any]], months: list[str], key: str) -> list[float | None]:
    by_month = {str(r["month"]): r.get(key) for r in rows}
    return [None if (v := by_month.get(m)) is None else float(v) for m in months]


def audit(data: dict[str, Any]) -> Charts:
    charts: Charts = {}
    fairness_part = (data.get("fairness") or {}).get("audit")
    if fairness_part:
        charts |= {f"fairness_{k}": v for k, v in fairness_charts(fairness_part).items()}
    drift = data.get("drift") or {}
    if drift.get("features"):
        charts |= {"csi": models({"drift": drift})["csi"]}
    calls = (data.get("security") or {}).get("calls") or {}
    if calls.get("by_role"):
        roles = list(calls["by_role"])[:LABELS_MAX]
        charts["calls_by_role"] = bar_chart("Audited calls by role · 按角色的审计记录",
                                            roles, {"calls": [float(calls["by_role"][r]) for r in roles]})
    return charts


VIEWS: dict[str, Callable[[dict[str, Any]], Charts]] = {
    "portfolio": portfolio, "models": models, "fairness": fairness, "stress": stress, "audit": audit,
}
