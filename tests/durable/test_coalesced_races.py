"""Two ingest workers applying the same backlog at once, for real: threads on PostgreSQL."""

from __future__ import annotations

import pytest

from incidents.ingest import alertmanager
from incidents.ingest.services import accept_event, apply_pending_events
from incidents.models import Alert, InboundEvent, Incident
from oncall.models import Notification
from tests.concurrency import run_concurrently
from tests.ingest.factories import am_alert, am_group, make_integration

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_workers_on_one_backlog_open_each_incident_once_and_page_once(
    service, ladder, receiver, settings
):
    settings.INGEST_APPLY_BATCH_SIZE = 7  # many small batches, so the workers interleave
    settings.EVENTS_DEFER_BATCH_DISPATCH = True  # escalations start in a (here: eager) task
    integration, _ = make_integration(service, "alertmanager")
    groups = [f'{{}}:{{alertname="Group{i}"}}' for i in range(6)]
    deliveries = 0
    for round_number in range(8):
        for group in groups:
            document = am_group(am_alert(f"{group}-a"), am_alert(f"{group}-b"), group_key=group)
            normalized = alertmanager.parse(document, integration)
            accept_event(
                integration=integration, body=b"{}", normalized=normalized, apply_now=False
            )
            deliveries += 1

    applied = run_concurrently(apply_pending_events, times=2)

    assert sum(applied) == deliveries
    assert not InboundEvent.objects.pending().exists()
    assert Incident.objects.count() == len(groups)
    assert sorted(Alert.objects.values_list("count", flat=True)) == [8] * (2 * len(groups))
    for incident in Incident.objects.all():
        assert incident.timeline.filter(kind="opened").count() == 1
        assert Notification.objects.filter(incident=incident).count() == 1  # level 1, once
    restarts = [r for r in receiver.requests if r["path"] == "/restart"]
    assert len(restarts) == len(groups)  # one page (level 1's action) per incident
