"""Telemetry of model calls: validation by index, one multi-row INSERT, rollups, retention.

``ingest`` validates each event on its own (a bad event is named by its index, the rest are
stored), resolves service slugs and endpoint names in two queries, and stores all good events in
one INSERT (PostgreSQL: ``INSERT ... SELECT FROM unnest(arrays)``, one statement whatever the
batch size). Then the breakers of the endpoints it touched judge their window.

Per-minute rollups (``TelemetryMinute``) are recomputed for every (endpoint, minute) that
received events since the last run, so late events are counted too. Percentiles are
PostgreSQL's ``percentile_cont`` (linear interpolation between closest ranks), the same
definition ``percentile`` below computes in Python.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.permissions import Action
from incidents.models import Service
from llm import access, breaker
from llm.models import (
    OUTCOME_OK,
    OUTCOMES,
    Feedback,
    ModelEndpoint,
    ModelProbeResult,
    TelemetryEvent,
    TelemetryMinute,
)

DAY_MS = 86_400_000
MAX_TOKENS = 2**31 - 1
MAX_COST = Decimal("99999999")  # fits DECIMAL(14, 6)
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
FIELDS = {
    "time", "service", "endpoint", "latency_ms", "ttft_ms", "outcome", "tokens_in", "tokens_out",
    "cost", "feedback",
}  # fmt: skip


class EventError(ValueError):
    pass


def _int(event: dict, name: str, *, high: int, required: bool = True) -> int | None:
    value = event.get(name)
    if value is None:
        if required:
            raise EventError(f"{name} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EventError(f"{name} must be a number, got {type(value).__name__}")
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            raise EventError(f"{name} must be a whole number")
        value = int(value)
    if value < 0:
        raise EventError(f"{name} must not be negative")
    if value > high:
        raise EventError(f"{name} must be at most {high}")
    return value


def _time(event: dict, now: datetime) -> datetime | None:
    """The event's time, or None when it carries none (it happened when received)."""
    value = event.get("time")
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise EventError("time must be an ISO 8601 string")
    try:
        at = parse_datetime(value)
    except ValueError:
        at = None
    if at is None:
        raise EventError(f"time {value[:40]!r} is not an ISO 8601 date and time")
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    if not EARLIEST <= at < LATEST:
        raise EventError("time must be between 1970 and 2100")
    if at > now + timedelta(minutes=5):
        raise EventError("time is more than 5 minutes in the future")
    return at


def _cost(event: dict, endpoint: ModelEndpoint, tokens_in: int, tokens_out: int) -> Decimal:
    value = event.get("cost")
    if value is None:
        cost = (
            endpoint.price_in_per_1k * tokens_in + endpoint.price_out_per_1k * tokens_out
        ) / 1000
        return min(cost.quantize(Decimal("0.000001")), MAX_COST)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise EventError("cost must be a number")
    try:
        cost = Decimal(str(value))
    except InvalidOperation:
        raise EventError("cost must be a number") from None
    if not cost.is_finite() or cost < 0 or cost > MAX_COST:
        raise EventError(f"cost must be between 0 and {MAX_COST}")
    return cost.quantize(Decimal("0.000001"))


def _feedback(event: dict) -> float | None:
    value = event.get("feedback")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise EventError("feedback must be a number from -1 to 1")
    if not -1 <= value <= 1:
        raise EventError("feedback must be a number from -1 to 1")
    return float(value)


def _slug_map(user, events: list) -> dict[str, Service | None]:
    """Slug -> service the user may report for (None: unknown or not theirs)."""
    slugs = {e.get("service") for e in events if isinstance(e, dict)}
    slugs = {s for s in slugs if isinstance(s, str) and 0 < len(s) <= 64}
    return access.services_for(user, slugs, Action.RESPOND)


def endpoint_map(service_ids) -> dict[tuple[int, str], ModelEndpoint]:
    """(service id, endpoint name) -> the endpoint with its prices (one query)."""
    rows = ModelEndpoint.objects.filter(service_id__in=list(service_ids)).only(
        "pk", "service_id", "name", "price_in_per_1k", "price_out_per_1k"
    )
    return {(e.service_id, e.name): e for e in rows}


