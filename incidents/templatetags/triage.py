"""Template helpers of the triage UI: durations, badges and the clock against the service's RTO.

Badges and clocks appear on every board row, so they are tags building escaped HTML with
format_html rather than included templates (an include per row cost more than the queries).
static/js/vigil.js formats durations the same way when it ticks the clocks between polls.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django import template
from django.utils.html import format_html

from incidents.templatetags.severity import severity_badge

register = template.Library()


@register.filter
def duration(seconds) -> str:
    """Compact, precise enough at 3 a.m.: 45s, 12m 05s, 3h 07m, 2d 4h."""
    seconds = int(abs(seconds or 0))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def incident_clock(incident, now: datetime) -> dict:
    """Elapsed time since the incident opened (until it resolved) and the time left against
    the service's RTO. ``over`` is true once the RTO has passed (or was missed)."""
    end = incident.resolved_at or now
    elapsed = (end - incident.triggered_at).total_seconds()
    clock = {"elapsed": elapsed, "running": incident.resolved_at is None, "rto": None}
    rto_minutes = incident.service.rto_minutes
    if rto_minutes:
        deadline = incident.triggered_at + timedelta(minutes=rto_minutes)
        left = (deadline - end).total_seconds()
        clock["rto"] = {"deadline": deadline, "left": left, "over": left < 0}
    return clock


@register.simple_tag
def clock(incident, now: datetime) -> str:
    state = incident_clock(incident, now)
    running = state["running"]
    elapsed = format_html(
        '<span class="clock elapsed"{} title="Time since it opened">{}</span>',
        format_html(' data-since="{}"', int(incident.triggered_at.timestamp())) if running else "",
        duration(state["elapsed"]),
    )
    rto = state["rto"]
    if rto is None:
        return elapsed
    left = duration(rto["left"])
    if rto["over"]:
        text = f"RTO over by {left}" if running else f"RTO missed by {left}"
    else:
        text = f"{left} left of RTO" if running else f"within RTO ({left} to spare)"
    return format_html(
        '{} <span class="clock rto{}"{} title="Against the service RTO of {} min">{}</span>',
        elapsed,
        " over" if rto["over"] else "",
        format_html(' data-deadline="{}"', int(rto["deadline"].timestamp())) if running else "",
        incident.service.rto_minutes,
        text,
    )


@register.simple_tag
def badges(incident) -> str:
    return format_html(
        '{} <span class="badge status status-{}">{}</span>{}',
        severity_badge(incident.severity),
        incident.status,
        incident.get_status_display(),
        format_html(' <span class="badge drill">drill</span>') if incident.is_drill else "",
    )


@register.filter
def kind_label(kind: str) -> str:
    """Timeline kinds are snake_case identifiers; people read words."""
    return (kind or "").replace("_", " ")
