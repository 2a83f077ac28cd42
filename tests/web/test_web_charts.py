"""The inline SVG chart: accessible, escaped, well-formed, bars proportional to the data."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.web.charts import Series, nice_ceiling, stacked_bars

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))


def test_the_chart_has_an_accessible_name_and_description():
    chart = stacked_bars(
        series=[Series("mastodon", "Mastodon", (1, 0, 2))],
        labels=["10:00", "11:00", "12:00"],
        title="Posts per hour",
        desc="3 posts",
        chart_id="c1",
    )
    root = parse(chart)
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "c1-title c1-desc"
    assert root.find(f"{SVG}title").text == "Posts per hour"
    assert root.find(f"{SVG}desc").text == "3 posts"
    assert "style=" not in chart  # the CSP forbids inline styles


def test_every_text_is_escaped():
    chart = stacked_bars(
        series=[Series("x", "<b>X</b>", (1,))],
        labels=["<script>"],
        title='A "title" & <tag>',
        desc="</desc><script>alert(1)</script>",
        chart_id='"><script>',
    )
    assert "<script>" not in chart
    assert "<b>" not in chart
    root = parse(chart)  # still well-formed
    assert root.find(f"{SVG}desc").text == "</desc><script>alert(1)</script>"


def test_zero_segments_draw_nothing_and_each_other_segment_one_rect():
    chart = stacked_bars(
        series=[Series("mastodon", "Mastodon", (1, 0, 2)), Series("x", "X", (0, 0, 5))],
        labels=["a", "b", "c"],
        title="t",
        desc="d",
    )
    bars = [r for r in parse(chart).iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    assert len(bars) == 3
    legend = [r for r in parse(chart).iter(f"{SVG}rect") if r.find(f"{SVG}title") is None]
    assert len(legend) == 2


@pytest.mark.parametrize("values", [(1, 2), (1, -1, 0)])
def test_series_must_match_the_labels_and_be_non_negative(values):
    with pytest.raises(ValueError, match="series"):
        stacked_bars(series=[Series("x", "X", values)], labels=["a", "b", "c"], title="t", desc="d")


@given(st.integers(min_value=0, max_value=10**9))
def test_nice_ceiling_is_the_smallest_round_number_at_least_the_value(value):
    top = nice_ceiling(value)
    assert top >= max(1, value)
    mantissa, exponent = top, 0
    while mantissa % 10 == 0:
        mantissa, exponent = mantissa // 10, exponent + 1
    assert mantissa in (1, 2, 5)
    if top > 1:  # the round number just below is too small
        below = {1: 5 * 10 ** (exponent - 1), 2: 10**exponent, 5: 2 * 10**exponent}[mantissa]
        assert below < value


counts = st.lists(st.integers(min_value=0, max_value=500), min_size=24, max_size=24)


@given(st.lists(counts, min_size=1, max_size=4))
def test_stacked_bar_heights_are_proportional_to_the_bucket_totals(rows):
    series = [Series(f"p{i}", f"P{i}", tuple(values)) for i, values in enumerate(rows)]
    labels = [f"{h:02d}:00" for h in range(24)]
    root = parse(stacked_bars(series=series, labels=labels, title="t", desc="d", height=260))
    top, plot_h = 34, 260 - 34 - 28
    totals = [sum(values[i] for values in rows) for i in range(24)]
    scale = plot_h / nice_ceiling(max(totals))
    heights: dict[str, float] = {}
    for rect in root.iter(f"{SVG}rect"):
        tip = rect.find(f"{SVG}title")
        if tip is None:
            continue
        y, height = float(rect.get("y")), float(rect.get("height"))
        assert top - 0.1 <= y
        assert y + height <= top + plot_h + 0.6
        label = tip.text.split(" — ")[0]
        heights[label] = heights.get(label, 0.0) + height
    for i, label in enumerate(labels):
        assert heights.get(label, 0.0) == pytest.approx(
            totals[i] * scale, abs=0.55 * len(rows)
        )  # a segment is drawn ≥ 0.5 high
