"""Server-drawn SVG charts for the statistics and transparency pages (no script, no CDN).

Every label is escaped; the numbers are ours. A chart reads like a yearly report's figure: bars
with their value on top, the period under each bar, a title.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

PALETTE = ["#2f6fb3", "#d9822b", "#3a9a5b", "#b23b3b", "#7a5bb5", "#3d8c96", "#9a7b2f", "#5e6b78"]


def _nice_max(value: int) -> int:
    """The chart's top: the first of 4, 8, 20, 40, 80, 100, 200, 400, 800, 1000, 2000, ... at or
    above value. Each is divisible by 4, so the four rules fall on whole numbers and each label is
    the value of its rule (a top of 5 drew its rules at 1.25, 2.5, 3.75 and labelled them 1, 2, 3:
    a bar of 1 stood below the rule labelled 1)."""
    if value <= 8:
        return 4 if value <= 4 else 8
    magnitude = 10
    while True:
        for step in (2, 4, 8, 10):
            if step * magnitude >= value:
                return step * magnitude
        magnitude *= 10


def column_chart(
    *,
    title: str,
    labels: Sequence[str],
    values: Sequence[int],
    color: str = PALETTE[0],
    width: int = 640,
    height: int = 220,
) -> SafeString:
    """One bar per period (e.g. per month), its value above it."""
    left, right, top, bottom = 44, 12, 30, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = _nice_max(max(values, default=0))
    n = max(len(values), 1)
    slot = plot_w / n
    bar = max(2.0, slot * 0.7)
    every = max(1, -(-n * 64 // plot_w))  # a label every so many bars: about 64 px each
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<text x="{left}" y="18" class="chart-title">{escape(title)}</text>',
    ]
    for i in range(5):
        y = top + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="chart-rule"/>')
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="chart-axis">{peak * i // 4}</text>'
        )
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        h = plot_h * value / peak if peak else 0
        x = left + slot * i + (slot - bar) / 2
        y = top + plot_h - h
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{color}">'
            f"<title>{escape(label)}: {value}</title></rect>"
        )
        if value and n <= 24:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle" class="chart-value">{value}</text>'
            )
        if i % every == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle" class="chart-axis">'
                f"{escape(label)}</text>"
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every label above is escaped


def bar_list(*, title: str, rows: Sequence[tuple[str, int]], width: int = 640) -> SafeString:
    """Horizontal bars, largest first: "340 Officers assisted on scene" style."""
    rows = sorted(rows, key=lambda r: -r[1])
    row_h, label_w, top = 26, 230, 30
    height = top + row_h * max(len(rows), 1) + 8
    peak = max((v for _l, v in rows), default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="18" class="chart-title">{escape(title)}</text>',
    ]
    for i, (label, value) in enumerate(rows):
        y = top + row_h * i
        w = (width - label_w - 60) * value / peak
        color = PALETTE[i % len(PALETTE)]
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end" class="chart-label">{escape(label)}</text>'
        )
        parts.append(f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" fill="{color}"/>')
        parts.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 17}" class="chart-value">{value}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every label above is escaped
