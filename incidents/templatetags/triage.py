"""Template helpers of the triage UI: durations and the clock against the service's RTO.

static/js/vigil.js formats durations the same way when it ticks the clocks between polls."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import template

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


@register.simple_tag
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
