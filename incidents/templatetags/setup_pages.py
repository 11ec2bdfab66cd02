"""Template helpers of the set-up pages: times in the viewer's zone, with the date when not today."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import template
from django.utils import timezone
from django.utils.html import format_html

register = template.Library()


def viewer_zone(user) -> ZoneInfo:
    name = getattr(user, "time_zone", "") or "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@register.simple_tag(takes_context=True)
def when(context, value: datetime | None, empty: str = "—") -> str:
    """``14:05`` today, ``2026-11-27 14:05`` otherwise, in the viewer's time zone."""
    if value is None:
        return empty
    request = context.get("request")
    cached = context.render_context.get("viewer_zone")
    if cached is None:
        cached = context.render_context["viewer_zone"] = viewer_zone(getattr(request, "user", None))
    zone = cached
    local = value.astimezone(zone)
    today = timezone.now().astimezone(zone).date()
    shown = local.strftime("%H:%M") if local.date() == today else local.strftime("%Y-%m-%d %H:%M")
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        value.isoformat(),
        local.strftime("%Y-%m-%d %H:%M:%S %Z"),
        shown,
    )
