"""Real concurrency against the running endpoint on PostgreSQL."""

import json
import threading
import urllib.error
import urllib.request

import pytest

from incidents.models import Alert, Incident
from tests.ingest.factories import am_alert, am_group, make_integration

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _post_in_parallel(url: str, body: bytes, n: int) -> list[int]:
    statuses: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(n)

    def send():
        request = urllib.request.Request(
            url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        start.wait()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=send) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def test_fifty_identical_alertmanager_deliveries_make_one_incident(live_server, service, settings):
    settings.INGEST_APPLY_INLINE = True
    _, token = make_integration(service, "alertmanager")
    body = json.dumps(am_group(am_alert("a"), am_alert("b"))).encode()

    statuses = _post_in_parallel(f"{live_server.url}/hooks/alertmanager/{token}", body, 50)

    assert sorted(set(statuses)) == [202]
    assert len(statuses) == 50
    assert Incident.objects.count() == 1
    assert Alert.objects.count() == 2
    assert sorted(Alert.objects.values_list("count", flat=True)) == [50, 50]


def test_fifty_identical_pagerduty_triggers_make_one_incident(live_server, service, settings):
    settings.INGEST_APPLY_INLINE = True
    _, token = make_integration(service, "pagerduty")
    body = json.dumps(
        {
            "routing_key": token,
            "event_action": "trigger",
            "dedup_key": "race",
            "payload": {"summary": "Bot down", "source": "probe", "severity": "critical"},
        }
    ).encode()

    statuses = _post_in_parallel(f"{live_server.url}/v2/enqueue", body, 50)

    assert statuses == [202] * 50
    incident = Incident.objects.get()
    assert incident.alerts.get().count == 50


def test_two_workers_applying_the_same_backlog_apply_each_event_once(service, settings):
    """Two ingest workers (threads here) drain one backlog: no deadlock, nothing twice."""
    from django.db import connection

    from incidents.ingest import alertmanager
    from incidents.ingest.services import accept_event, apply_pending_events
    from incidents.models import InboundEvent

    integration, _ = make_integration(service, "alertmanager")
    for i in range(60):
        group = am_group(am_alert(f"a{i % 3}"), am_alert("shared"), group_key=f"g{i % 4}")
        accept_event(
            integration=integration,
            body=b"{}",
            normalized=alertmanager.parse(group, integration),
            apply_now=False,
        )
    applied: list[int] = []
    errors: list[BaseException] = []

    def worker():
        try:
            applied.append(apply_pending_events(max_seconds=30))
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(applied) == 60
    assert InboundEvent.objects.pending().count() == 0
    assert Incident.objects.count() == 4
    # Each group got 15 deliveries; "shared" is in every one of them.
    assert sorted(Alert.objects.filter(fingerprint="shared").values_list("count", flat=True)) == [
        15,
        15,
        15,
        15,
    ]
