"""Signed route-change webhooks to route subscribers (at-least-once, each claimed once).

A delivery row exists per (route change, subscriber); the unique pair means one webhook per
change per subscriber however often the change is re-processed. Sending claims the row with a
conditional UPDATE (pending, due, lease expired) so two workers never send it at the same time;
a crash mid-send leaves the lease to expire and the sweep retries.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from incidents import outbound
from llm.models import DeliveryStatus, RouteDelivery

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)


def enqueue_change(change_id: int) -> None:
    from llm.tasks import deliver_route_change

    try:
        deliver_route_change.delay(change_id)
    except Exception:  # broker down: the sweep sends pending deliveries
        log.warning("could not enqueue route change %s; the sweep will send it", change_id)


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(10 * 2 ** max(attempts - 1, 0), 3600))


def deliver(*, delivery_id: int, now: datetime | None = None) -> str:
    """Send one delivery if this call wins its claim: sent / retry / failed / skipped."""
    now = now or timezone.now()
    claimed = (
        RouteDelivery.objects.filter(
            pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now
        )
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=now + LEASE, attempts=F("attempts") + 1)
    )
    if not claimed:
        return "skipped"
    delivery = RouteDelivery.objects.select_related("change", "subscriber").get(pk=delivery_id)
    result = outbound.post_json(
        delivery.subscriber.url, delivery.change.payload, secret=delivery.subscriber.secret
    )
    finished = timezone.now()
    fields = {"lease_until": None, "last_status_code": result.status}
    if result.ok:
        fields.update(status=DeliveryStatus.SENT, sent_at=finished, last_error="")
        outcome = "sent"
    elif result.retryable and delivery.attempts < settings.LLM_WEBHOOK_MAX_ATTEMPTS:
        fields.update(
            last_error=result.error[:500], next_attempt_at=finished + _backoff(delivery.attempts)
        )
        outcome = "retry"
    else:
        fields.update(status=DeliveryStatus.FAILED, last_error=result.error[:500])
        outcome = "failed"
    RouteDelivery.objects.filter(pk=delivery_id).update(**fields)
    return outcome


def deliver_change(*, change_id: int) -> list[str]:
    ids = RouteDelivery.objects.filter(
        change_id=change_id, status=DeliveryStatus.PENDING
    ).values_list("pk", flat=True)
    return [deliver(delivery_id=pk) for pk in list(ids)]


def sweep_due_deliveries(*, now: datetime | None = None, limit: int = 200) -> int:
    """Send what is due and unclaimed (broker was down, retries, crashed workers)."""
    now = now or timezone.now()
    due = (
        RouteDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(1 for pk in list(due) if deliver(delivery_id=pk, now=now) == "sent")
