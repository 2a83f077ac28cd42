"""Server-side charts as inline, accessible SVG (no chart library, no script, CSP-safe).

``stacked_bars`` turns a few series of counts (one value per bucket, e.g. per hour) into an SVG with a
``<title>`` and ``<desc>`` that screen readers announce, a legend with totals, and a tooltip per bar
segment. It is a pure function: same input, same markup. Every text is escaped. Colours come from
presentation attributes (high-contrast palette) that the stylesheet may override through the
``chart-series-<key>`` classes; no ``style`` attribute (the CSP forbids inline styles).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

# Distinguishable on white and on near-black, and for the common colour-vision deficiencies
# (Okabe–Ito palette).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
_KEY_RE = re.compile(r"[^a-z0-9-]+")


@dataclass(frozen=True, slots=True)
class Series:
    """One stacked series: ``key`` names its CSS class, ``label`` is shown, one value per bucket."""

    key: str
    label: str
    values: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.values)


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5 × 10^k that is ≥ ``value`` (at least 1): a round top for the axis."""
    if value <= 1:
        return 1
    magnitude = int(10 ** int(math.floor(math.log10(value))))
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude  # pragma: no cover  (the loop always returns)


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def stacked_bars(
    *,
    series: Sequence[Series],
    labels: Sequence[str],
    title: str,
    desc: str,
    chart_id: str = "chart",
    width: int = 720,
    height: int = 260,
    label_every: int = 3,
) -> Markup:
    """An accessible stacked bar chart, one bar per label, as an ``<svg>`` element."""
    buckets = len(labels)
    for item in series:
        if len(item.values) != buckets:
            raise ValueError(f"series {item.key!r} has {len(item.values)} values for {buckets} labels")
        if any(v < 0 for v in item.values):
            raise ValueError(f"series {item.key!r} has a negative value")
    chart_id = _KEY_RE.sub("-", chart_id.lower()) or "chart"
    left, right, top, bottom = 40, 10, 34, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(item.values[i] for item in series) for i in range(buckets)]
    top_value = nice_ceiling(max(totals, default=0))
    slot = plot_w / buckets if buckets else plot_w
    bar_w = max(1.0, slot * 0.75)

    def y_of(value: float) -> float:
        return top + plot_h - plot_h * value / top_value

    parts: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" focusable="false">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
    ]
    # legend
    x = float(left)
    for index, item in enumerate(series):
        key = _KEY_RE.sub("-", item.key.lower())
        colour = PALETTE[index % len(PALETTE)]
        parts.append(
            f'<rect class="chart-series-{key}" x="{_num(x)}" y="8" width="14" height="14" fill="{colour}"/>'
        )
        text = f"{item.label} ({item.total})"
        parts.append(f'<text class="chart-legend" x="{_num(x + 20)}" y="20">{escape(text)}</text>')
        x += 20 + 8 * len(text) + 24
    # axes and grid
    for tick in (0, top_value / 2, top_value):
        y = y_of(tick)
        parts.append(
            f'<line class="chart-grid" x1="{left}" x2="{width - right}" y1="{_num(y)}" y2="{_num(y)}" '
            'stroke="#767676" stroke-width="0.5"/>'
        )
        parts.append(
            f'<text class="chart-axis" x="{left - 6}" y="{_num(y + 4)}" text-anchor="end">{_num(tick)}</text>'
        )
    # bars, stacked in series order from the bottom
    for i in range(buckets):
        x = left + i * slot + (slot - bar_w) / 2
        base = 0
        for index, item in enumerate(series):
            value = item.values[i]
            if value == 0:
                continue
            key = _KEY_RE.sub("-", item.key.lower())
            colour = PALETTE[index % len(PALETTE)]
            y0, y1 = y_of(base + value), y_of(base)
            tip = f"{labels[i]} — {item.label}: {value}"
            parts.append(
                f'<rect class="chart-series-{key}" x="{_num(x)}" y="{_num(y0)}" width="{_num(bar_w)}" '
                f'height="{_num(max(0.5, y1 - y0))}" fill="{colour}"><title>{escape(tip)}</title></rect>'
            )
            base += value
        if label_every > 0 and i % label_every == 0:
            parts.append(
                f'<text class="chart-axis" x="{_num(left + i * slot + slot / 2)}" y="{height - 8}" '
                f'text-anchor="middle">{escape(labels[i])}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # every text above went through escape()
