"""The model card: what a model-risk reviewer reads before a model goes live (SR 11-7 style), as
Markdown and as self-contained HTML (every text escaped, no scripts, no external assets).

`card_data` gathers the facts from a loaded `CreditModel` and its manifest: purpose, target and
bad value, data lineage, features and exclusions, parameters, held-out performance with
intervals, calibration by band with the Jeffreys test, fairness and proxies, stability,
limitations, version and content hash. Artifacts written before the audit existed lack some of
these: the card says "not recorded" rather than guessing. `card_sections` turns the facts into
headed blocks (English with Chinese alongside) that `render_markdown` and `render_html` print.
"""

from __future__ import annotations

import html
import json
from typing import Any

from lendstack.scoring.credit_model import CreditModel

NOT_RECORDED = "not recorded 未记录"
REJECT_INFERENCE = ("Reject inference: out of scope — the model learns from approved, matured loans only. "
                    "拒绝推断不在范围内：模型仅从已批准且已到期的贷款中学习。")
HEADLINE = ("auc", "gini", "ks", "brier", "ece", "psi", "rows", "bad_rate", "mean_pd", "auc_train")
BADS_FEW = 100  # fewer held-out bads than this: the interval is wide, said under limitations
TABLE_ROWS_MAX = 200  # a table in the card shows at most this many rows (features, groups)

Block = tuple[str, Any]  # ("pairs", [(k, v)]) | ("table", (header, rows)) | ("text", str) | ("list", [str])


# --------------------------------------------------------------------------- facts


def card_data(credit: CreditModel, manifest: dict[str, Any], purpose: str | None = None) -> dict[str, Any]:
    """Every fact of the card as one JSON-ready dict (missing audit keys are None)."""
    audit: dict[str, Any] = dict(getattr(credit, "audit", None) or {})
    metrics = credit.metrics or {}
    target = audit.get("target") or {}
    facts = {
        "model": {"version": manifest.get("version"), "kind": credit.kind,
                  "content_sha256": manifest.get("content_sha256"), "created_at": manifest.get("created_at"),
                  "feature_spec_version": manifest.get("feature_spec_version")},
        "purpose": purpose or default_purpose(credit),
        "target": {"column": target.get("column", credit.target),
                   "bad_value": target.get("bad_value", credit.bad_value),
                   "bad_rate": target.get("bad_rate"), "rows": target.get("rows"), "how": target.get("how")},
        "data": {"fingerprint": (audit.get("data") or {}).get("fingerprint") or credit.data_fingerprint or None,
                 "rows": (audit.get("data") or {}).get("rows"), "columns": (audit.get("data") or {}).get("columns"),
                 "period": (audit.get("data") or {}).get("period")},
        "split": audit.get("split") or {"kind": None, "test_fraction": credit.params.get("test_fraction"),
                                        "seed": credit.params.get("seed")},
        "features": [{"name": name, "iv": (metrics.get("iv") or {}).get(name),
                      "monotone": (audit.get("monotone") or credit.params.get("monotone") or {}).get(name)}
                     for name in credit.spec.names],
        "excluded": audit.get("excluded"),
        "protected": audit.get("protected"),
        "leak_check": audit.get("leak_check"),
        "parameters": credit.params,
        "performance": {key: metrics.get(key) for key in (*HEADLINE, "auc_ci95")},
        "gains": metrics.get("gains"),
        "calibration": metrics.get("calibration_bands"),
        "calibration_deciles": metrics.get("calibration"),
        "fairness": audit.get("fairness"),
        "proxies": audit.get("proxies"),
        "stability": {"psi": metrics.get("psi"), "dev_score_edges": credit.dev_score_edges,
                      "dev_score_shares": credit.dev_score_shares},
        "limitations": limitations(credit, audit),
        "reject_inference": REJECT_INFERENCE,
    }
    # JSON-ready: estimator parameters may hold values JSON has no type for; they print as text.
    document: dict[str, Any] = json.loads(json.dumps(facts, default=str))
    return document


def default_purpose(credit: CreditModel) -> str:
    bad = "" if credit.bad_value is None else f" ({credit.target} = {credit.bad_value})"
    return (f"Estimate each applicant's probability of becoming bad{bad} at application time, to rank and "
            f"decide credit applications (approve / refer / decline, price, limit) under the credit policy. "
            f"在申请时估计申请人违约（{credit.target}）的概率，用于在信贷政策下对申请进行排序和决策。")


