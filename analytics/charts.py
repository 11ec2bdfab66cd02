"""Charts drawn on the server as inline SVG: no script, no library, no CDN.

Colours come from classes styled in static/css/analytics.css with the page's own colour
variables, so a chart follows the light and the dark scheme like the rest of the page. Each
chart carries a <title> and an aria-label, and the same figures are in the table beside it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH = 320
ROW = 34
BAR = 12


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str  # the value as shown to people ("4 h 05 min", "12", "1,200.00 €")
    tone: str = ""  # "", "sev1".."sev5", "ok", "bad", "muted": a CSS class suffix


def bar_chart(title: str, bars: list[Bar]) -> SafeString:
    """Horizontal bars, one row each: label and value above, the bar below (fits 375 px)."""
    height = max(len(bars), 1) * ROW + 4
    largest = max((bar.value for bar in bars), default=0) or 1
    rows = []
    for index, bar in enumerate(bars):
        top = index * ROW
        length = 0 if bar.value <= 0 else max(2.0, WIDTH * bar.value / largest)
        rows.append(
            (
                top + 12,
                bar.label,
                WIDTH,
                top + 12,
                bar.text,
                f"chart-bar {('chart-' + bar.tone) if bar.tone else ''}".strip(),
                top + 17,
                f"{length:.1f}",
                BAR,
            )
        )
    body = format_html_join(
        "",
        '<text class="chart-label" x="0" y="{}">{}</text>'
        '<text class="chart-value" x="{}" y="{}" text-anchor="end">{}</text>'
        '<rect class="{}" x="0" y="{}" width="{}" height="{}" rx="2"></rect>',
        rows,
    )
    if not bars:
        body = format_html('<text class="chart-label" x="0" y="16">{}</text>', "no data")
    return format_html(
        '<svg class="chart" viewBox="0 0 {} {}" role="img" aria-label="{}" '
        'preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">'
        "<title>{}</title>{}</svg>",
        WIDTH,
        height,
        title,
        title,
        body,
    )