def validate(event, *, services: dict[str, int], endpoints: dict, now: datetime) -> tuple:
    """One event -> a row tuple for ``insert_rows`` (times None: received now); raises
    EventError naming the problem.

    ``services``: slug -> id of the services the caller may report for."""
    if not isinstance(event, dict):
        raise EventError("each event must be a JSON object")
    unknown = set(event) - FIELDS
    if unknown:
        raise EventError(f"unknown field(s): {', '.join(sorted(unknown))[:200]}")
    slug = event.get("service")
    if not isinstance(slug, str) or not slug:
        raise EventError("service (the service's slug) is required")
    service_id = services.get(slug)
    if service_id is None:
        raise EventError(f"unknown service {slug[:64]!r}")
    name = event.get("endpoint")
    if not isinstance(name, str) or not name:
        raise EventError("endpoint (the endpoint's name) is required")
    endpoint = endpoints.get((service_id, name))
    if endpoint is None:
        raise EventError(f"service {slug!r} has no endpoint {name[:80]!r}")
    outcome = event.get("outcome", OUTCOME_OK)
    if outcome not in OUTCOMES:
        raise EventError(f"outcome must be one of {', '.join(sorted(OUTCOMES))}")
    latency = _int(event, "latency_ms", high=DAY_MS)
    ttft = _int(event, "ttft_ms", high=DAY_MS, required=False)
    tokens_in = _int(event, "tokens_in", high=MAX_TOKENS, required=False) or 0
    tokens_out = _int(event, "tokens_out", high=MAX_TOKENS, required=False) or 0
    return (
        service_id, endpoint.pk, _time(event, now), None, latency, ttft, outcome, tokens_in,
        tokens_out, _cost(event, endpoint, tokens_in, tokens_out), _feedback(event),
    )  # fmt: skip


# The rows travel as one JSON array of arrays (a single parameter, escaped by libpq in C) and
# PostgreSQL takes them apart: far cheaper per row than eleven array literals built in Python.
_INSERT_SQL = """
INSERT INTO llm_telemetryevent (service_id, endpoint_id, at, received_at, latency_ms, ttft_ms,
                                outcome, tokens_in, tokens_out, cost, feedback)
SELECT (e->>0)::bigint, (e->>1)::bigint, COALESCE((e->>2)::timestamptz, %(now)s),
       COALESCE((e->>3)::timestamptz, %(now)s), (e->>4)::int, (e->>5)::int, e->>6,
       (e->>7)::int, (e->>8)::int, (e->>9)::numeric, (e->>10)::float8
FROM json_array_elements(%(rows)s::json) AS e
"""
_COLUMNS = (
    "service_id", "endpoint_id", "at", "received_at", "latency_ms", "ttft_ms", "outcome",
    "tokens_in", "tokens_out", "cost", "feedback",
)  # fmt: skip


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def insert_rows(rows: list[tuple], *, now: datetime | None = None) -> None:
    """All rows in one statement (atomic on its own). A row is a tuple in ``_COLUMNS`` order;
    ``at`` or ``received_at`` None means ``now``."""
    if not rows:
        return
    now = now or timezone.now()
    if connection.vendor == "postgresql":
        payload = json.dumps(
            [
                (s, e, _iso(at), _iso(received), lat, ttft, out, tin, tout, str(cost), fb)
                for s, e, at, received, lat, ttft, out, tin, tout, cost, fb in rows
            ],
            separators=(",", ":"),
        )  # fmt: skip
        with connection.cursor() as cursor:
            cursor.execute(_INSERT_SQL, {"now": now, "rows": payload})
        return
    objects = []
    for row in rows:
        fields = dict(zip(_COLUMNS, row, strict=True))
        fields["at"] = fields["at"] or now
        fields["received_at"] = fields["received_at"] or now
        objects.append(TelemetryEvent(**fields))
    TelemetryEvent.objects.bulk_create(objects)


def ingest(*, user, events: list, now: datetime | None = None) -> tuple[int, list[dict]]:
    """Store the valid events of ``user``; return ``(accepted, [{"index", "error"}])``."""
    services = _slug_map(user, events)
    ids = {slug: service.pk for slug, service in services.items() if service is not None}
    return ingest_for(service_ids=ids, events=events, now=now)


def ingest_for(
    *,
    service_ids: dict[str, int],
    events: list,
    endpoints: dict | None = None,
    now: datetime | None = None,
) -> tuple[int, list[dict]]:
    """Store the valid events for the services named (slug -> id, those the caller may report
    for); ``endpoints`` as ``endpoint_map`` gives them, looked up when not given."""
    now = now or timezone.now()
    if endpoints is None:
        endpoints = endpoint_map(set(service_ids.values()))
    rows, rejected = [], []
    for index, event in enumerate(events):
        try:
            rows.append(validate(event, services=service_ids, endpoints=endpoints, now=now))
        except EventError as exc:
            rejected.append({"index": index, "error": str(exc)})
    insert_rows(rows, now=now)
    touched = {row[1] for row in rows}
    if touched:
        breaker.evaluate(touched, now=now, throttle=True)
    return len(rows), rejected


# --- feedback -----------------------------------------------------------------------------


