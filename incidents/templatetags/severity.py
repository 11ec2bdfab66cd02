"""Severity as people read it: the number with its word ("5 · outage"), one colour per level.

Our scale runs the other way from PagerDuty's and incident.io's SEV1 (5 is the worst here), so a
bare number misleads whoever comes from there: every place that shows a severity uses these.
Registered as a template builtin (config/settings.py), so templates need no ``{% load %}``.

    {{ incident.severity|severity_label }}   -> 5 · outage
    {{ incident.severity|severity_badge }}   -> <span class="badge sev sev-5" title="complete outage">5 · outage</span>
    {{ incident.severity|severity_class }}   -> sev-5
"""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.translation import get_language

from incidents.models import SEVERITY_WORDS, Severity
from incidents.severity import severity_text

register = template.Library()


def _level(value) -> int | None:
    try:
        level = int(value)
    except (TypeError, ValueError):
        return None
    return level if level in SEVERITY_WORDS else None


@register.filter
def severity_label(value) -> str:
    """``5 · outage``; a value off the scale is shown as it is."""
    level = _level(value)
    if level is None:
        return "" if value is None else str(value)
    return severity_text(level)


@register.filter
def severity_class(value) -> str:
    level = _level(value)
    return f"sev-{level}" if level is not None else "sev-unknown"


# Every board row shows one: built once per level and language.
_badges: dict[tuple[str | None, int], str] = {}


@register.filter
def severity_badge(value) -> str:
    """The label in a badge coloured by level, the full description on hover."""
    level = _level(value)
    if level is None:
        return severity_label(value)
    key = (get_language(), level)
    if key not in _badges:
        _badges[key] = format_html(
            '<span class="badge sev sev-{}" title="{}">{}</span>',
            level,
            Severity(level).label,
            severity_label(level),
        )
    return _badges[key]
