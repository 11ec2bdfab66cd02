"""The probe engine: claim due probes, run a batch, record what happened.

Queries per batch: one to load the specs, then per chunk of finished checks one transaction with
one ``SELECT ... FOR UPDATE``, one INSERT of all results and one UPDATE of all probe rows, plus
the incident calls for the probes whose state actually changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction

from incidents.outbox import deferred_dispatch
from monitoring import injection, services
from monitoring.checks import Outcome, ProbeSpec, stream_kind_outcomes, stream_outcomes
from monitoring.models import Probe, ProbeResult, ProbeState
from monitoring.probe_kinds import probe_kind


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


# PostgreSQL: one statement each for all rows of a chunk, with one array parameter per column,
# so the SQL text is constant (parsed once) whatever the chunk size.
_INSERT_RESULTS_SQL = """
INSERT INTO monitoring_proberesult (probe_id, at, ok, latency_ms, status_code, error, message)
SELECT * FROM unnest(%s::bigint[], %s::timestamptz[], %s::boolean[], %s::int[], %s::int[],
                     %s::text[], %s::text[])
"""
_UPDATE_PROBES_SQL = """
UPDATE monitoring_probe AS p SET
    state = v.state, consecutive_failures = v.cf, consecutive_slow = v.cslow,
    consecutive_successes = v.cs, last_checked_at = v.checked, last_latency_ms = v.latency,
    last_status_code = v.status, last_error = v.error,
    state_changed_at = COALESCE(v.changed, p.state_changed_at)
FROM unnest(%s::bigint[], %s::text[], %s::int[], %s::int[], %s::int[], %s::timestamptz[],
            %s::int[], %s::int[], %s::text[], %s::timestamptz[])
    AS v(id, state, cf, cslow, cs, checked, latency, status, error, changed)
WHERE p.id = v.id
"""
_LOCK_COLUMNS = (
    "pk", "state", "consecutive_failures", "consecutive_slow", "consecutive_successes",
    "last_checked_at", "failures_to_open", "successes_to_recover",
)  # fmt: skip
_UPDATE_COLUMNS = (
    "state", "consecutive_failures", "consecutive_slow", "consecutive_successes",
    "last_checked_at", "last_latency_ms", "last_status_code", "last_error", "state_changed_at",
)  # fmt: skip


def _write(result_rows: list[tuple], probe_rows: list[tuple]) -> None:
    """Insert the result rows and update the probe rows (both as tuples, in column order)."""
    if not probe_rows:
        return
    if _is_postgres():
        with connection.cursor() as cursor:
            cursor.execute(
                _INSERT_RESULTS_SQL, [list(col) for col in zip(*result_rows, strict=True)]
            )
            cursor.execute(_UPDATE_PROBES_SQL, [list(col) for col in zip(*probe_rows, strict=True)])
        return
    ProbeResult.objects.bulk_create(
        ProbeResult(
            probe_id=r[0], at=r[1], ok=r[2], latency_ms=r[3], status_code=r[4], error=r[5],
            message=r[6],
        )
        for r in result_rows
    )  # fmt: skip
    probes = []
    for row in probe_rows:
        probe = Probe(pk=row[0], **dict(zip(_UPDATE_COLUMNS, row[1:], strict=True)))
        probes.append(probe)
    changed = [p for p in probes if p.state_changed_at is not None]
    unchanged = [p for p in probes if p.state_changed_at is None]
    Probe.objects.bulk_update(changed, _UPDATE_COLUMNS)
    Probe.objects.bulk_update(unchanged, _UPDATE_COLUMNS[:-1])


def record_outcomes(outcomes: list[Outcome], *, claimed_at: datetime) -> dict[int, str]:
    """Store results and advance each probe's state; open or resolve incidents on changes.

    Returns ``{probe_id: new_state}`` for the probes whose state changed. A batch delivered
    twice (a worker died before acknowledging it) records nothing the second time: a probe
    already checked since ``claimed_at`` is skipped. The probe rows are locked (in id order,
    so concurrent writers cannot deadlock) only for this short transaction.
    """
    if not outcomes:
        return {}
    outcomes = injection.inject(outcomes)
    by_probe = {o.probe_id: o for o in outcomes}
    changed: dict[int, str] = {}
    with transaction.atomic():
        locked = (
            Probe.objects.select_for_update()
            .filter(pk__in=list(by_probe), paused=False)
            .order_by("pk")
            .values_list(*_LOCK_COLUMNS)
        )
        result_rows, probe_rows, transitions = [], [], {}
        for pk, state, failures, slow, successes, checked, to_open, to_recover in locked:
            if checked is not None and checked >= claimed_at:
                continue
            outcome = by_probe[pk]
            new_state, streaks = advance(
                state=state,
                streaks=Streaks(failures, slow, successes),
                kind=outcome.kind,
                failures_to_open=to_open,
                successes_to_recover=to_recover,
            )
            state_changed_at = None
            if new_state != state:
                state_changed_at = outcome.at
                changed[pk] = new_state
                if services.transition_touches_incident(old_state=state, new_state=new_state):
                    transitions[pk] = state
            message = outcome.message[:500]
            result_rows.append(
                (pk, outcome.at, outcome.ok, outcome.latency_ms, outcome.status_code,
                 outcome.error, message)
            )  # fmt: skip
            probe_rows.append(
                (pk, new_state, streaks.failures, streaks.slow, streaks.successes, outcome.at,
                 outcome.latency_ms, outcome.status_code, "" if outcome.ok else message,
                 state_changed_at)
            )  # fmt: skip
        _write(result_rows, probe_rows)
        if transitions:
            for probe in Probe.objects.select_related("service").filter(pk__in=list(transitions)):
                services.apply_probe_transition(
                    probe=probe, old_state=transitions[probe.pk], outcome=by_probe[probe.pk]
                )
    return changed


def run_batch(probe_ids: list[int], *, claimed_at: datetime) -> dict[int, str]:
    """Run the claimed probes concurrently and record the outcomes (what a worker task does).

    Outcomes are written in chunks as they arrive, so the database writes of the first checks
    overlap the network time of the rest. No row is locked while a request is in flight: each
    chunk is one short transaction.
    """
    specs = load_specs(probe_ids)
    changed: dict[int, str] = {}
    if not specs:
        return changed
    # When a target dies, every probe on it opens an incident in the same few chunks: what
    # subscribers do on open (escalation, runbooks, status page) runs in a worker, so the
    # next chunk is recorded (and its incidents opened) without waiting for it.
    with deferred_dispatch():
        for outcomes in stream_outcomes(specs, chunk=settings.PROBE_WRITE_CHUNK):
            changed.update(record_outcomes(outcomes, claimed_at=claimed_at))
    return changed


def run_kind_batch(kind_key: str, ids: list[int], *, claimed_at: datetime) -> int:
    """Run claimed checks of a registered probe kind (monitoring.probe_kinds) and record them."""
    kind = probe_kind(kind_key)
    specs = kind.load(ids)
    done = 0
    for outcomes in stream_kind_outcomes(specs, check=kind.check, chunk=settings.PROBE_WRITE_CHUNK):
        kind.record(outcomes, claimed_at)
        done += len(outcomes)
    return done
