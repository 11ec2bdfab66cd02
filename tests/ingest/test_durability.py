"""Nothing answered 2xx is lost: broker outages, worker crashes and bugs leave pending events
that the sweep applies later."""

import pytest

from config.celery import app as celery_app
from incidents import tasks
from incidents.ingest import kick
from incidents.models import InboundEvent, Incident
from tests.ingest.factories import am_alert, am_group, make_integration

pytestmark = pytest.mark.django_db


@pytest.fixture
def deferred(settings):
    settings.INGEST_APPLY_INLINE = False
    kick.broker_breaker.reset()
    yield settings
    kick.broker_breaker.reset()


def _reset_producer_pool():
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def broker_down():
    """Point Celery at a port where nothing listens, as during a Redis outage."""
    old = celery_app.conf.broker_url
    celery_app.conf.broker_url = "redis://127.0.0.1:1/0"
    _reset_producer_pool()
    yield
    celery_app.conf.broker_url = old
    _reset_producer_pool()


def test_broker_unreachable_deliveries_get_202_and_the_sweep_applies_them_later(
    service, deferred, broker_down, post_json, django_capture_on_commit_callbacks
):
    _, token = make_integration(service, "alertmanager")
    url = f"/hooks/alertmanager/{token}"
    statuses = []
    for group in ("g1", "g2", "g3"):
        with django_capture_on_commit_callbacks(execute=True):
            statuses.append(post_json(url, am_group(am_alert("a"), group_key=group)).status_code)

    assert statuses == [202, 202, 202]
    assert InboundEvent.objects.pending().count() == 3
    assert Incident.objects.count() == 0
    assert not kick.broker_breaker.allows()  # later requests skip the dead broker at once

    # The broker is back; the periodic sweep runs on a worker.
    assert tasks.sweep_inbound_events() == 3
    assert Incident.objects.count() == 3
    assert InboundEvent.objects.pending().count() == 0
    # Running it twice (two beats) is harmless.
    assert tasks.sweep_inbound_events() == 0
    assert Incident.objects.count() == 3


def test_deferred_delivery_is_applied_by_the_ingest_task(
    service, deferred, post_json, django_capture_on_commit_callbacks, monkeypatch
):
    _, token = make_integration(service, "alertmanager")
    # A worker that picks the task up at once (the broker itself is exercised above).
    monkeypatch.setattr(tasks.apply_inbound_events, "delay", tasks.apply_inbound_events)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_json(f"/hooks/alertmanager/{token}", am_group(am_alert("a")))
    assert response.status_code == 202
    assert "incident" not in response.json()  # answered before it was applied
    assert Incident.objects.count() == 1
    event = InboundEvent.objects.get()
    assert event.processed_at is not None and event.attempts == 1
    # A redelivered task does nothing.
    assert tasks.apply_inbound_events() == 0
    assert Incident.objects.get().alerts.get().count == 1


def test_a_bug_while_applying_inline_still_answers_202_and_keeps_the_event(
    alertmanager, post_json, monkeypatch
):
    from incidents.ingest import services

    def broken(**kwargs):
        raise RuntimeError("bug in applying")

    monkeypatch.setattr(services, "apply_normalized", broken)
    _, token = alertmanager
    response = post_json(f"/hooks/alertmanager/{token}", am_group(am_alert("a")))
    assert response.status_code == 202
    event = InboundEvent.objects.get()
    assert event.processed_at is None and "bug in applying" in event.error
    assert Incident.objects.count() == 0

    monkeypatch.undo()
    assert tasks.sweep_inbound_events() == 1
    assert Incident.objects.count() == 1


def test_event_failing_repeatedly_is_given_up_after_max_attempts(service, deferred, monkeypatch):
    from incidents.ingest import coalescing, services

    integration, _ = make_integration(service, "generic")
    event = services.accept_event(
        integration=integration,
        body=b"{}",
        normalized={"action": "alerts", "incident_key": "k", "alerts": [], "title": "t"},
        apply_now=False,
    )
    monkeypatch.setattr(  # the batch applies each delivery that changes something alone
        coalescing, "apply_normalized", lambda **kw: (_ for _ in ()).throw(RuntimeError("x"))
    )
    for _ in range(services.MAX_ATTEMPTS):
        tasks.sweep_inbound_events()
    event.refresh_from_db()
    assert event.attempts == services.MAX_ATTEMPTS
    assert event.processed_at is not None  # no longer retried, kept for a human
    assert tasks.sweep_inbound_events() == 0


def test_sweep_is_declared_as_a_periodic_task():
    from django.apps import apps

    config = apps.get_app_config("incidents")
    task_name, seconds = config.periodic_tasks["ingest-sweep"]
    assert task_name == "incidents.tasks.sweep_inbound_events"
    assert seconds > 0
    assert task_name in celery_app.tasks