def limitations(credit: CreditModel, audit: dict[str, Any]) -> list[str]:
    """What a reader must keep in mind, from the facts (the reject-inference scope is always last)."""
    metrics = credit.metrics or {}
    notes = []
    rows, bad_rate = metrics.get("rows"), metrics.get("bad_rate")
    if isinstance(rows, int | float) and isinstance(bad_rate, int | float) and rows * bad_rate < BADS_FEW:
        notes.append(f"Few held-out bads ({rows * bad_rate:.0f} < {BADS_FEW}): the intervals are wide. "
                     f"验证集坏样本少，区间较宽。")
    if metrics.get("calibration_flagged"):
        notes.append("Calibration bands where the PD looks too low (Jeffreys p < 0.05): "
                     f"{', '.join(str(b) for b in metrics['calibration_flagged'])}. 这些分组的预测违约率可能偏低。")
    if (audit.get("split") or {}).get("kind") != "out_of_time":
        notes.append("Validated on a random split of the same period, not out of time: performance on later "
                     "applications may be lower. 未做跨时间验证。")
    allowed = [p["column"] for p in audit.get("protected") or [] if p.get("allowed")]
    if allowed:
        notes.append(f"Protected attributes allowed as features (recorded in the audit): {', '.join(allowed)}. "
                     "受保护属性被允许作为特征。")
    warned = (audit.get("leak_check") or {}).get("warned") or []
    if warned:
        notes.append(f"Features close to the leak threshold (check they are known at application time): "
                     f"{', '.join(warned)}. 接近泄漏阈值的特征。")
    if not audit:
        notes.append("Trained before the training audit was recorded: exclusions, fairness and lineage are "
                     "not recorded. 训练审计信息未记录。")
    notes.append("The PD is calibrated to the training population; a shift in applicants or policy needs "
                 "monitoring (PSI, realized performance). 人群或政策变化需要监控。")
    return [*notes, REJECT_INFERENCE]


# --------------------------------------------------------------------------- sections


def _fmt(value: Any, digits: int = 4, missing: str = NOT_RECORDED) -> str:
    """A value as text; None is `missing` ("not recorded" for facts an old artifact lacks, "–" for
    a value that is recorded as absent, such as an option not used or an AUC not computed)."""
    if value is None:
        return missing
    if isinstance(value, bool):
        return "yes 是" if value else "no 否"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, list | tuple) and len(value) == 2 and all(isinstance(v, int | float) for v in value):
        return f"[{_fmt(value[0], digits)}, {_fmt(value[1], digits)}]"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) if value else "–"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return str(value)


def card_sections(data: dict[str, Any]) -> list[tuple[str, list[Block]]]:
    """(heading, blocks) in reading order."""
    return [
        ("Model 模型", [("pairs", [(k, data["model"][k]) for k in data["model"]])]),
        ("Purpose 用途", [("text", data["purpose"])]),
        ("Target 目标变量", [("pairs", [("column 列", data["target"]["column"]),
                                       ("bad value 坏值", data["target"]["bad_value"]),
                                       ("bad rate 坏账率 (all rows)", data["target"]["bad_rate"]),
                                       ("rows 行数", data["target"]["rows"]),
                                       ("how the bad value was chosen 坏值的确定方式", data["target"]["how"])])]),
        ("Data lineage 数据来源", [("pairs", [("fingerprint 指纹 (sha256)", data["data"]["fingerprint"]),
                                            ("rows 行数", data["data"]["rows"]),
                                            ("columns 列数", data["data"]["columns"]),
                                            ("period 期间", data["data"]["period"])]),
                                 ("pairs", [(f"split {k}", v) for k, v in data["split"].items()])]),
        ("Features 特征", _features_blocks(data)),
        ("Exclusions 排除的列", _exclusion_blocks(data)),
        ("Parameters 参数", [("pairs", _flat_pairs(data["parameters"]))]),
        ("Performance (held-out) 验证集表现", _performance_blocks(data)),
        ("Calibration 校准", _calibration_blocks(data)),
        ("Fairness and proxies 公平性与代理变量", _fairness_blocks(data)),
        ("Stability 稳定性", [("pairs", [("PSI (development vs held-out 开发样本对验证集)",
                                          data["stability"]["psi"])])]),
        ("Limitations 局限性", [("list", data["limitations"])]),
        ("Version and hash 版本与哈希", [("pairs", [("version 版本", data["model"]["version"]),
                                                  ("content sha256 内容哈希", data["model"]["content_sha256"]),
                                                  ("created 创建时间", data["model"]["created_at"])])]),
    ]


def _flat_pairs(params: dict[str, Any]) -> list[tuple[str, Any]]:
    """Parameters as (name, text): None is an option not used ("–"), not a missing record."""
    pairs: list[tuple[str, Any]] = []
    for key, value in sorted(params.items()):
        if isinstance(value, dict) and key == "estimator":
            pairs += [(f"estimator.{k}", _fmt(v, missing="–")) for k, v in sorted(value.items())]
        else:
            pairs.append((key, _fmt(value, missing="–")))
    return pairs


