from __future__ import annotations

from django import template
from django.utils import timezone
from django.utils.html import format_html

register = template.Library()


@register.simple_tag
def when(value):
    """A time in the viewer's zone (the active one), with the date when it is not today."""
    if value is None:
        return ""
    local = timezone.localtime(value)
    today = timezone.localtime(timezone.now()).date()
    shown = (
        local.strftime("%H:%M:%S") if local.date() == today else local.strftime("%Y-%m-%d %H:%M")
    )
    return format_html('<time datetime="{}">{}</time>', local.isoformat(), shown)


@register.filter
def percent(value, digits: int = 1):
    if value is None:
        return "–"
    return f"{value * 100:.{digits}f} %"
