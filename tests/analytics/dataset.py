"""A fixed data set whose every figure is computed by hand in test_metrics.py.

Range: 2026-01-01 .. 2026-04-01 (90 days = 7,776,000 s), "now" = 2026-04-15 12:00 UTC.

    #  service sev source       triggered          impact   ack      mitig.  resolved          notes
    1  A       5   integration  01-12 10:00        =trig    10:05    10:20   10:40             alerts 09:58/09:59/10:10
    2  A       3   manual       02-03 12:00        11:30    12:10    -       13:30             post-mortem impact start
    3  B       4   probe        02-15 08:00        =trig    never    -       08:30             probe fails 07:59, 08:00
    4  B       2   probe (hb)   03-01 00:00        =trig    00:15    -       open              heartbeat due 02-28 23:30
    5  A       3   manual       03-10 10:00        =trig    12:06    12:30   13:00             reopened at 12:00
    6  A       5   manual       2025-12-31 23:00   =trig    -        -       01-01 01:00       crosses the start
    7  B       4   manual       03-31 23:30        =trig    23:40    -       04-01 00:30       crosses the end
    8  A       5   manual       02-10 09:00        =trig    -        -       10:00             drill
    9  (other team) 5           02-10 09:00                                  10:00             never counted
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from accounts.models import Role
from analytics.scope import Scope
from incidents.models import Alert, Incident, Integration, Source, Status
from monitoring.models import Heartbeat, HeartbeatPing, PingKind, Probe, ProbeResult
from oncall.models import EscalationState, Notification
from postmortems.models import ActionItem, ContributingFactor, ItemStatus, PostMortem
from tests.factories import MembershipFactory, ServiceFactory, TeamFactory, UserFactory

START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2026, 4, 1, tzinfo=UTC)
NOW = datetime(2026, 4, 15, 12, 0, tzinfo=UTC)
TODAY = date(2026, 4, 15)


def at(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@dataclass
class Dataset:
    team: object
    other_team: object
    a: object
    b: object
    incidents: dict
    alice: object
    bob: object

    def scope(self, **kwargs) -> Scope:
        values = {"team": self.team, "start": START, "end": END, "now": NOW}
        values.update(kwargs)
        return Scope(**values)


def _incident(service, n, *, severity, source=Source.MANUAL, triggered, ack=None, mitigated=None,
              resolved=None, reopened=None, drill=False, dedup_key=""):  # fmt: skip
    return Incident.objects.create(
        team=service.team,
        service=service,
        title=f"incident {n}",
        severity=severity,
        source=source,
        status=Status.RESOLVED if resolved else (Status.ACKNOWLEDGED if ack else Status.TRIGGERED),
        dedup_key=dedup_key,
        is_drill=drill,
        triggered_at=triggered,
        acknowledged_at=ack,
        mitigated_at=mitigated,
        resolved_at=resolved,
        reopened_at=reopened,
        reopen_count=1 if reopened else 0,
        last_seen_at=triggered,
        updated_at=triggered,
    )


def _page(incident, user, when, *, kind="email", purpose="page", n=0):
    return Notification.objects.create(
        idempotency_key=f"test:{incident.pk}:{user.pk}:{kind}:{purpose}:{n}:{when.isoformat()}",
        incident=incident,
        level=2,
        purpose=purpose,
        kind=kind,
        recipient=user,
        target="x@example.org",
        label=str(user),
        created_at=when,
    )


def build() -> Dataset:
    team = TeamFactory()
    other_team = TeamFactory()
    a = ServiceFactory(team=team, name="A", rto_minutes=60, rpo_minutes=15,
                       downtime_cost_per_hour=600)  # fmt: skip
    b = ServiceFactory(team=team, name="B", rto_minutes=30, rpo_minutes=None,
                       downtime_cost_per_hour=1200)  # fmt: skip
    elsewhere = ServiceFactory(team=other_team, name="Elsewhere")
    alice = UserFactory(username="alice", time_zone="Europe/Berlin")
    bob = UserFactory(username="bob", time_zone="America/New_York")
    MembershipFactory(team=team, user=alice, role=Role.MANAGER)
    MembershipFactory(team=team, user=bob, role=Role.RESPONDER)

    probe = Probe.objects.create(service=b, name="b-health", url="https://b.example.org/")
    heartbeat = Heartbeat.objects.create(service=b, name="b-nightly", period_seconds=3600)

    i = {}
    i[1] = _incident(a, 1, severity=5, source=Source.INTEGRATION, triggered=at(1, 12, 10),
                     ack=at(1, 12, 10, 5), mitigated=at(1, 12, 10, 20),
                     resolved=at(1, 12, 10, 40))  # fmt: skip
    i[2] = _incident(a, 2, severity=3, triggered=at(2, 3, 12), ack=at(2, 3, 12, 10),
                     resolved=at(2, 3, 13, 30))  # fmt: skip
    i[3] = _incident(b, 3, severity=4, source=Source.PROBE, triggered=at(2, 15, 8),
                     resolved=at(2, 15, 8, 30), dedup_key=probe.dedup_key)  # fmt: skip
    i[4] = _incident(b, 4, severity=2, source=Source.PROBE, triggered=at(3, 1, 0),
                     ack=at(3, 1, 0, 15), dedup_key=heartbeat.dedup_key)  # fmt: skip
    i[5] = _incident(a, 5, severity=3, triggered=at(3, 10, 10), reopened=at(3, 10, 12),
                     ack=at(3, 10, 12, 6), mitigated=at(3, 10, 12, 30),
                     resolved=at(3, 10, 13))  # fmt: skip
    i[6] = _incident(a, 6, severity=5, triggered=at(12, 31, 23, year=2025),
                     resolved=at(1, 1, 1))  # fmt: skip
    i[7] = _incident(b, 7, severity=4, triggered=at(3, 31, 23, 30), ack=at(3, 31, 23, 40),
                     resolved=at(4, 1, 0, 30))  # fmt: skip
    i[8] = _incident(a, 8, severity=5, triggered=at(2, 10, 9), resolved=at(2, 10, 10),
                     drill=True)  # fmt: skip
    i[9] = _incident(elsewhere, 9, severity=5, triggered=at(2, 10, 9), resolved=at(2, 10, 10))

    # Detection signals.
    integration = Integration.objects.create(
        service=a, kind="alertmanager", name="am", token_prefix="t", token_hash="h" * 64
    )
    for fingerprint, starts in (("f1", at(1, 12, 9, 58)), ("f2", at(1, 12, 9, 59)),
                                ("f3", at(1, 12, 10, 10))):  # fmt: skip
        Alert.objects.create(
            integration=integration, incident=i[1], fingerprint=fingerprint, status="resolved",
            severity=5, starts_at=starts, first_seen_at=starts, last_seen_at=starts,
        )  # fmt: skip
    for when, ok, error in (
        (at(2, 15, 7, 50), False, "timeout"),  # an earlier streak: not this incident's
        (at(2, 15, 7, 58), True, ""),
        (at(2, 15, 7, 59), False, "refused"),
        (at(2, 15, 8, 0), False, "refused"),
        (at(2, 15, 8, 1), False, "refused"),  # after the trigger
    ):
        ProbeResult.objects.create(probe=probe, at=when, ok=ok, error=error)
    for when in (at(2, 28, 21, 30), at(2, 28, 22, 30)):
        HeartbeatPing.objects.create(heartbeat=heartbeat, at=when, kind=PingKind.SUCCESS,
                                     method="GET")  # fmt: skip

    # Post-mortems: impact start, data loss, factors, action items.
    pm1 = PostMortem.objects.create(incident=i[1], team=team, title="pm 1",
                                    data_loss_from=at(1, 12, 10), data_loss_until=at(1, 12, 10, 10))  # fmt: skip
    pm2 = PostMortem.objects.create(incident=i[2], team=team, title="pm 2",
                                    impact_started_at=at(2, 3, 11, 30),
                                    data_loss_from=at(2, 3, 12), data_loss_until=at(2, 3, 12, 20))  # fmt: skip
    pm8 = PostMortem.objects.create(incident=i[8], team=team, title="pm drill")
    pm9 = PostMortem.objects.create(incident=i[9], team=other_team, title="pm other")
    ContributingFactor.objects.create(
        postmortem=pm1, category="technical", factor="provider_outage"
    )
    ContributingFactor.objects.create(postmortem=pm1, category="internal",
                                      factor="configuration_error")  # fmt: skip
    ContributingFactor.objects.create(postmortem=pm2, category="internal",
                                      factor="configuration_error")  # fmt: skip
    ContributingFactor.objects.create(postmortem=pm8, category="external", factor="ddos")
    ContributingFactor.objects.create(postmortem=pm9, category="external", factor="ddos")
    ActionItem.objects.create(postmortem=pm1, title="overdue", due_date=date(2026, 4, 10))
    ActionItem.objects.create(postmortem=pm1, title="done", due_date=date(2026, 4, 1),
                              status=ItemStatus.DONE)  # fmt: skip
    ActionItem.objects.create(postmortem=pm2, title="later", due_date=date(2026, 5, 1),
                              status=ItemStatus.IN_PROGRESS)  # fmt: skip
    ActionItem.objects.create(postmortem=pm2, title="no due date")
    ActionItem.objects.create(postmortem=pm8, title="drill item", due_date=date(2026, 3, 1))
    ActionItem.objects.create(postmortem=pm9, title="other item", due_date=date(2026, 3, 1))

    # Escalation depth.
    for incident, level in ((i[1], 2), (i[3], 4), (i[7], 3), (i[8], 4), (i[9], 4)):
        EscalationState.objects.create(
            incident=incident, current_level=level, status="stopped",
            started_at=incident.triggered_at, updated_at=incident.triggered_at,
        )  # fmt: skip

    # Pages.
    _page(i[1], alice, at(1, 12, 10, 1), kind="email")
    _page(i[1], alice, at(1, 12, 10, 1), kind="webhook")
    _page(i[2], alice, at(2, 3, 12, 1))
    _page(i[3], alice, at(2, 15, 8, 1))  # Sunday
    _page(i[2], bob, at(2, 3, 14))  # 09:00 in New York
    _page(i[7], bob, at(3, 31, 23, 31))  # 19:31 in New York
    _page(i[5], bob, at(3, 10, 10, 1), purpose="inform")
    _page(i[8], bob, at(2, 10, 9, 1))  # drill
    _page(i[9], alice, at(2, 10, 9, 1))  # other team

    return Dataset(team=team, other_team=other_team, a=a, b=b, incidents=i, alice=alice, bob=bob)


HOUR = timedelta(hours=1).total_seconds()