def _features_blocks(data: dict[str, Any]) -> list[Block]:
    rows = [[f["name"], _fmt(f["iv"]), {1: "+1 (PD rises)", -1: "−1 (PD falls)"}.get(f["monotone"] or 0, "–")]
            for f in data["features"][:TABLE_ROWS_MAX]]
    return [("text", f"{len(data['features'])} features 个特征"),
            ("table", (["feature 特征", "IV (held-out)", "monotone 单调约束"], rows))]


def _exclusion_blocks(data: dict[str, Any]) -> list[Block]:
    blocks: list[Block] = []
    if data["excluded"] is None:
        blocks.append(("text", f"Excluded columns: {NOT_RECORDED}"))
    elif data["excluded"]:
        blocks.append(("table", (["column 列", "category 类别", "reason 原因"],
                                 [[e.get("column", ""), e.get("category", ""), e.get("reason", "")]
                                  for e in data["excluded"][:TABLE_ROWS_MAX]])))
    else:
        blocks.append(("text", "No column was excluded. 没有排除任何列。"))
    if data["protected"] is None:
        blocks.append(("text", f"Protected attributes: {NOT_RECORDED}"))
    else:
        blocks.append(("table", (["protected column 受保护列", "attribute 属性", "detected by 检测方式",
                                  "allowed as feature 允许作为特征"],
                                 [[p.get("column", ""), p.get("attribute", ""), p.get("detected_by", ""),
                                   _fmt(p.get("allowed"))] for p in data["protected"]] or [["none 无", "", "", ""]])))
    leak = data["leak_check"]
    if leak is None:
        blocks.append(("text", f"Leak check: {NOT_RECORDED}"))
    else:
        top = sorted((leak.get("aucs") or {}).items(), key=lambda kv: -kv[1])[:5]
        blocks.append(("pairs", [("leak check threshold 泄漏阈值 (max(AUC, 1−AUC))", leak.get("threshold")),
                                 ("warned from 警告起点", leak.get("warn_from")),
                                 ("warned 警告", leak.get("warned") or []),
                                 ("highest single-feature AUC 单特征最高AUC",
                                  ", ".join(f"{k} {v:.3f}" for k, v in top) or "–")]))
    return blocks


def _performance_blocks(data: dict[str, Any]) -> list[Block]:
    perf = data["performance"]
    pairs = [("AUC", perf["auc"]), ("AUC 95% CI (DeLong)", perf["auc_ci95"]), ("Gini", perf["gini"]),
             ("KS", perf["ks"]), ("Brier", perf["brier"]), ("ECE", perf["ece"]), ("rows 行数", perf["rows"]),
             ("bad rate 坏账率", perf["bad_rate"]), ("mean PD 平均PD", perf["mean_pd"]),
             ("AUC on training rows 训练集AUC", perf["auc_train"])]
    blocks: list[Block] = [("pairs", pairs)]
    if data["gains"]:
        blocks.append(("text", "Gains / KS table by score decile, riskiest first 按分数十分位的增益表（高风险在前）"))
        blocks.append(("table", (["decile", "count", "bads", "bad rate", "score range", "cum. bads", "cum. goods",
                                  "KS", "lift"],
                                 [[str(g["decile"]), _fmt(g["count"]), _fmt(g["bads"]), _fmt(g["bad_rate"]),
                                   f"{g['score_min']:.0f}–{g['score_max']:.0f}", _fmt(g["cum_bads_share"]),
                                   _fmt(g["cum_goods_share"]), _fmt(g["ks"]), _fmt(g["lift"], 2)]
                                  for g in data["gains"]])))
    else:
        blocks.append(("text", f"Gains table: {NOT_RECORDED}"))
    return blocks


def _calibration_blocks(data: dict[str, Any]) -> list[Block]:
    if data["calibration"]:
        return [("text", "By decile of PD, with the Jeffreys test (flagged: the PD is too low, one-sided p < 0.05) "
                         "按PD十分位，Jeffreys检验（标记：预测违约率偏低）"),
                ("table", (["band", "count", "bads", "mean PD", "observed", "Jeffreys 95% CI", "p-value", "flagged"],
                           [[str(r["band"]), _fmt(r["count"]), _fmt(r["bads"]), _fmt(r["predicted"]),
                             _fmt(r["observed"]), _fmt(r["jeffreys_ci95"]), _fmt(r["p_value"]),
                             "FLAG 标记" if r["flagged"] else ""] for r in data["calibration"]]))]
    if data["calibration_deciles"]:
        return [("text", f"Jeffreys test: {NOT_RECORDED}"),
                ("table", (["decile", "count", "mean PD", "observed"],
                           [[_fmt(int(r["bin"])), _fmt(int(r["count"])), _fmt(r["predicted"]), _fmt(r["observed"])]
                            for r in data["calibration_deciles"]]))]
    return [("text", NOT_RECORDED)]


