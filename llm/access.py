"""Which services a user may read the route of or report telemetry for, remembered briefly.

Avatars poll the route and post telemetry all the time; asking PostgreSQL for the service and
the user's role on every request would cost two queries each. A web process remembers the answer
per (user, slug, action) for ``LLM_ROUTE_ACCESS_CACHE_SECONDS`` (default 5 s; 0 asks every time).
A change of membership, service or token bumps the access generation (llm.fastpath), which
clears this in every process on its next request; the time bounds changes made without signals.
"""

from __future__ import annotations

import time

from django.conf import settings

from accounts.permissions import Action, can
from incidents.models import Service

_remembered: dict[tuple[int, str, Action], tuple[float, Service | None]] = {}
MAX_ENTRIES = 10_000


def forget() -> None:
    _remembered.clear()


def services_for(user, slugs: set[str], action: Action) -> dict[str, Service | None]:
    """slug -> the service if ``user`` may do ``action`` in its team, else None (one query for
    the slugs not remembered, plus one per team for the role)."""
    seconds = settings.LLM_ROUTE_ACCESS_CACHE_SECONDS
    now = time.monotonic()
    found: dict[str, Service | None] = {}
    missing = set()
    for slug in slugs:
        hit = _remembered.get((user.pk, slug, action)) if seconds else None
        if hit is not None and hit[0] > now:
            found[slug] = hit[1]
        else:
            missing.add(slug)
    if missing:
        rows = {
            s.slug: s
            for s in Service.objects.filter(slug__in=missing).only("pk", "slug", "team_id", "name")
        }
        if seconds and len(_remembered) > MAX_ENTRIES:
            _remembered.clear()
        for slug in missing:
            service = rows.get(slug)
            if service is not None and not can(user, service.team_id, action):
                service = None
            found[slug] = service
            if seconds:
                _remembered[(user.pk, slug, action)] = (now + seconds, service)
    return found
