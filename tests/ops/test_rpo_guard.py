"""The RPO guard opens an incident when a service's last good backup is older than its RPO
and resolves it when a backup succeeds; the post-mortem takes the data-loss window from it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.models import Status
from monitoring.models import Heartbeat, HeartbeatPing, PingKind
from ops import rpo
from ops.models import BackupJob
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(team):
    service = ServiceFactory(team=team, name="Sales avatar", rpo_minutes=240)
    heartbeat = Heartbeat.objects.create(service=service, name="model weights backup",
                                         period_seconds=3600, grace_seconds=600)  # fmt: skip
    return BackupJob.objects.create(heartbeat=heartbeat, what="model weights")


def ping(job, at, kind=PingKind.SUCCESS):
    HeartbeatPing.objects.create(heartbeat=job.heartbeat, at=at, kind=kind, method="POST")


def rpo_incidents(job):
    from incidents.models import Incident

    return Incident.objects.filter(dedup_key=job.dedup_key)


def test_opens_when_the_last_good_backup_is_older_than_the_rpo(job):
    now = timezone.now()
    ping(job, now - timedelta(hours=7))
    ping(job, now - timedelta(hours=1), kind=PingKind.FAIL)  # a failed run is no good backup
    assert rpo.check_all(now=now) == {"jobs": 1, "opened": 1, "resolved": 0}
    incident = rpo_incidents(job).get()
    assert incident.title == "RPO at risk: last good backup 7 h ago, RPO 4 h"
    assert incident.status == Status.TRIGGERED and incident.severity == 3
    assert incident.service == job.heartbeat.service
    # Checked again a minute later: still one incident, no repeat noise.
    assert rpo.check_all(now=now + timedelta(minutes=1))["opened"] == 0
    assert rpo_incidents(job).count() == 1


def test_stays_quiet_within_the_rpo(job):
    now = timezone.now()
    ping(job, now - timedelta(hours=3))
    assert rpo.check_all(now=now) == {"jobs": 1, "opened": 0, "resolved": 0}
    assert not rpo_incidents(job).exists()


def test_a_job_that_never_reported_opens_after_the_rpo(job):
    later = job.created_at + timedelta(hours=5)
    rpo.check_all(now=later)
    assert rpo_incidents(job).get().title.startswith("RPO at risk: last good backup never")


def test_resolves_when_a_backup_succeeds_and_the_postmortem_gets_the_window(
    job, django_capture_on_commit_callbacks
):
    now = timezone.now()
    last_good = now - timedelta(hours=7)
    ping(job, last_good)
    with django_capture_on_commit_callbacks(execute=True):
        rpo.check_all(now=now)
    incident = rpo_incidents(job).get()

    new_backup = now + timedelta(minutes=30)
    ping(job, new_backup)
    with django_capture_on_commit_callbacks(execute=True):
        result = rpo.check_all(now=new_backup + timedelta(minutes=1))
    assert result["resolved"] == 1
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED
    assert "a good backup arrived" in incident.resolution_note

    from postmortems.models import PostMortem

    postmortem = PostMortem.objects.get(incident=incident)
    assert postmortem.data_loss_from == last_good
    assert postmortem.data_loss_until == new_backup


def test_services_without_an_rpo_are_not_guarded(job):
    service = job.heartbeat.service
    service.rpo_minutes = None
    service.save()
    assert rpo.check_all(now=timezone.now() + timedelta(days=30))["jobs"] == 0
