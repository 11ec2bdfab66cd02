"""Circuit breaker per model endpoint, fed by model probes and by telemetry.

closed -> open: over the sliding window (``window_seconds``, counted only since the breaker last
closed) with at least ``minimum_calls`` calls, the failure rate (outcome not ok) or the slow-call
rate (latency over ``slow_call_ms``) reaches its threshold (percent).
open -> half-open: ``open_wait_seconds`` after opening (the sweep, or the next probe).
half-open -> closed: ``half_open_calls`` shadow probes in a row answered correctly and in time.
half-open -> open: one shadow probe failed or was slow.

Telemetry counts only while closed (no traffic should reach an open endpoint). Every transition
locks the endpoint row, saves only the breaker fields and re-derives the service's route in the
same transaction.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from llm import routing
from llm.models import (
    OUTCOME_OK,
    BreakerState,
    ErrorKind,
    ModelEndpoint,
    ModelProbeResult,
    TelemetryEvent,
)
from llm.probes import ModelOutcome, ModelProbeSpec, spec_of

EVALUATE_EVERY = 1  # second
BREAKER_FIELDS = ["breaker_state", "breaker_changed_at", "breaker_reason", "half_open_passed"]


@dataclass(frozen=True)
class Window:
    calls: int
    failures: int
    slow: int

    def verdict(self, endpoint: ModelEndpoint) -> str:
        """Why the breaker should open, or "" when it should stay closed."""
        if self.calls < endpoint.minimum_calls or self.calls == 0:
            return ""
        failure_rate = 100 * self.failures / self.calls
        slow_rate = 100 * self.slow / self.calls
        if failure_rate >= endpoint.failure_rate_threshold:
            return (
                f"{self.failures} of {self.calls} calls failed in the last "
                f"{endpoint.window_seconds} s ({failure_rate:.0f} %, limit "
                f"{endpoint.failure_rate_threshold} %)"
            )
        if slow_rate >= endpoint.slow_rate_threshold:
            return (
                f"{self.slow} of {self.calls} calls took longer than {endpoint.slow_call_ms} ms "
                f"in the last {endpoint.window_seconds} s ({slow_rate:.0f} %, limit "
                f"{endpoint.slow_rate_threshold} %)"
            )
        return ""


def window_of(endpoint: ModelEndpoint, now: datetime) -> Window:
    start = now - timedelta(seconds=endpoint.window_seconds)
    if endpoint.breaker_changed_at and endpoint.breaker_changed_at > start:
        start = endpoint.breaker_changed_at
    counts = Window(0, 0, 0)
    for model, latency, ok in (
        (TelemetryEvent, "latency_ms", Q(outcome=OUTCOME_OK)),
        (ModelProbeResult, "latency_ms", Q(ok=True)),
    ):
        row = model.objects.filter(endpoint=endpoint, at__gte=start, at__lte=now).aggregate(
            calls=Count("pk"),
            failures=Count("pk", filter=~ok),
            slow=Count("pk", filter=Q(**{f"{latency}__gt": endpoint.slow_call_ms})),
        )
        counts = Window(
            counts.calls + row["calls"],
            counts.failures + row["failures"],
            counts.slow + row["slow"],
        )
    return counts


def _move(endpoint: ModelEndpoint, state: str, reason: str, now: datetime) -> None:
    endpoint.breaker_state = state
    endpoint.breaker_changed_at = now
    endpoint.breaker_reason = reason[:500]
    endpoint.half_open_passed = 0
    endpoint.save(update_fields=BREAKER_FIELDS)


def _open(endpoint: ModelEndpoint, reason: str, now: datetime) -> str:
    _move(endpoint, BreakerState.OPEN, reason, now)
    return f"breaker of {endpoint.name} (tier {endpoint.tier}) opened: {reason}"


def _half_open_if_waited(endpoint: ModelEndpoint, now: datetime) -> bool:
    if endpoint.breaker_state != BreakerState.OPEN:
        return False
    opened = endpoint.breaker_changed_at or now
    if now < opened + timedelta(seconds=endpoint.open_wait_seconds):
        return False
    _move(
        endpoint,
        BreakerState.HALF_OPEN,
        f"open for {endpoint.open_wait_seconds} s; {endpoint.half_open_calls} shadow runs must "
        "pass before it closes",
        now,
    )
    return True


def _locked(endpoint_ids: Iterable[int]) -> list[ModelEndpoint]:
    """Lock the rows in id order. FOR NO KEY UPDATE: concurrent telemetry INSERTs take FOR KEY
    SHARE on the same rows (their foreign key), which FOR UPDATE would conflict with."""
    return list(
        ModelEndpoint.objects.select_for_update(no_key=True)
        .filter(pk__in=list(endpoint_ids))
        .order_by("pk")
    )


def _reroute(reasons: dict[int, list[str]], now: datetime) -> None:
    for service_id, why in reasons.items():
        routing.recompute_route(service_id=service_id, reason="; ".join(why), now=now)


def _claim_evaluation(endpoint_id: int) -> bool:
    """At most one window evaluation per endpoint and EVALUATE_EVERY across all processes.

    Busy telemetry would otherwise count the window on every request; the sweep evaluates
    again every few seconds, so the last burst is never left unjudged. A process asks the cache
    at most once per endpoint and EVALUATE_EVERY (whoever won the claim judges the window for
    everyone meanwhile), so a busy ingest costs no cache trip per request. Without a cache
    every call evaluates.
    """
    now = time.monotonic()
    if _asked.get(endpoint_id, 0.0) > now:
        return False
    if len(_asked) > 10_000:
        _asked.clear()
    _asked[endpoint_id] = now + EVALUATE_EVERY
    try:
        return cache.add(f"llm:breaker-eval:{endpoint_id}", 1, EVALUATE_EVERY)
    except Exception:  # noqa: BLE001 - no cache: judge every time
        return True


_asked: dict[int, float] = {}  # endpoint id -> monotonic time before which this process waits


def forget_claims() -> None:
    _asked.clear()


def evaluate(
    endpoint_ids: Iterable[int], *, now: datetime | None = None, throttle: bool = False
) -> dict[int, str]:
    """Judge closed breakers on their window, move waited-out open ones to half-open.

    The window is counted without any lock; only an endpoint that must change is locked, alone
    in its own short transaction (re-checked under the lock), so concurrent ingests never wait
    on each other and never deadlock. Returns ``{endpoint_id: new_state}``.
    """
    now = now or timezone.now()
    changed: dict[int, str] = {}
    ids = list(endpoint_ids)
    if throttle:
        ids = [pk for pk in ids if _claim_evaluation(pk)]
        if not ids:
            return changed
    for endpoint in ModelEndpoint.objects.filter(pk__in=ids).order_by("pk"):
        if endpoint.breaker_state == BreakerState.CLOSED:
            if not window_of(endpoint, now).verdict(endpoint):
                continue
        elif endpoint.breaker_state != BreakerState.OPEN:
            continue
        with transaction.atomic():
            locked = _locked([endpoint.pk])
            if not locked:
                continue
            endpoint = locked[0]
            if endpoint.breaker_state == BreakerState.CLOSED:
                verdict = window_of(endpoint, now).verdict(endpoint)
                if not verdict:
                    continue
                reason = _open(endpoint, verdict, now)
                routing.recompute_route(service_id=endpoint.service_id, reason=reason, now=now)
                changed[endpoint.pk] = endpoint.breaker_state
            elif _half_open_if_waited(endpoint, now):
                changed[endpoint.pk] = endpoint.breaker_state
    return changed


def _passes(outcome: ModelOutcome, endpoint: ModelEndpoint) -> bool:
    return outcome.ok and outcome.latency_ms <= endpoint.slow_call_ms


def _describe(outcome: ModelOutcome, endpoint: ModelEndpoint) -> str:
    if outcome.ok:
        return f"answered in {outcome.latency_ms} ms (limit {endpoint.slow_call_ms} ms)"
    label = ErrorKind(outcome.outcome).label if outcome.outcome in ErrorKind.values else "error"
    return f"{label}: {outcome.message}" if outcome.message else label


def record_probe_outcomes(outcomes: list[ModelOutcome], claimed_at: datetime) -> dict[int, str]:
    """Store probe results and move breakers; re-derive routes of services that changed.

    A batch delivered twice records nothing the second time (an endpoint probed since
    ``claimed_at`` is skipped).
    """
    if not outcomes:
        return {}
    by_endpoint = {o.endpoint_id: o for o in outcomes}
    changed: dict[int, str] = {}
    reasons: dict[int, list[str]] = {}
    with transaction.atomic():
        rows = []
        for endpoint in _locked(by_endpoint):
            if endpoint.last_probe_at is not None and endpoint.last_probe_at >= claimed_at:
                continue
            outcome = by_endpoint[endpoint.pk]
            now = outcome.at
            _half_open_if_waited(endpoint, now)
            shadow = endpoint.breaker_state == BreakerState.HALF_OPEN
            passed = _passes(outcome, endpoint)
            rows.append(
                ModelProbeResult(
                    endpoint=endpoint, at=outcome.at, ok=outcome.ok,
                    slow=outcome.latency_ms > endpoint.slow_call_ms, outcome=outcome.outcome,
                    latency_ms=outcome.latency_ms, ttft_ms=outcome.ttft_ms,
                    status_code=outcome.status_code, shadow=shadow, message=outcome.message[:500],
                )
            )  # fmt: skip
            endpoint.last_probe_at = outcome.at
            endpoint.last_latency_ms = outcome.latency_ms
            endpoint.last_ttft_ms = outcome.ttft_ms
            endpoint.last_outcome = outcome.outcome
            endpoint.save(
                update_fields=["last_probe_at", "last_latency_ms", "last_ttft_ms", "last_outcome"]
            )
            before = endpoint.breaker_state
            if shadow and passed:
                endpoint.half_open_passed += 1
                if endpoint.half_open_passed >= endpoint.half_open_calls:
                    _move(
                        endpoint,
                        BreakerState.CLOSED,
                        f"{endpoint.half_open_calls} shadow runs in a row passed "
                        f"(last {outcome.latency_ms} ms)",
                        now,
                    )
                    reasons.setdefault(endpoint.service_id, []).append(
                        f"breaker of {endpoint.name} (tier {endpoint.tier}) closed: "
                        f"{endpoint.breaker_reason}"
                    )
                else:
                    endpoint.save(update_fields=["half_open_passed"])
            elif shadow:
                reasons.setdefault(endpoint.service_id, []).append(
                    _open(endpoint, f"shadow run failed: {_describe(outcome, endpoint)}", now)
                )
            if endpoint.breaker_state != before:
                changed[endpoint.pk] = endpoint.breaker_state
        ModelProbeResult.objects.bulk_create(rows)
        # Closed breakers judge their window with this probe in it.
        closed = [
            pk for pk in by_endpoint if pk not in changed and pk in {r.endpoint_id for r in rows}
        ]
        _reroute(reasons, timezone.now())
    if closed:
        changed.update(evaluate(closed, now=max(o.at for o in outcomes)))
    return changed


def sweep_breakers(*, now: datetime | None = None) -> int:
    """Move open breakers whose wait is over to half-open (shown at once, probed next), and
    judge closed breakers that heard telemetry lately (the last burst before a quiet spell may
    have been skipped by the ingest's evaluation throttle)."""
    now = now or timezone.now()
    open_ids = set(
        ModelEndpoint.objects.filter(breaker_state=BreakerState.OPEN).values_list("pk", flat=True)
    )
    recent = set(
        TelemetryEvent.objects.filter(received_at__gte=now - timedelta(minutes=2))
        .values_list("endpoint_id", flat=True)
        .distinct()
    )
    return len(evaluate(open_ids | recent, now=now))


# --- the probe kind registered with monitoring ---------------------------------------------

_CLAIM_SQL = """
UPDATE llm_modelendpoint AS e
SET next_probe_at = %(now)s + make_interval(secs => e.probe_interval_seconds)
WHERE e.id IN (
        SELECT id FROM llm_modelendpoint
        WHERE enabled AND probe_enabled AND (next_probe_at IS NULL OR next_probe_at <= %(now)s)
        ORDER BY next_probe_at NULLS FIRST
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    )
    AND (e.next_probe_at IS NULL OR e.next_probe_at <= %(now)s)
RETURNING e.id
"""


def claim_due_probes(now: datetime, limit: int) -> list[int]:
    """Claim due model probes, moving each one's next due time one interval on (at most once)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_CLAIM_SQL, {"now": now, "limit": limit})
            return [row[0] for row in cursor.fetchall()]
    claimed = []
    due = ModelEndpoint.objects.filter(enabled=True, probe_enabled=True).filter(
        Q(next_probe_at__isnull=True) | Q(next_probe_at__lte=now)
    )
    for pk, next_at, interval in list(
        due.values_list("pk", "next_probe_at", "probe_interval_seconds")[:limit]
    ):
        if ModelEndpoint.objects.filter(pk=pk, next_probe_at=next_at).update(
            next_probe_at=now + timedelta(seconds=interval)
        ):
            claimed.append(pk)
    return claimed


def load_probe_specs(ids: list[int]) -> list[ModelProbeSpec]:
    return [spec_of(e) for e in ModelEndpoint.objects.filter(pk__in=ids, enabled=True)]
