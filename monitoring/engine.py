"""The probe engine: claim due probes, run a batch, record what happened.

Queries per batch, whatever its size: one to load the specs, then one transaction with one
``SELECT ... FOR UPDATE``, one INSERT of all results and one UPDATE of all probe rows, plus the
incident calls for the probes whose state actually changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction

from monitoring import services
from monitoring.checks import Outcome, ProbeSpec, run_specs
from monitoring.models import Probe, ProbeResult, ProbeState


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


_CLAIM_SQL = """
UPDATE monitoring_probe AS p
SET next_due_at = CASE
        WHEN p.next_due_at + make_interval(secs => p.interval_seconds) > %(now)s
        THEN p.next_due_at + make_interval(secs => p.interval_seconds)
        ELSE %(now)s + make_interval(secs => p.interval_seconds)
    END
WHERE p.id IN (
        SELECT id FROM monitoring_probe
        WHERE NOT paused AND next_due_at <= %(now)s
        ORDER BY next_due_at
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    )
    AND p.next_due_at <= %(now)s AND NOT p.paused
RETURNING p.id
"""


def _next_due(due: datetime, interval: int, now: datetime) -> datetime:
    # Keep each probe's phase (due + interval), so probes stay spread over the interval, unless
    # it is so late that this would already be due again.
    step = timedelta(seconds=interval)
    return due + step if due + step > now else now + step


def claim_due_probes(*, now: datetime, limit: int) -> list[int]:
    """Claim up to ``limit`` due probes and move their ``next_due_at`` one interval on.

    The WHERE clause re-checks ``next_due_at <= now`` on the row it updates, so of any number
    of concurrent claimers exactly one gets each due probe (the others skip the locked row or
    see it no longer due); a probe is claimed at most once per interval.
    """
    if _is_postgres():
        with connection.cursor() as cursor:
            cursor.execute(_CLAIM_SQL, {"now": now, "limit": limit})
            return [row[0] for row in cursor.fetchall()]
    claimed = []
    rows = (
        Probe.objects.filter(paused=False, next_due_at__lte=now)
        .order_by("next_due_at")
        .values_list("id", "next_due_at", "interval_seconds")[:limit]
    )
    for probe_id, due, interval in list(rows):
        changed = Probe.objects.filter(pk=probe_id, next_due_at=due, paused=False).update(
            next_due_at=_next_due(due, interval, now)
        )
        if changed:
            claimed.append(probe_id)
    return claimed


def load_specs(probe_ids: list[int]) -> list[ProbeSpec]:
    rows = Probe.objects.filter(pk__in=probe_ids, paused=False).values_list(*ProbeSpec.FIELDS)
    return [ProbeSpec(*row) for row in rows]


@dataclass(frozen=True)
class Streaks:
    failures: int
    slow: int
    successes: int


def advance(
    *, state: str, streaks: Streaks, kind: str, failures_to_open: int, successes_to_recover: int
) -> tuple[str, Streaks]:
    """The state machine: the next state and streaks after one result of ``kind``.

    fail / slow / up each extend their own streak and reset the others. ``failures_to_open``
    consecutive failures make a probe down and as many slow answers degraded;
    ``successes_to_recover`` fast answers bring it up again (a down probe that answers slowly
    that often is degraded). A new probe is up after its first fast answer.
    """
    if kind == "fail":
        streaks = Streaks(streaks.failures + 1, 0, 0)
    elif kind == "slow":
        streaks = Streaks(0, streaks.slow + 1, 0)
    else:
        streaks = Streaks(0, 0, streaks.successes + 1)

    if streaks.failures >= failures_to_open:
        return ProbeState.DOWN, streaks
    if state in (ProbeState.NEW, ProbeState.UP):
        if streaks.slow >= failures_to_open:
            return ProbeState.DEGRADED, streaks
        if streaks.successes >= 1:
            return ProbeState.UP, streaks
    elif state == ProbeState.DEGRADED:
        if streaks.successes >= successes_to_recover:
            return ProbeState.UP, streaks
    elif state == ProbeState.DOWN:
        if streaks.successes >= successes_to_recover:
            return ProbeState.UP, streaks
        if streaks.slow >= successes_to_recover:
            return ProbeState.DEGRADED, streaks
    return state, streaks


_UPDATE_COLUMNS = (
    "state", "consecutive_failures", "consecutive_slow", "consecutive_successes",
    "last_checked_at", "last_latency_ms", "last_status_code", "last_error", "state_changed_at",
)  # fmt: skip
_UPDATE_SQL = """
UPDATE monitoring_probe AS p SET
    state = v.state, consecutive_failures = v.cf, consecutive_slow = v.cslow,
    consecutive_successes = v.cs, last_checked_at = v.checked, last_latency_ms = v.latency,
    last_status_code = v.status, last_error = v.error, state_changed_at = v.changed
