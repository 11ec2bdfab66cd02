"""The outbox behind domain events: record in the transaction, dispatch after commit, sweep.

``events.announce`` calls :func:`record_event` inside the transaction that writes the timeline
entry. It inserts one :class:`EventDispatch` row per connected receiver (none when nobody
listens) and asks for :func:`dispatch_rows` after commit, so the request dispatches at once as
before. Whatever that did not finish (the receiver raised, the process died after the commit, a
deploy cut it short) is found by :func:`redispatch_due`, which the beat runs every few seconds.

Each receiver runs inside a transaction that first claims its row (a conditional UPDATE in the
request, ``SELECT ... FOR UPDATE SKIP LOCKED`` in the sweep) and marks it dispatched: the
receiver's own writes and the "done" mark commit together or not at all, so two sweeps, or a
sweep racing the request, never apply a receiver twice. Side effects outside the database
(mail, webhooks, tasks) leave through ``transaction.on_commit`` and carry their own idempotency
keys. Receivers must still be idempotent: a worker killed between commit and acknowledgement of
an outside effect is retried.

A failing receiver gets exponential backoff on its own row; the other receivers of the same
event are separate rows and go on. Failures show on ``/readyz`` (``event_dispatch``) and on
``/metrics`` (``vigil_event_dispatch_*``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Case, Count, F, Max, Min, Q, Sum, When
from django.utils import timezone

from incidents.models import EventDispatch, TimelineEntry

log = logging.getLogger("incidents.events")


def receiver_name(receiver: Callable) -> str:
    """A receiver's stable name (module.qualname): the key of its outbox rows across deploys."""
    target = getattr(receiver, "__func__", receiver)  # bound methods
    module = getattr(target, "__module__", None) or type(target).__module__
    qualname = getattr(target, "__qualname__", None) or type(target).__qualname__
    return f"{module}.{qualname}"


def _entry_for(details: dict) -> int | None:
    """The timeline entry this event announces: the newest one of its incident.

    Services write the entry and announce in the same transaction while holding the incident's
    row lock, so the newest entry visible here is the one just written.
    """
    incident_id = details.get("incident_id")
    if incident_id is None:
        return None
    return (
        TimelineEntry.objects.filter(incident_id=incident_id)
        .order_by("-id")
        .values_list("pk", flat=True)
        .first()
    )


def record_event(event, details: dict) -> list[int]:
    """Insert the outbox rows of one announced event (call inside the announcing transaction)
    and dispatch them after commit. Returns the row ids (none when nobody listens)."""
    receivers = event.receivers_by_name()
    if not receivers:
        return []
    now = timezone.now()
    entry_id = _entry_for(details)
    retry_at = now + timedelta(seconds=settings.EVENTS_REDISPATCH_AFTER_SECONDS)
    rows = EventDispatch.objects.bulk_create(
        [
            EventDispatch(
                entry_id=entry_id,
                event=event.name,
                receiver=name,
                details=details,
                created_at=now,
                next_attempt_at=retry_at,
            )
            for name in receivers
        ]
    )
    ids = [row.pk for row in rows]
    batch = _deferred.get()
    if batch is None:
        transaction.on_commit(lambda: dispatch_rows(ids), robust=True)
    else:
        batch.extend(ids)
        transaction.on_commit(lambda: _publish(batch), robust=True)
    return ids


# Inside ``deferred_dispatch()``: the ids recorded since the last commit, published together.
_deferred: ContextVar[list[int] | None] = ContextVar("outbox_deferred", default=None)


@contextmanager
def deferred_dispatch():
    """Within this block, events are dispatched by a worker, not by this process after commit.

    For loops that open many incidents at once (an ingest batch, a probe storm): what the
    receivers do (escalation, runbooks, status page) leaves the loop, which goes on opening;
    each commit publishes one task with all the rows it recorded (``dispatch_events`` on the
    notify queue). If the publish fails, the sweep dispatches them after
    EVENTS_REDISPATCH_AFTER_SECONDS, as for a process that died. Off when
    EVENTS_DEFER_BATCH_DISPATCH is 0: then every commit dispatches in this process as usual.
    """
    if not settings.EVENTS_DEFER_BATCH_DISPATCH:
        yield
        return
    token = _deferred.set([])
    try:
        yield
    finally:
        _deferred.reset(token)


