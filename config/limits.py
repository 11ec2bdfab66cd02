"""The range of values every layer can hold: PostgreSQL, Python's datetime, the templates.

A value inside these limits can be stored, compared and shown in any viewer's time zone; check
inputs against them at the edge (webhooks, API, forms) and refuse or clamp the rest.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# A UTC offset of at most 14 hours (the widest in use, Kiribati; PostgreSQL refuses some wider
# ones that Python accepts), and years wide enough for anything real, far from datetime's edges.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2101, 1, 1, tzinfo=UTC)
MAX_UTC_OFFSET = timedelta(hours=14)
LIMITS_TEXT = "between 1970 and 2100, with a UTC offset within +-14:00"


def within_limits(moment: datetime) -> datetime | None:
    """``moment`` in UTC when it is storable and displayable, else None (never raises).
    A naive value is read as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    offset = moment.utcoffset()
    if offset is None or abs(offset) > MAX_UTC_OFFSET:
        return None
    try:
        utc = moment.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    return utc if EARLIEST <= utc < LATEST else None
