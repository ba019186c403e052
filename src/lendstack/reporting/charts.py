"""Inline SVG charts for self-contained reports: no scripts, no external assets, so the same
markup shows in a browser, in an e-mail attachment and in WeasyPrint's PDF.

Each function returns one `<figure>` string (safe markup: every label is escaped here). Values
are plain floats (shares, rates, counts, or money already converted for display scale only:
the tables beside a chart carry the exact amounts).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

WIDTH, HEIGHT, PAD = 560, 280, 44
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
SERIES_MAX = len(COLOURS)  # more series than colours would be unreadable anyway
LABELS_MAX = 60  # bars / points per chart; callers cut longer series (top N) before charting


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def _frame(title: str, body: str, width: int = WIDTH, height: int = HEIGHT) -> str:
    return (
        f'<figure class="chart"><figcaption>{_esc(title)}</figcaption>'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_esc(title)}">{body}</svg></figure>'
    )


def _axes(top_value: float, bottom_value: float = 0.0) -> str:
    """Left and bottom axis lines with the top and bottom values and a mid grid line."""
    x0, y0, y1 = PAD, HEIGHT - PAD, PAD // 2
    mid = (y0 + y1) / 2
    return (
        f'<line x1="{x0}" y1="{y0}" x2="{WIDTH - 8}" y2="{y0}" stroke="#666"/>'
        f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}" stroke="#666"/>'
        f'<line x1="{x0}" y1="{mid:.1f}" x2="{WIDTH - 8}" y2="{mid:.1f}" stroke="#ddd"/>'
        f'<text x="{x0 - 4}" y="{y1 + 4}" font-size="10" text-anchor="end">{_fmt(top_value)}</text>'
        f'<text x="{x0 - 4}" y="{mid + 4:.1f}" font-size="10" text-anchor="end">'
        f"{_fmt((top_value + bottom_value) / 2)}</text>"
        f'<text x="{x0 - 4}" y="{y0 + 4}" font-size="10" text-anchor="end">{_fmt(bottom_value)}</text>'
    )


def _legend(names: Sequence[str]) -> str:
    return "".join(
        f'<rect x="{WIDTH - 150}" y="{PAD // 2 + 14 * i}" width="9" height="9" fill="{COLOURS[i]}"/>'
        f'<text x="{WIDTH - 137}" y="{PAD // 2 + 14 * i + 9}" font-size="10">{_esc(name)}</text>'
        for i, name in enumerate(names)
    )


def bar_chart(title: str, labels: Sequence[str], series: Mapping[str, Sequence[float]]) -> str:
    """Grouped vertical bars: one group per label, one bar per series (values >= 0)."""
    assert 0 < len(series) <= SERIES_MAX, len(series)
    assert len(labels) <= LABELS_MAX, len(labels)
    for name, values in series.items():
        assert len(values) == len(labels), (name, len(values), len(labels))
    top = max([v for values in series.values() for v in values] + [0.0]) or 1.0
    plot_w, plot_h = WIDTH - PAD - 8, HEIGHT - 1.5 * PAD
    slot = plot_w / max(len(labels), 1)
    bar_w = slot * 0.8 / len(series)
    parts = [_axes(top)]
    for s, (name, values) in enumerate(series.items()):
        for i, value in enumerate(values):
            h = max(value, 0.0) / top * plot_h
            x = PAD + i * slot + slot * 0.1 + s * bar_w
            parts.append(f'<rect x="{x:.1f}" y="{HEIGHT - PAD - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                         f'fill="{COLOURS[s]}"><title>{_esc(labels[i])} · {_esc(name)}: {_fmt(value)}</title></rect>')
    step = max(1, len(labels) // 12)  # at most ~12 tick labels
    for i in range(0, len(labels), step):
        x = PAD + (i + 0.5) * slot
        parts.append(f'<text x="{x:.1f}" y="{HEIGHT - PAD + 14}" font-size="9" text-anchor="middle">'
                     f"{_esc(labels[i])}</text>")
    if len(series) > 1:
        parts.append(_legend(list(series)))
    return _frame(title, "".join(parts))


def line_chart(title: str, x_labels: Sequence[str], series: Mapping[str, Sequence[float | None]]) -> str:
    """Lines over shared x positions (None leaves a gap), y from 0 to the largest value."""
    assert 0 < len(series) <= SERIES_MAX, len(series)
    assert 0 < len(x_labels) <= LABELS_MAX * 4, len(x_labels)
    values = [v for ys in series.values() for v in ys if v is not None]
    top = max([*values, 0.0]) or 1.0
    plot_w, plot_h = WIDTH - PAD - 8, HEIGHT - 1.5 * PAD
    dx = plot_w / max(len(x_labels) - 1, 1)
    parts = [_axes(top)]
    for s, (_name, ys) in enumerate(series.items()):
        assert len(ys) == len(x_labels), (len(ys), len(x_labels))
        for run in _runs(ys):
            points = " ".join(f"{PAD + i * dx:.1f},{HEIGHT - PAD - (y / top) * plot_h:.1f}" for i, y in run)
            if len(run) == 1:
                i, y = run[0]
                parts.append(f'<circle cx="{PAD + i * dx:.1f}" cy="{HEIGHT - PAD - (y / top) * plot_h:.1f}" '
                             f'r="2.5" fill="{COLOURS[s]}"/>')
            else:
                parts.append(f'<polyline points="{points}" fill="none" stroke="{COLOURS[s]}" stroke-width="2"/>')
    step = max(1, len(x_labels) // 12)
    for i in range(0, len(x_labels), step):
        parts.append(f'<text x="{PAD + i * dx:.1f}" y="{HEIGHT - PAD + 14}" font-size="9" text-anchor="middle">'
                     f"{_esc(x_labels[i])}</text>")
    parts.append(_legend(list(series)))
    return _frame(title, "".join(parts))


def _runs(ys: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    """Consecutive non-null points: one polyline each."""
    runs: list[list[tuple[int, float]]] = [[]]
    for i, y in enumerate(ys):
        if y is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((i, float(y)))
    return [r for r in runs if r]


def heatmap(title: str, rows: Sequence[str], columns: Sequence[str], shares: Sequence[Sequence[float]],
            counts: Sequence[Sequence[int]] | None = None) -> str:
    """A matrix of shares in [0, 1] (e.g. a roll-rate matrix): darker = larger, counts printed."""
    assert len(shares) == len(rows) and all(len(r) == len(columns) for r in shares)
    assert len(rows) <= LABELS_MAX and len(columns) <= LABELS_MAX
    cell_w, cell_h, left, top = 46, 22, 60, 34
    width, height = left + cell_w * len(columns) + 10, top + cell_h * len(rows) + 10
    parts = []
    for j, name in enumerate(columns):
        parts.append(f'<text x="{left + (j + 0.5) * cell_w:.1f}" y="{top - 8}" font-size="10" '
                     f'text-anchor="middle">{_esc(name)}</text>')
    for i, name in enumerate(rows):
        y = top + i * cell_h
        parts.append(f'<text x="{left - 6}" y="{y + 15}" font-size="10" text-anchor="end">{_esc(name)}</text>')
        for j, share in enumerate(shares[i]):
            level = min(max(float(share), 0.0), 1.0)
            shade = round(255 - 200 * level)
            text = str(counts[i][j]) if counts is not None else f"{level:.0%}"
            ink = "#fff" if level > 0.55 else "#000"
            parts.append(
                f'<rect x="{left + j * cell_w}" y="{y}" width="{cell_w - 1}" height="{cell_h - 1}" '
                f'fill="rgb({shade},{shade},255)"><title>{_esc(name)} → {_esc(columns[j])}: {level:.1%}</title></rect>'
                f'<text x="{left + (j + 0.5) * cell_w:.1f}" y="{y + 15}" font-size="10" text-anchor="middle" '
                f'fill="{ink}">{_esc(text)}</text>')
    return _frame(title, "".join(parts), width, height)
