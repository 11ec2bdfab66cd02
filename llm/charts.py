"""Server-rendered SVG charts: lines over time, with an optional band (no JavaScript, no CDN).

Colours come from CSS classes (static/llm/llm.css), so the charts follow light and dark mode
and the strict CSP (no inline styles). Every label is escaped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 720, 200
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 28


@dataclass
class Series:
    label: str
    points: list[tuple[datetime, float | None]]
    css: str = "s0"
    step: bool = False


def _fmt(value: float) -> str:
    if value >= 1000:
        return f"{value / 1000:.1f}k"
    if value >= 10 or value == 0:
        return f"{value:.0f}"
    if value >= 0.1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def _segments(points, x, y, step: bool) -> list[str]:
    """Polyline point lists, broken where a value is missing."""
    segments, current, last = [], [], None
    for at, value in points:
        if value is None:
            if current:
                segments.append(current)
            current, last = [], None
            continue
        px, py = x(at), y(value)
        if step and last is not None:
            current.append(f"{px:.1f},{last:.1f}")
        current.append(f"{px:.1f},{py:.1f}")
        last = py
    if current:
        segments.append(current)
    return [" ".join(s) for s in segments]


def line_chart(
    *,
    title: str,
    series: list[Series],
    start: datetime,
    end: datetime,
    unit: str = "",
    band: list[tuple[datetime, float, float]] | None = None,
    y_max: float | None = None,
) -> SafeString:
    values = [v for s in series for _, v in s.points if v is not None]
    if band:
        values += [high for _, _, high in band]
    top = y_max if y_max is not None else (max(values) if values else 1.0)
    top = top * 1.1 if top > 0 else 1.0
    span = max((end - start).total_seconds(), 1.0)
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(at: datetime) -> float:
        return LEFT + inner_w * min(max((at - start).total_seconds() / span, 0.0), 1.0)

    def y(value: float) -> float:
        return TOP + inner_h * (1 - min(max(value / top, 0.0), 1.0))

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" preserveAspectRatio="none"><title>{escape(title)}</title>'
    ]
    for i in range(5):
        value = top * i / 4
        py = y(value)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{py:.1f}" y2="{py:.1f}"/>'
            f'<text class="tick" x="{LEFT - 6}" y="{py + 4:.1f}" text-anchor="end">'
            f"{escape(_fmt(value))}{escape(unit) if i == 4 else ''}</text>"
        )
    local_start, local_end = timezone.localtime(start), timezone.localtime(end)
    same_day = local_start.date() == local_end.date()
    label_format = "%H:%M" if same_day or span <= 86400 else "%b %d %H:%M"
    for i in range(5):
        at = start + (end - start) * i / 4
        anchor = "start" if i == 0 else ("end" if i == 4 else "middle")
        parts.append(
            f'<text class="tick" x="{x(at):.1f}" y="{HEIGHT - 8}" text-anchor="{anchor}">'
            f"{escape(timezone.localtime(at).strftime(label_format))}</text>"
        )
    if band:
        upper = [f"{x(at):.1f},{y(high):.1f}" for at, _, high in band]
        lower = [f"{x(at):.1f},{y(low):.1f}" for at, low, _ in reversed(band)]
        parts.append(f'<polygon class="band" points="{" ".join(upper + lower)}"/>')
    for s in series:
        for segment in _segments(s.points, x, y, s.step):
            if " " not in segment:  # a lone point: draw it as a dot
                cx, cy = segment.split(",")
                parts.append(f'<circle class="line {s.css}" cx="{cx}" cy="{cy}" r="2.5"/>')
            else:
                parts.append(f'<polyline class="line {s.css}" points="{segment}"/>')
    parts.append("</svg>")
    legend = "".join(
        f'<li><span class="swatch {s.css}" aria-hidden="true"></span>{escape(s.label)}</li>'
        for s in series
    )
    if band:
        legend += '<li><span class="swatch band" aria-hidden="true"></span>normal band</li>'
    return mark_safe(  # noqa: S308 - every interpolated text above is escaped
        f'<figure class="chart-figure"><figcaption>{escape(title)}</figcaption>'
        f'{"".join(parts)}<ul class="legend">{legend}</ul></figure>'
    )
