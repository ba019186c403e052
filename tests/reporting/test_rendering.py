"""Pure rendering: exact money formatting, well-formed escaped SVG, bad kinds refused."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lendstack.reporting import ReportRenderError, render_html
from lendstack.reporting.charts import bar_chart, heatmap, line_chart
from lendstack.reporting.format import interval, money, pct

SVG = "{http://www.w3.org/2000/svg}"


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_money_is_exact_for_any_amount(amount_minor: int) -> None:
    text = money(amount_minor, "CNY")
    assert Decimal(text.replace(",", "")) == Decimal(amount_minor) / 100
    whole = text.lstrip("-").split(".")[0]
    assert all(len(group) == 3 for group in whole.split(",")[1:])


def test_money_boundaries() -> None:
    assert money(0, "CNY") == "0.00"
    assert money(-5, "CNY") == "-0.05"
    assert money(123456789, "CNY") == "1,234,567.89"
    assert money(1000, "JPY") == "1,000"
    assert money(None, "CNY") == "—"
    assert pct(0.12345) == "12.35%" and pct(None) == "—"
    assert interval((0.1, 0.25), as_pct=True) == "[10.0%, 25.0%]" and interval(None) == "—"
    with pytest.raises(AssertionError):
        money(1.5, "CNY")  # floats never hold money


def _parse(figure: str) -> ET.Element:
    return ET.fromstring(figure)


def test_bar_chart_heights_are_proportional_and_labels_escaped() -> None:
    figure = _parse(bar_chart("t <&>", ["a<b", "c"], {"s": [1.0, 3.0]}))
    rects = [r for r in figure.iter(f"{SVG}rect")]
    heights = [float(r.attrib["height"]) for r in rects]
    assert len(heights) == 2 and heights[1] == pytest.approx(3 * heights[0], rel=1e-3)
    assert figure.find("figcaption").text == "t <&>"  # type: ignore[union-attr]
    assert any(t.text == "a<b" for t in figure.iter(f"{SVG}text"))


def test_line_chart_gaps_and_heatmap_parse() -> None:
    figure = _parse(line_chart("l", ["1", "2", "3", "4"], {"x": [0.1, None, 0.3, 0.4]}))
    assert len(list(figure.iter(f"{SVG}polyline"))) == 1 and len(list(figure.iter(f"{SVG}circle"))) == 1
    grid = _parse(heatmap("h", ["M0", "M1"], ["M0", "M1", "closed"], [[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]],
                          [[4, 0, 0], [1, 1, 0]]))
    assert len(list(grid.iter(f"{SVG}rect"))) == 6


def test_chart_limits_are_asserted() -> None:
    with pytest.raises(AssertionError):
        bar_chart("too many", [str(i) for i in range(100)], {"s": [1.0] * 100})
    with pytest.raises(AssertionError):
        bar_chart("mismatch", ["a", "b"], {"s": [1.0]})


def test_unknown_kind_and_mismatched_data_are_refused() -> None:
    with pytest.raises(ReportRenderError) as info:
        render_html("balance_sheet", {"kind": "balance_sheet"})
    assert info.value.field == "kind"
    with pytest.raises(ReportRenderError) as info:
        render_html("portfolio", {"kind": "models"})
    assert info.value.field == "data.kind"


def test_fairness_from_plain_data_renders_escaped_groups() -> None:
    evil = "<script>x</script>"
    report = {"rows": 2, "group_column": "g", "reference_group": evil, "four_fifths_threshold": 0.8,
              "flagged_groups": [], "warnings": [], "groups": [
                  {"group": evil, "rows": 2, "approved": 1, "approval_rate": 0.5, "approval_rate_ci95": (0.1, 0.9),
                   "disparate_impact": 1.0, "disparate_impact_ci95": (0.5, 2.0), "four_fifths_flag": False}]}
    page = render_html("fairness", {"kind": "fairness", "generated_at": "now", "as_of": None, "since": None,
                                    "source": "x.csv", "group": "g", "decisions": 2, "truncated": False, "note": "",
                                    "audit": report, "outcome_definition": "", "price_definition": ""})
    assert evil not in page and "&lt;script&gt;x" in page
    assert "50.00%" in page and "公平性审计" in page
