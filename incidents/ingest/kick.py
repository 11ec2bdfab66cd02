"""Ask the ingest queue to apply pending events, without ever failing or slowing the request.

The event is already committed when this runs (``on_commit``). If the broker is unreachable the
publish is skipped for a few seconds in this process and the periodic sweep applies the events.
"""

from __future__ import annotations

import logging

from incidents.ingest.throttle import Breaker

log = logging.getLogger(__name__)

broker_breaker = Breaker(pause=5.0)


def request_processing(event_id: int) -> None:
    if not broker_breaker.allows():
        return
    from incidents.tasks import apply_inbound_event

    try:
        apply_inbound_event.delay(event_id)
    except Exception as exc:  # broker down or misconfigured: the sweep covers it
        broker_breaker.trip()
        log.warning(
            "could not enqueue inbound event %s, the sweep will apply it: %s", event_id, exc
        )
