from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from monitoring import engine, stats, tasks
from monitoring.models import Probe, SchedulerTick
from tests.monitoring.factories import ProbeFactory


@pytest.mark.django_db
def test_claim_moves_due_probes_one_interval_on_keeping_their_phase(service):
    now = timezone.now()
    due = ProbeFactory(service=service, next_due_at=now - timedelta(seconds=3), interval_seconds=60)
    late = ProbeFactory(service=service, next_due_at=now - timedelta(hours=1), interval_seconds=60)
    future = ProbeFactory(service=service, next_due_at=now + timedelta(seconds=5))

    assert sorted(engine.claim_due_probes(now=now, limit=100)) == sorted([due.pk, late.pk])
    due.refresh_from_db()
    late.refresh_from_db()
    assert due.next_due_at == now - timedelta(seconds=3) + timedelta(seconds=60)
    assert late.next_due_at == now + timedelta(seconds=60)
    # Claimed for this interval: a second claim at the same moment finds nothing.
    assert engine.claim_due_probes(now=now, limit=100) == []
    assert engine.claim_due_probes(now=now + timedelta(seconds=4), limit=100) == []
    assert sorted(engine.claim_due_probes(now=now + timedelta(seconds=57), limit=100)) == sorted(
        [due.pk, future.pk]
    )


@pytest.mark.django_db
def test_claim_limit(service):
    now = timezone.now()
    for _ in range(5):
        ProbeFactory(service=service, next_due_at=now)
    assert len(engine.claim_due_probes(now=now, limit=3)) == 3
    assert len(engine.claim_due_probes(now=now, limit=3)) == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_schedulers_run_each_probe_once_per_interval(service):
    now = timezone.now()
    probes = [
        ProbeFactory(service=service, next_due_at=now - timedelta(seconds=i % 10))
        for i in range(300)
    ]
    claims: list[list[int]] = []
    barrier = threading.Barrier(4)

    def scheduler():
        try:
            barrier.wait()
            mine = []
            for _ in range(10):  # small claims, interleaving with the other schedulers
                mine += engine.claim_due_probes(now=now, limit=40)
            claims.append(mine)
        finally:
            connection.close()

    threads = [threading.Thread(target=scheduler) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    everything = [pk for claim in claims for pk in claim]
    assert sorted(everything) == sorted(p.pk for p in probes)  # all claimed, none twice
    assert len(claims) == 4
    assert not Probe.objects.filter(next_due_at__lte=now).exists()


@pytest.mark.django_db
def test_scheduler_task_sends_batches_and_records_its_tick(service, settings, monkeypatch):
    settings.PROBE_BATCH_SIZE = 2
    sent = []
    monkeypatch.setattr(tasks.run_probe_batch, "delay", lambda ids, at: sent.append(ids))
    for _ in range(5):
        ProbeFactory(service=service, next_due_at=timezone.now() - timedelta(seconds=1))
    assert tasks.schedule_due_probes() == 5
    assert [len(batch) for batch in sent] == [2, 2, 1]
    assert SchedulerTick.objects.get(name=stats.SCHEDULER).at is not None


@pytest.mark.django_db
def test_readiness_reports_a_stopped_scheduler(service, client, settings):
    assert stats.scheduler_problem() is None  # nothing to watch yet
    ProbeFactory(service=service)
    assert "never run" in stats.scheduler_problem()
    now = timezone.now()
    stats.record_tick(now=now)
    assert stats.scheduler_problem(now=now + timedelta(seconds=5)) is None
    problem = stats.scheduler_problem(
        now=now + timedelta(seconds=settings.PROBE_SCHEDULER_STALE_SECONDS + 1)
    )
    assert "last ran" in problem

    SchedulerTick.objects.update(at=now - timedelta(minutes=10))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "probe scheduler last ran" in response.json()["checks"]["probe_scheduler"]