def record_feedback(
    *,
    service: Service,
    conversation: str,
    negative: bool = True,
    comment: str = "",
    endpoint: ModelEndpoint | None = None,
    at: datetime | None = None,
) -> Feedback:
    return Feedback.objects.create(
        service=service,
        at=at or timezone.now(),
        conversation=conversation,
        negative=negative,
        comment=comment,
        endpoint=endpoint,
    )


# --- rollups ------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float | None:
    """``percentile_cont``: linear interpolation between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = math.floor(position)
    high = math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _minute_of(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def _rollup_group(key: tuple[int, datetime], events: list[tuple], slow_ms: int, service_id: int):
    endpoint_id, minute = key
    latencies = [e[0] for e in events]
    ttfts = [e[1] for e in events if e[1] is not None]
    errors: dict[str, int] = defaultdict(int)
    for e in events:
        if e[2] != OUTCOME_OK:
            errors[e[2]] += 1
    feedback = [e[6] for e in events if e[6] is not None]
    return TelemetryMinute(
        service_id=service_id,
        endpoint_id=endpoint_id,
        minute=minute,
        calls=len(events),
        errors=sum(errors.values()),
        errors_by_kind=dict(errors),
        slow=sum(1 for v in latencies if v > slow_ms),
        latency_p50_ms=percentile(latencies, 0.5),
        latency_p95_ms=percentile(latencies, 0.95),
        latency_p99_ms=percentile(latencies, 0.99),
        ttft_p50_ms=percentile(ttfts, 0.5),
        ttft_p95_ms=percentile(ttfts, 0.95),
        ttft_p99_ms=percentile(ttfts, 0.99),
        tokens_in=sum(e[3] for e in events),
        tokens_out=sum(e[4] for e in events),
        cost=sum((e[5] for e in events), Decimal(0)),
        feedback_count=len(feedback),
        feedback_negative=sum(1 for f in feedback if f < 0),
    )


def rollup_since(since: datetime, *, now: datetime | None = None) -> int:
    """Recompute every (endpoint, minute) that received an event after ``since``.

    Safe to run twice or concurrently: each group is replaced as a whole (delete + insert in
    one transaction, guarded by the unique (endpoint, minute) constraint).
    """
    now = now or timezone.now()
    touched = set()
    for endpoint_id, at in TelemetryEvent.objects.filter(received_at__gt=since).values_list(
        "endpoint_id", "at"
    ):
        touched.add((endpoint_id, _minute_of(at)))
    if not touched:
        return 0
    endpoints = {
        e.pk: e
        for e in ModelEndpoint.objects.filter(pk__in={k[0] for k in touched}).only(
            "pk", "service_id", "slow_call_ms"
        )
    }
    by_endpoint: dict[int, list[datetime]] = defaultdict(list)
    for endpoint_id, minute in touched:
        by_endpoint[endpoint_id].append(minute)
    written = 0
    for endpoint_id, minutes in by_endpoint.items():
        endpoint = endpoints.get(endpoint_id)
        if endpoint is None:
            continue
        groups: dict[tuple, list] = defaultdict(list)
        rows = TelemetryEvent.objects.filter(
            endpoint_id=endpoint_id,
            at__gte=min(minutes),
            at__lt=max(minutes) + timedelta(minutes=1),
        ).values_list(
            "at", "latency_ms", "ttft_ms", "outcome", "tokens_in", "tokens_out", "cost", "feedback"
        )
        wanted = set(minutes)
        for at, *rest in rows.iterator(chunk_size=5000):
            minute = _minute_of(at)
            if minute in wanted:
                groups[(endpoint_id, minute)].append(rest)
        rollups = [
            _rollup_group(key, events, endpoint.slow_call_ms, endpoint.service_id)
            for key, events in groups.items()
        ]
        with transaction.atomic():
            TelemetryMinute.objects.filter(endpoint_id=endpoint_id, minute__in=minutes).delete()
            TelemetryMinute.objects.bulk_create(rollups)
        written += len(rollups)
    return written


def purge_old(*, now: datetime | None = None) -> int:
    now = now or timezone.now()
    raw_cutoff = now - timedelta(days=settings.LLM_TELEMETRY_RETENTION_DAYS)
    rollup_cutoff = now - timedelta(days=settings.LLM_ROLLUP_RETENTION_DAYS)
    deleted = TelemetryEvent.objects.filter(received_at__lt=raw_cutoff).delete()[0]
    deleted += ModelProbeResult.objects.filter(at__lt=raw_cutoff).delete()[0]
    deleted += TelemetryMinute.objects.filter(minute__lt=rollup_cutoff).delete()[0]
    deleted += Feedback.objects.filter(at__lt=rollup_cutoff).delete()[0]
    return deleted
