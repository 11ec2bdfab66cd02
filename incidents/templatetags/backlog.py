"""``{% backlog_banner %}``: the board says when alerts arrive faster than they are applied."""

from __future__ import annotations

import logging

from django import template
from django.conf import settings

from incidents import backpressure

log = logging.getLogger(__name__)
register = template.Library()


@register.inclusion_tag("incidents/_backlog_banner.html")
def backlog_banner():
    try:
        backlog = backpressure.current()  # cached: one query per INGEST_BACKLOG_CHECK_SECONDS
    except Exception:  # the board must render even when the measurement cannot be made
        log.warning("could not measure the ingest backlog for the board", exc_info=True)
        return {"backlog": None}
    return {
        "backlog": backlog if backlog.over_bound else None,
        "age": round(backlog.oldest_age_seconds),
        "depth_bound": settings.INGEST_BACKLOG_SHED_DEPTH,
        "age_bound": settings.INGEST_BACKLOG_SHED_AGE_SECONDS,
    }
