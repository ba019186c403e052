"""Report data → one HTML page (Jinja2 templates in `templates/`, charts from `views`) → PDF."""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2
from markupsafe import Markup

from lendstack.errors import LendstackError
from lendstack.reporting import format as fmt
from lendstack.reporting.views import VIEWS

REPORT_KINDS = tuple(VIEWS)
TITLES = {
    "portfolio": ("Portfolio report", "资产组合报告"),
    "models": ("Model monitoring report", "模型监控报告"),
    "fairness": ("Fairness audit", "公平性审计"),
    "stress": ("Stress test report", "压力测试报告"),
    "audit": ("Quarterly audit bundle", "季度审计报告"),
}
STATUS_ZH = {"stable": "稳定", "watch": "关注", "alert": "警报", "insufficient_data": "数据不足"}


class ReportRenderError(LendstackError):
    """A user error naming the field (see lendstack.errors)."""


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("lendstack.reporting", "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    env.filters |= {"money": fmt.money, "pct": fmt.pct, "fixed": fmt.fixed, "interval": fmt.interval}
    env.globals |= {"STATUS_ZH": STATUS_ZH, "MISSING": fmt.MISSING, "cell": cell}
    return env


def cell(key: str, value: Any, currency: str) -> str:
    """A value of a table of named columns (the stress engine's): money by its `_minor` name,
    rates and shares as percentages, other floats to 4 places."""
    if value is None:
        return fmt.MISSING
    if key.endswith("_minor") and isinstance(value, int) and not isinstance(value, bool):
        return fmt.money(value, currency)
    if isinstance(value, float) and any(word in key for word in ("rate", "share", "ratio", "pct", "pd_", "lgd")):
        return fmt.pct(value)
    if isinstance(value, float):
        return fmt.fixed(value)
    return str(value)


def render_html(kind: str, data: dict[str, Any]) -> str:
    """The report page; `data` is what `services.report_data` (or the audit bundle) returns."""
    if kind not in VIEWS:
        raise ReportRenderError("kind", f"must be one of {', '.join(REPORT_KINDS)}, got {kind!r}")
    if data.get("kind") != kind:
        raise ReportRenderError("data.kind", f"expected {kind!r} data, got {data.get('kind')!r}")
    charts = {name: Markup(svg) for name, svg in VIEWS[kind](data).items()}
    title_en, title_zh = TITLES[kind]
    return _environment().get_template(f"{kind}.html").render(
        d=data, charts=charts, title_en=title_en, title_zh=title_zh)


def render_pdf(page_html: str) -> bytes:
    """The page as PDF (WeasyPrint: CSS paged media, the inline SVG drawn as vectors)."""
    import weasyprint  # type: ignore[import-untyped]  # slow to import (~1 s): only when a PDF is asked for

    pdf: bytes = weasyprint.HTML(string=page_html).write_pdf()
    assert pdf.startswith(b"%PDF-"), "WeasyPrint returned something that is not a PDF"
    return pdf