def _publish(batch: list[int]) -> None:
    """After commit: hand the rows recorded so far to a worker (once; later calls find none)."""
    ids = list(batch)
    batch.clear()
    if not ids:
        return
    from incidents.tasks import dispatch_events

    try:
        for start in range(0, len(ids), 200):
            dispatch_events.apply_async(args=[ids[start : start + 200]], queue="notify")
    except Exception as exc:  # broker trouble: the sweep dispatches them
        log.warning("could not publish %s event dispatch(es), the sweep will: %s", len(ids), exc)


@dataclass(frozen=True)
class _Row:
    pk: int
    event: str
    receiver: str
    details: dict
    entry_id: int | None
    attempts: int


def _receiver_for(row: _Row) -> Callable | None:
    from incidents.events import EVENTS

    event = EVENTS.get(row.event)
    if event is None:
        return None
    return event.receivers_by_name().get(row.receiver)


def _call(receiver: Callable, row: _Row) -> None:
    receiver(sender=None, entry_id=row.entry_id, **row.details)


def backoff_seconds(attempts: int) -> float:
    """Delay before the next attempt after ``attempts`` failures: base × 2^(n-1), capped."""
    base = settings.EVENTS_RETRY_BASE_SECONDS
    return min(base * 2 ** max(attempts - 1, 0), settings.EVENTS_RETRY_MAX_SECONDS)


def _record_failure(row: _Row, exc: BaseException) -> None:
    now = timezone.now()
    attempts = row.attempts + 1
    try:
        # Conditional: a concurrent dispatch may have succeeded since our rollback.
        EventDispatch.objects.filter(pk=row.pk, dispatched_at=None).update(
            attempts=attempts,
            last_error=f"{exc.__class__.__name__}: {exc}"[:2000],
            last_failed_at=now,
            next_attempt_at=now + timedelta(seconds=backoff_seconds(attempts)),
        )
    except Exception:  # the database itself is in trouble: the sweep tries again later
        log.exception("could not record the failure of event dispatch %s", row.pk)
    log.error(
        "event receiver %s failed on %s (attempt %s): %r",
        row.receiver,
        row.event,
        attempts,
        exc,
        exc_info=exc,
    )


def _dispatch_claimed(row: _Row, *, claim: Callable[[], bool]) -> bool:
    """Run one receiver in a transaction that claims its row first. True when it ran."""
    receiver = _receiver_for(row)
    if receiver is None:
        _record_failure(row, LookupError(f"no receiver {row.receiver} is connected to {row.event}"))
        return False
    try:
        with transaction.atomic():
            if not claim():
                return False
            _call(receiver, row)
    except Exception as exc:
        _record_failure(row, exc)
        return False
    return True


def dispatch_rows(ids: Iterable[int]) -> int:
    """After commit, in the announcing process: run each receiver once. Returns how many ran."""
    rows = [
        _Row(**values)
        for values in EventDispatch.objects.filter(pk__in=list(ids), dispatched_at=None).values(
            "pk", "event", "receiver", "details", "entry_id", "attempts"
        )
    ]
    ran = 0
    for row in rows:

        def claim(row: _Row = row) -> bool:
            # One statement claims and marks the row; the receiver's rollback undoes both.
            return bool(
                EventDispatch.objects.filter(pk=row.pk, dispatched_at=None).update(
                    dispatched_at=timezone.now(), attempts=row.attempts + 1
                )
            )

        ran += _dispatch_claimed(row, claim=claim)
    return ran


