"""Small inline SVG charts (line and stacked bar), drawn at build time, readable without JavaScript.

Colours are the Okabe-Ito palette, told apart by people with any common colour-vision deficiency;
lines also differ by dash pattern. Every point and bar segment carries a ``<title>`` (the browser's
tooltip), and every chart a legend, so no script is needed to read them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
OTHER = "other"  # the series ``top_series`` sums the smaller ones into, drawn in grey
OTHER_COLOUR = "#BBBBBB"
DASHES = ("", "6 3", "2 3", "8 3 2 3", "1 2", "4 4", "10 2", "3 1")
WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 170, 16, 40  # plot margins: the legend sits on the right


def _colour(n: int, name: str) -> str:
    return OTHER_COLOUR if name == OTHER else PALETTE[n % len(PALETTE)]


def nice_top(value: float) -> float:
    """The smallest round number (1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten, times 4) >= ``value``:
    the axis then has four round steps."""
    step = value / 4
    magnitude = 10 ** math.floor(math.log10(step))
    return 4 * next(m * magnitude for m in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10) if m * magnitude >= step * (1 - 1e-9))


def _number(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def _frame(chart_id: str, title: str, body: list[str]) -> str:
    label = escape(title)
    return (f'<figure class="chart" id="chart-{escape(chart_id)}"><figcaption>{label}</figcaption>'
            f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{label}" '
            f'xmlns="http://www.w3.org/2000/svg">{"".join(body)}</svg></figure>')


def _empty(chart_id: str, title: str, message: str) -> str:
    return (f'<figure class="chart" id="chart-{escape(chart_id)}"><figcaption>{escape(title)}</figcaption>'
            f'<p class="empty">{escape(message)}</p></figure>')


def _axes(labels: Sequence[str], top: float, x_of) -> list[str]:
    """Horizontal grid lines with values, and x labels (thinned to about 8)."""
    plot_h = HEIGHT - TOP - BOTTOM
    parts = []
    for i in range(5):
        value = top * i / 4
        y = TOP + plot_h - plot_h * i / 4
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
                     f'<text class="tick" x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{_number(value)}</text>')
    step = max(1, -(-len(labels) // 8))
    for i in range(0, len(labels), step):
        parts.append(f'<text class="tick" x="{x_of(i):.1f}" y="{HEIGHT - BOTTOM + 16}" '
                     f'text-anchor="middle">{escape(labels[i])}</text>')
    return parts


def _legend(names: Sequence[str], line: bool) -> list[str]:
    parts = []
    for i, name in enumerate(names):
        y = TOP + 8 + i * 18
        colour = _colour(i, name)
        x = WIDTH - RIGHT + 12
        if line:
            mark = (f'<line x1="{x}" x2="{x + 18}" y1="{y}" y2="{y}" stroke="{colour}" stroke-width="3" '
                    f'stroke-dasharray="{DASHES[i % len(DASHES)]}"/>')
        else:
            mark = f'<rect x="{x}" y="{y - 6}" width="14" height="12" fill="{colour}"/>'
        short = name if len(name) <= 22 else name[:21] + "…"
        parts.append(f'<g class="legend">{mark}<text x="{x + 24}" y="{y + 4}">{escape(short)}'
                     f'<title>{escape(name)}</title></text></g>')
    return parts


def line_chart(chart_id: str, title: str, labels: Sequence[str], series: Mapping[str, Sequence[float | None]],
               *, top: float | None = None) -> str:
    """One line per series over ``labels`` (None: no point there); y from 0 to ``top`` (default: the max)."""
    values = [v for points in series.values() for v in points if v is not None]
    if not labels or not values:
        return _empty(chart_id, title, "No data yet: this chart fills in after the first scored cycles.")
    top = top or nice_top(max(values) or 1.0)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_of(i: int) -> float:
        return LEFT + (plot_w * i / (len(labels) - 1) if len(labels) > 1 else plot_w / 2)

    def y_of(v: float) -> float:
        return TOP + plot_h - plot_h * min(v, top) / top

    body = _axes(labels, top, x_of)
    for n, (name, points) in enumerate(series.items()):
        colour, dash = PALETTE[n % len(PALETTE)], DASHES[n % len(DASHES)]
        coords = [(x_of(i), y_of(v), v, i) for i, v in enumerate(points) if v is not None]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in coords)
        body.append(f'<polyline class="series" fill="none" stroke="{colour}" stroke-width="2" '
                    f'stroke-dasharray="{dash}" points="{path}"/>')
        body += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"><title>{escape(name)} '
                 f'{escape(labels[i])}: {v:.3f}</title></circle>' for x, y, v, i in coords]
    body += _legend(list(series), line=True)
    return _frame(chart_id, title, body)


def stacked_bars(chart_id: str, title: str, labels: Sequence[str], stacks: Mapping[str, Sequence[float]]) -> str:
    """One bar per label, stacked by series (``stacks``: series -> one value per label)."""
    totals = [sum(values[i] for values in stacks.values()) for i in range(len(labels))]
    if not labels or not any(totals):
        return _empty(chart_id, title, "No data yet.")
    top = nice_top(max(totals))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(labels)
    bar = max(1.0, slot * 0.7)

    def x_of(i: int) -> float:
        return LEFT + slot * (i + 0.5)

    body = _axes(labels, top, x_of)
    for i, label in enumerate(labels):
        base = 0.0
        for n, (name, values) in enumerate(stacks.items()):
            value = values[i]
            if not value:
                continue
            y, h = TOP + plot_h - plot_h * (base + value) / top, plot_h * value / top
            body.append(f'<rect class="bar" x="{x_of(i) - bar / 2:.1f}" y="{y:.1f}" width="{bar:.1f}" '
                        f'height="{h:.1f}" fill="{_colour(n, name)}"><title>{escape(label)}, '
                        f'{escape(name)}: {_number(value)}</title></rect>')
            base += value
    body += _legend(list(stacks), line=False)
    return _frame(chart_id, title, body)


def top_series(per_label: Sequence[Mapping[str, float]], keep: int = len(PALETTE) - 1) -> dict[str, list[float]]:
    """Series for ``stacked_bars`` from one {series: value} per label: the ``keep`` largest series
    by total, the rest summed as "other" (so the palette is never reused within a chart)."""
    totals: dict[str, float] = {}
    for values in per_label:
        for name, value in values.items():
            totals[name] = totals.get(name, 0) + value
    names = sorted(totals, key=lambda name: (-totals[name], name))
    kept = names if len(names) <= keep + 1 else names[:keep]
    series = {name: [values.get(name, 0) for values in per_label] for name in kept}
    rest = [name for name in names if name not in series]
    if rest:
        series[OTHER] = [sum(values.get(name, 0) for name in rest) for values in per_label]
    return series
