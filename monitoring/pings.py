"""Recording a heartbeat ping: the hot path behind /ping/<uuid>.

On PostgreSQL a ping is one statement: an UPDATE of the heartbeat (push ``alert_after`` forward,
count the ping) whose RETURNING feeds the INSERT of the ping row, in one round trip and without
any lock held across round trips. Only when the ping changes the heartbeat's state (a success
on a heartbeat that was not up, a failure on one that was not down) does a second transaction
run, in ``monitoring.services``, which locks the row and re-checks before touching incidents.
"""

from __future__ import annotations

import uuid as uuid_lib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F

from monitoring import services
from monitoring.models import Heartbeat, HeartbeatPing, PingKind, ProbeState

_PING_SQL = """
WITH hb AS (
    UPDATE monitoring_heartbeat SET
        last_ping_at = %(now)s,
        ping_count = ping_count + 1,
        alert_after = CASE
            WHEN %(kind)s::text = 'success'
                THEN %(now)s + make_interval(secs => period_seconds + grace_seconds)
            WHEN %(kind)s::text = 'start' AND state = 'up'
                THEN LEAST(alert_after, %(now)s + make_interval(secs => grace_seconds))
            ELSE alert_after
        END,
        last_start_at = CASE WHEN %(kind)s::text = 'start' THEN %(now)s ELSE last_start_at END,
        last_exit_status = COALESCE(%(exit_status)s::smallint, last_exit_status)
    WHERE uuid = %(uuid)s
    RETURNING id, state
), ping AS (
    INSERT INTO monitoring_heartbeatping
        (heartbeat_id, at, kind, exit_status, method, remote_addr, user_agent, body)
    SELECT id, %(now)s, %(kind)s::text, %(exit_status)s::smallint, %(method)s, %(remote_addr)s::inet,
           %(user_agent)s, %(body)s
    FROM hb
)
SELECT id, state FROM hb
"""


@dataclass(frozen=True)
class Ping:
    kind: str
    exit_status: int | None
    method: str
    remote_addr: str | None
    user_agent: str
    body: str

    @classmethod
    def of(cls, *, kind, exit_status=None, method="GET", remote_addr=None, user_agent="", body=b""):
        text = body[: settings.PING_BODY_LIMIT].decode("utf-8", "replace").replace("\x00", "")
        return cls(kind, exit_status, method[:8], remote_addr, user_agent[:200], text)


def _store(uuid: uuid_lib.UUID, ping: Ping, now: datetime) -> tuple[int, str] | None:
    if connection.vendor == "postgresql":
        # psycopg's own cursor (server-side binding) so the statement is prepared once per
        # connection: planning this CTE costs the server more than executing it.
        connection.ensure_connection()
        with connection.connection.cursor() as cursor:
            cursor.execute(
                _PING_SQL,
                {
                    "now": now,
                    "kind": ping.kind,
                    "exit_status": ping.exit_status,
                    "uuid": uuid,
                    "method": ping.method,
                    "remote_addr": ping.remote_addr,
                    "user_agent": ping.user_agent,
                    "body": ping.body,
                },
                prepare=True,
            )
            row = cursor.fetchone()
        return (row[0], row[1]) if row else None
    # Embedded mode (SQLite): the same effect in three statements inside one transaction.
    with transaction.atomic():
        heartbeat = Heartbeat.objects.filter(uuid=uuid).first()
        if heartbeat is None:
            return None
        changes = {"last_ping_at": now, "ping_count": F("ping_count") + 1}
        if ping.kind == PingKind.SUCCESS:
            changes["alert_after"] = now + timedelta(
                seconds=heartbeat.period_seconds + heartbeat.grace_seconds
            )
        elif ping.kind == PingKind.START:
            changes["last_start_at"] = now
            if heartbeat.state == ProbeState.UP and heartbeat.alert_after:
                changes["alert_after"] = min(
                    heartbeat.alert_after, now + timedelta(seconds=heartbeat.grace_seconds)
                )
        if ping.exit_status is not None:
            changes["last_exit_status"] = ping.exit_status
        Heartbeat.objects.filter(pk=heartbeat.pk).update(**changes)
        HeartbeatPing.objects.create(
            heartbeat_id=heartbeat.pk,
            at=now,
            kind=ping.kind,
            exit_status=ping.exit_status,
            method=ping.method,
            remote_addr=ping.remote_addr,
            user_agent=ping.user_agent,
            body=ping.body,
        )
        return heartbeat.pk, heartbeat.state


def _failure_reason(ping: Ping) -> str:
    if ping.exit_status:
        reason = f"The job reported exit status {ping.exit_status}"
    else:
        reason = "The job reported a failure (/fail ping)"
    if ping.body:
        reason += f". Its output:\n{ping.body[:2000]}"
    return reason + "."


def record_ping(*, uuid: uuid_lib.UUID, ping: Ping, now: datetime) -> bool:
    """Record a ping; False when no heartbeat has this UUID.

    A success resolves (state not up -> up), a failure opens at once (state not down -> down);
    both only when the state really changes.
    """
    stored = _store(uuid, ping, now)
    if stored is None:
        return False
    heartbeat_id, state = stored
    if ping.kind == PingKind.SUCCESS and state != ProbeState.UP:
        services.heartbeat_recovered(heartbeat_id=heartbeat_id, now=now)
    elif ping.kind == PingKind.FAIL and state != ProbeState.DOWN:
        services.heartbeat_went_down(
            heartbeat_id=heartbeat_id, reason=_failure_reason(ping), now=now
        )
    return True
