"""With RabbitMQ as the broker and RabbitMQ down, alerts are still accepted and kept; the
sweep applies them later. No server needed: the broker URL points at a closed port."""

import pytest

from config import broker
from config.celery import app as celery_app
from incidents import tasks
from incidents.ingest import kick
from incidents.models import InboundEvent, Incident
from tests.ingest.factories import am_alert, am_group, make_integration

pytestmark = pytest.mark.django_db

DEAD_RABBITMQ = "amqp://guest:guest@127.0.0.1:1//"


@pytest.fixture
def rabbitmq_down(settings):
    previous = (celery_app.conf.broker_url, celery_app.conf.broker_transport_options)
    celery_app.conf.broker_url = DEAD_RABBITMQ
    celery_app.conf.broker_transport_options = broker.transport_options(
        DEAD_RABBITMQ, broker_dir=settings.BROKER_DIR
    )
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    settings.INGEST_APPLY_INLINE = False
    kick.broker_breaker.reset()
    yield
    celery_app.conf.broker_url, celery_app.conf.broker_transport_options = previous
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    kick.broker_breaker.reset()


def test_rabbitmq_down_deliveries_get_202_and_the_sweep_applies_them(
    service, rabbitmq_down, client, django_capture_on_commit_callbacks
):
    _, token = make_integration(service, "alertmanager")
    statuses = []
    for group in ("g1", "g2"):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                f"/hooks/alertmanager/{token}",
                data=am_group(am_alert("a"), group_key=group),
                content_type="application/json",
            )
        statuses.append(response.status_code)
    assert statuses == [202, 202]
    assert InboundEvent.objects.pending().count() == 2
    assert not kick.broker_breaker.allows()  # the failed publish was noticed, not hidden

    assert tasks.sweep_inbound_events() == 2
    assert Incident.objects.filter(service=service).count() == 2


def test_readyz_names_an_unreachable_rabbitmq(client, rabbitmq_down):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"].startswith("broker unreachable")