def redispatch_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """The sweep: run every receiver whose row is still undispatched and due.

    Safe on several workers at once: each row is locked with SKIP LOCKED and re-checked under
    the lock, so a row is dispatched by one sweep; the others skip it.
    """
    now = now or timezone.now()
    due = list(
        EventDispatch.objects.filter(dispatched_at=None, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values("pk", "event", "receiver", "details", "entry_id", "attempts")[:limit]
    )
    ran = 0
    for values in due:
        row = _Row(**values)

        def claim(row: _Row = row) -> bool:
            locked = (
                EventDispatch.objects.select_for_update(skip_locked=True)
                .filter(pk=row.pk, dispatched_at=None, next_attempt_at__lte=now)
                .exists()
            )
            if locked:
                EventDispatch.objects.filter(pk=row.pk).update(
                    dispatched_at=timezone.now(), attempts=row.attempts + 1
                )
            return locked

        ran += _dispatch_claimed(row, claim=claim)
    return ran


def prune_dispatched(*, older_than_days: int, now: datetime | None = None, batch: int = 5000):
    """Delete outbox rows dispatched more than ``older_than_days`` ago (0 keeps them)."""
    if older_than_days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=older_than_days)
    total = 0
    while True:
        ids = list(
            EventDispatch.objects.filter(dispatched_at__lt=cutoff).values_list("pk", flat=True)[
                :batch
            ]
        )
        if not ids:
            return total
        total += EventDispatch.objects.filter(pk__in=ids).delete()[0]


# --- reporting ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceiverBacklog:
    receiver: str
    pending: int
    failing: int  # pending rows that failed at least once
    oldest: datetime | None
    last_error: str


def backlog_by_receiver() -> list[ReceiverBacklog]:
    """Undispatched rows per receiver (one grouped query plus one per failing receiver)."""
    grouped = (
        EventDispatch.objects.filter(dispatched_at=None)
        .values("receiver")
        .annotate(
            pending=Count("id"),
            failing=Count("id", filter=Q(attempts__gt=0)),
            oldest=Min("created_at"),
            last_failed=Max("last_failed_at"),
        )
        .order_by("receiver")
    )
    result = []
    for group in grouped:
        last_error = ""
        if group["failing"]:
            last_error = (
                EventDispatch.objects.filter(
                    dispatched_at=None, receiver=group["receiver"], attempts__gt=0
                )
                .order_by("-last_failed_at")
                .values_list("last_error", flat=True)
                .first()
                or ""
            )
        result.append(
            ReceiverBacklog(
                receiver=group["receiver"],
                pending=group["pending"],
                failing=group["failing"],
                oldest=group["oldest"],
                last_error=last_error,
            )
        )
    return result


def dispatch_problem() -> str | None:
    """For /readyz: receivers with events undispatched for longer than EVENTS_STUCK_SECONDS."""
    cutoff = timezone.now() - timedelta(seconds=settings.EVENTS_STUCK_SECONDS)
    stuck = [b for b in backlog_by_receiver() if b.oldest and b.oldest < cutoff]
    if not stuck:
        return None
    return "; ".join(
        f"{b.receiver}: {b.pending} event(s) undispatched since {b.oldest:%Y-%m-%d %H:%M:%S}"
        + (f", {b.failing} failing, last error: {b.last_error[:200]}" if b.failing else "")
        for b in stuck
    )


def metric_families() -> Iterable:
    """Prometheus families for /metrics (registered by the monitoring app's exposition)."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    pending = GaugeMetricFamily(
        "vigil_event_dispatch_pending",
        "Domain events not yet dispatched to a receiver.",
        labels=["receiver"],
    )
    failing = GaugeMetricFamily(
        "vigil_event_dispatch_failing",
        "Undispatched domain events whose receiver failed at least once.",
        labels=["receiver"],
    )
    oldest = GaugeMetricFamily(
        "vigil_event_dispatch_oldest_pending_seconds",
        "Age of the oldest undispatched domain event.",
        labels=["receiver"],
    )
    now = timezone.now()
    for b in backlog_by_receiver():
        pending.add_metric([b.receiver], b.pending)
        failing.add_metric([b.receiver], b.failing)
        oldest.add_metric([b.receiver], (now - b.oldest).total_seconds() if b.oldest else 0)
    failures = CounterMetricFamily(
        "vigil_event_dispatch_failures",
        "Failed dispatch attempts of domain events still kept in the outbox.",
        labels=["receiver"],
    )
    # Every attempt of a pending row failed; a dispatched row's last attempt succeeded.
    failed_attempts = Case(
        When(dispatched_at__isnull=True, then=F("attempts")), default=F("attempts") - 1
    )
    counts = (
        EventDispatch.objects.filter(last_failed_at__isnull=False)
        .values("receiver")
        .annotate(n=Sum(failed_attempts))
        .values_list("receiver", "n")
    )
    for receiver, n in counts:
        failures.add_metric([receiver], n)
    yield from (pending, failing, oldest, failures)
