"""Template helpers of the incident room: trustworthy times, and sender details made readable.

Times: in the viewer's time zone (their profile's), with the date when not today and the zone
always named, the exact ISO 8601 time (with offset) on hover. Sender details (a generic
webhook's ``details``) are rendered as nested key/value lists with a bound on depth, items and
text length, so a hostile or huge payload costs linear time and a bounded page.
"""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from incidents.templatetags.setup_pages import viewer_zone

register = template.Library()

DETAILS_MAX_DEPTH = 4
DETAILS_MAX_ITEMS = 50  # per level
DETAILS_MAX_TOTAL = 200  # in the whole tree
DETAILS_MAX_TEXT = 500  # characters of one value


def _zone(context):
    cached = context.render_context.get("viewer_zone")
    if cached is None:
        request = context.get("request")
        cached = context.render_context["viewer_zone"] = viewer_zone(getattr(request, "user", None))
    return cached


@register.simple_tag(takes_context=True)
def moment(context, value: datetime | None, empty: str = "—") -> str:
    """``14:05:09 CET`` today, ``2026-11-27 14:05:09 CET`` otherwise; exact time on hover."""
    if value is None:
        return empty
    zone = _zone(context)
    local = value.astimezone(zone)
    today = timezone.now().astimezone(zone).date()
    shown = local.strftime("%H:%M:%S %Z" if local.date() == today else "%Y-%m-%d %H:%M:%S %Z")
    return format_html(
        '<time datetime="{}" title="{} ({})">{}</time>',
        value.isoformat(),
        local.isoformat(timespec="milliseconds"),
        getattr(zone, "key", str(zone)),
        shown,
    )


def _scalar(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return text if len(text) <= DETAILS_MAX_TEXT else text[:DETAILS_MAX_TEXT] + "…"


def _render(value, depth: int, budget: list[int]) -> SafeString:
    if not isinstance(value, dict | list):
        return format_html("{}", _scalar(value))
    if depth >= DETAILS_MAX_DEPTH:
        return format_html(
            '<span class="muted">{}</span>', "{…}" if isinstance(value, dict) else "[…]"
        )
    items = list(value.items()) if isinstance(value, dict) else list(enumerate(value))
    if not items:
        return format_html(
            '<span class="muted">{}</span>', "{}" if isinstance(value, dict) else "[]"
        )
    rows = []
    for key, item in items[:DETAILS_MAX_ITEMS]:
        if budget[0] <= 0:
            break
        budget[0] -= 1
        rows.append(
            (
                _scalar(key) if isinstance(value, dict) else f"{key + 1}.",
                _render(item, depth + 1, budget),
            )
        )
    cut = len(items) - len(rows)
    more = format_html('<p class="muted details-more">… {} more</p>', cut) if cut > 0 else ""
    return format_html(
        '<dl class="details-list">{}</dl>{}',
        format_html_join("", "<dt>{}</dt><dd>{}</dd>", rows),
        more,
    )


@register.simple_tag
def details_list(value) -> str:
    """A JSON value as nested ``<dl>`` lists (escaped; bounded in depth, width and size)."""
    if value in (None, "", {}, []):
        return ""
    return _render(value, 0, [DETAILS_MAX_TOTAL])


@register.filter
def web_link(url: str) -> str:
    """The URL when it is http(s) and so safe to put in an href, else ""."""
    url = (url or "").strip()
    return url if url.lower().startswith(("https://", "http://")) else ""


@register.filter
def entry_kind(entry) -> str:
    """The kind an entry shows as: a copy from a merged incident shows its original kind."""
    if entry.kind == "merged_entry":
        return (entry.data or {}).get("original_kind", entry.kind)
    return entry.kind