def test_kicks_are_coalesced_until_the_task_starts_its_scan(
    service, deferred, post_json, django_capture_on_commit_callbacks, monkeypatch
):
    published = []
    monkeypatch.setattr(tasks.apply_inbound_events, "delay", lambda: published.append(1))
    _, token = make_integration(service, "alertmanager")
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            post_json(f"/hooks/alertmanager/{token}", am_group(am_alert("a")))
    assert len(published) == 1  # one queued task will see all three events
    kick.scan_started()  # the task begins: the next delivery must publish again
    with django_capture_on_commit_callbacks(execute=True):
        post_json(f"/hooks/alertmanager/{token}", am_group(am_alert("a")))
    assert len(published) == 2
    assert tasks.apply_inbound_events() == 4
    assert Incident.objects.get().alerts.get().count == 4


@pytest.mark.redis
def test_kick_flag_in_real_redis_coalesces(
    service,
    deferred,
    post_json,
    django_capture_on_commit_callbacks,
    monkeypatch,
    redis_url,
    redis_prefix,
    settings,
):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": redis_prefix,
        }
    }
    published = []
    monkeypatch.setattr(tasks.apply_inbound_events, "delay", lambda: published.append(1))
    _, token = make_integration(service, "alertmanager")
    kick.scan_started()
    try:
        for _ in range(2):
            with django_capture_on_commit_callbacks(execute=True):
                post_json(f"/hooks/alertmanager/{token}", am_group(am_alert("a")))
        assert len(published) == 1
        kick.scan_started()
        with django_capture_on_commit_callbacks(execute=True):
            post_json(f"/hooks/alertmanager/{token}", am_group(am_alert("a")))
        assert len(published) == 2
    finally:
        kick.scan_started()


SEQUENCES = {
    "repeats and resolution": [
        [("a", "firing"), ("b", "firing")],
        [("a", "firing"), ("b", "firing")],
        [("a", "firing"), ("b", "firing")],
        [("a", "resolved"), ("b", "firing")],
        [("a", "resolved"), ("b", "firing")],
        [("a", "resolved"), ("b", "resolved")],
        [("a", "resolved"), ("b", "resolved")],
        [("a", "firing")],
        [("a", "firing")],
    ],
    "ha peer lagging": [
        [("a", "firing")],
        [("a", "resolved")],
        [("a", "firing")],
        [("a", "firing")],
    ],
}


def _state():
    incidents = [
        (
            i.status,
            sorted(i.alerts.values_list("fingerprint", "status", "count")),
            list(i.timeline.order_by("id").values_list("kind", flat=True)),
        )
        for i in Incident.objects.order_by("id")
    ]
    return incidents


@pytest.mark.parametrize("sequence", list(SEQUENCES))
def test_batched_worker_ends_in_the_same_state_as_applying_one_by_one(service, settings, sequence):
    """The worker's batch (with identical repeats counted in bulk) equals inline applying."""
    from incidents.ingest import alertmanager
    from incidents.ingest.services import accept_event, apply_pending_events

    def deliveries(integration):
        for alerts in SEQUENCES[sequence]:
            group = am_group(*(am_alert(fp, status) for fp, status in alerts))
            yield alertmanager.parse(group, integration)

    inline_integration, _ = make_integration(service, "alertmanager", name="one by one")
    for normalized in deliveries(inline_integration):
        accept_event(
            integration=inline_integration, body=b"{}", normalized=normalized, apply_now=True
        )
    one_by_one = _state()
    Incident.objects.all().delete()

    batch_integration, _ = make_integration(service, "alertmanager", name="batched")
    for normalized in deliveries(batch_integration):
        accept_event(
            integration=batch_integration, body=b"{}", normalized=normalized, apply_now=False
        )
    assert apply_pending_events() == len(SEQUENCES[sequence])
    assert _state() == one_by_one


def test_sweep_prunes_applied_events_past_retention_and_keeps_pending_ones(
    alertmanager, post_json, settings
):
    from datetime import timedelta

    from django.utils import timezone

    settings.INGEST_EVENT_RETENTION_DAYS = 30
    _, token = alertmanager
    for _ in range(3):
        post_json(f"/hooks/alertmanager/{token}", am_group(am_alert("a")))
    old, recent, pending = InboundEvent.objects.order_by("id")
    long_ago = timezone.now() - timedelta(days=31)
    InboundEvent.objects.filter(pk=old.pk).update(processed_at=long_ago)
    InboundEvent.objects.filter(pk=pending.pk).update(processed_at=None, received_at=long_ago)
    tasks.sweep_inbound_events()
    assert not InboundEvent.objects.filter(pk=old.pk).exists()
    assert InboundEvent.objects.filter(pk=recent.pk).exists()
    # The pending one was applied by the same sweep, now, and is kept.
    assert InboundEvent.objects.get(pk=pending.pk).processed_at is not None