def _fairness_blocks(data: dict[str, Any]) -> list[Block]:
    blocks: list[Block] = []
    fairness, proxies = data["fairness"], data["proxies"]
    if fairness is None:
        blocks.append(("text", f"Fairness audit: {NOT_RECORDED}"))
    elif not fairness:
        blocks.append(("text", "No protected attribute in the data to audit. 数据中没有可审计的受保护属性。"))
    for column, report in (fairness or {}).items():
        blocks.append(("text", f"{column}: held-out fairness audit 验证集公平性审计 — "
                               f"{_fmt((report.get('reference_cutoff') or {}).get('rule'))}; flagged (four fifths) "
                               f"四分之五规则标记: {_fmt(report.get('flagged_groups') or [])}"))
        groups = report.get("groups") or []
        keys = ["group", "rows", "bad_rate", "mean_pd", "auc", "approval_rate", "adverse_impact_ratio",
                "four_fifths_flag"]
        blocks.append(("table", (keys, [[_fmt(g.get(k), missing="–") for k in keys]
                                        for g in groups[:TABLE_ROWS_MAX]])))
    if proxies is None:
        blocks.append(("text", f"Proxy analysis: {NOT_RECORDED}"))
    elif proxies:
        found_rows = sorted(((column, p) for column, found in proxies.items() for p in found),
                            key=lambda item: (not item[1].get("flagged"), -float(item[1].get("value") or 0.0)))
        rows = [[column, p.get("feature", ""), p.get("measure", ""), _fmt(p.get("value"), missing="–"),
                 "FLAG 标记" if p.get("flagged") else ""] for column, p in found_rows]
        blocks.append(("text", "Proxies: each feature's association with each protected attribute 代理变量分析"))
        blocks.append(("table", (["protected 受保护列", "feature 特征", "measure", "value", "flagged"],
                                 rows[:TABLE_ROWS_MAX])))
    return blocks


# --------------------------------------------------------------------------- rendering


def _md_cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def render_markdown(data: dict[str, Any]) -> str:
    lines = [f"# Model card 模型卡: {data['model']['kind']} model for {data['target']['column']}", ""]
    for heading, blocks in card_sections(data):
        lines += [f"## {heading}", ""]
        for kind, body in blocks:
            if kind == "pairs":
                lines += [f"- **{_md_cell(k)}**: {_md_cell(_fmt(v))}" for k, v in body]
            elif kind == "table":
                header, rows = body
                lines.append("| " + " | ".join(_md_cell(h) for h in header) + " |")
                lines.append("|" + "---|" * len(header))
                lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
            elif kind == "list":
                lines += [f"- {_md_cell(item)}" for item in body]
            else:
                lines.append(_md_cell(body))
            lines.append("")
    return "\n".join(lines)


def render_html(data: dict[str, Any]) -> str:
    """The card as one self-contained HTML page (escaped text, no scripts, no external assets)."""
    esc = html.escape
    title = f"Model card 模型卡: {data['model']['kind']} model for {data['target']['column']}"
    parts = []
    for heading, blocks in card_sections(data):
        parts.append(f"<h2>{esc(heading)}</h2>")
        for kind, body in blocks:
            if kind == "pairs":
                parts.append("<table>" + "".join(f"<tr><th>{esc(str(k))}</th><td>{esc(_fmt(v))}</td></tr>"
                                                 for k, v in body) + "</table>")
            elif kind == "table":
                header, rows = body
                parts.append("<table><tr>" + "".join(f"<th>{esc(str(h))}</th>" for h in header) + "</tr>"
                             + "".join("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in row) + "</tr>"
                                       for row in rows) + "</table>")
            elif kind == "list":
                parts.append("<ul>" + "".join(f"<li>{esc(str(item))}</li>" for item in body) + "</ul>")
            else:
                parts.append(f"<p>{esc(str(body))}</p>")
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{esc(title)}</title><style>body{{font-family:sans-serif;margin:2em;max-width:70em}}"
            "td,th{padding:2px 8px;text-align:left;border-bottom:1px solid #ddd;vertical-align:top}</style>"
            f"</head><body><h1>{esc(title)}</h1>{''.join(parts)}</body></html>")