FROM (VALUES {rows}) AS v(id, state, cf, cslow, cs, checked, latency, status, error, changed)
WHERE p.id = v.id
"""
_ROW_SQL = "(%s::bigint, %s, %s::int, %s::int, %s::int, %s::timestamptz, %s::int, %s::int, %s, %s::timestamptz)"


def _bulk_update(probes: list[Probe]) -> None:
    if not probes:
        return
    if not _is_postgres():
        Probe.objects.bulk_update(probes, _UPDATE_COLUMNS)
        return
    params: list = []
    for p in probes:
        params += [
            p.pk, p.state, p.consecutive_failures, p.consecutive_slow, p.consecutive_successes,
            p.last_checked_at, p.last_latency_ms, p.last_status_code, p.last_error,
            p.state_changed_at,
        ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(_UPDATE_SQL.format(rows=", ".join([_ROW_SQL] * len(probes))), params)


def record_outcomes(outcomes: list[Outcome], *, claimed_at: datetime) -> dict[int, str]:
    """Store results and advance each probe's state; open or resolve incidents on changes.

    Returns ``{probe_id: new_state}`` for the probes whose state changed. A batch delivered
    twice (a worker died before acknowledging it) records nothing the second time: a probe
    already checked since ``claimed_at`` is skipped.
    """
    if not outcomes:
        return {}
    by_probe = {o.probe_id: o for o in outcomes}
    changed: dict[int, str] = {}
    with transaction.atomic():
        probes = list(
            Probe.objects.select_for_update(of=("self",))
            .select_related("service")
            .filter(pk__in=list(by_probe), paused=False)
            .order_by("pk")
        )
        results, updated, transitions = [], [], []
        for probe in probes:
            outcome = by_probe[probe.pk]
            if probe.last_checked_at is not None and probe.last_checked_at >= claimed_at:
                continue
            old_state = probe.state
            new_state, streaks = advance(
                state=old_state,
                streaks=Streaks(
                    probe.consecutive_failures, probe.consecutive_slow, probe.consecutive_successes
                ),
                kind=outcome.kind,
                failures_to_open=probe.failures_to_open,
                successes_to_recover=probe.successes_to_recover,
            )
            probe.state = new_state
            probe.consecutive_failures = streaks.failures
            probe.consecutive_slow = streaks.slow
            probe.consecutive_successes = streaks.successes
            probe.last_checked_at = outcome.at
            probe.last_latency_ms = outcome.latency_ms
            probe.last_status_code = outcome.status_code
            probe.last_error = outcome.message[:500] if not outcome.ok else ""
            if new_state != old_state:
                probe.state_changed_at = outcome.at
                transitions.append((probe, old_state, outcome))
                changed[probe.pk] = new_state
            updated.append(probe)
            results.append(
                ProbeResult(
                    probe_id=probe.pk,
                    at=outcome.at,
                    ok=outcome.ok,
                    latency_ms=outcome.latency_ms,
                    status_code=outcome.status_code,
                    error=outcome.error,
                    message=outcome.message[:500],
                )
            )
        ProbeResult.objects.bulk_create(results)
        _bulk_update(updated)
        for probe, old_state, outcome in transitions:
            services.apply_probe_transition(probe=probe, old_state=old_state, outcome=outcome)
    return changed


def run_batch(probe_ids: list[int], *, claimed_at: datetime) -> dict[int, str]:
    """Run the claimed probes concurrently and record the outcomes (what a worker task does)."""
    specs = load_specs(probe_ids)
    if not specs:
        return {}
    # Outside any transaction: no row is locked while the network is slow.
    outcomes = run_specs(specs)
    return record_outcomes(outcomes, claimed_at=claimed_at)
