"""What `make run` logs (issue 17): routine ticks stay below INFO, changes are one INFO line."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from config.logs import CHATTY_LOGGERS, logging_config
from incidents import services as incident_services
from incidents.actors import Actor
from incidents.models import EventDispatch
from oncall.auditor import audit_escalations


def test_celery_task_and_beat_lines_are_debug_unless_asked_for():
    quiet = logging_config(fmt="text", level="INFO")["loggers"]
    assert {name: quiet[name]["level"] for name in CHATTY_LOGGERS} == dict.fromkeys(
        CHATTY_LOGGERS, "WARNING"
    )
    assert quiet["django.request"]["level"] == "ERROR"  # 4xx are in the access line
    loud = logging_config(fmt="text", level="DEBUG")["loggers"]
    assert {loud[name]["level"] for name in CHATTY_LOGGERS} == {"DEBUG"}


@pytest.mark.django_db
def test_each_incident_transition_is_one_info_line_after_commit(
    service, responder, caplog, django_capture_on_commit_callbacks
):
    actor = Actor.of_user(responder)
    with caplog.at_level(logging.INFO, logger="incidents.services"):
        with django_capture_on_commit_callbacks(execute=True):
            incident, _ = incident_services.open_incident(
                service=service, title="Sales avatar silent", severity=4, actor=actor
            )
        with django_capture_on_commit_callbacks(execute=True):
            incident_services.add_note(incident=incident, actor=actor, text="looking")
        with django_capture_on_commit_callbacks(execute=True):
            incident_services.acknowledge(incident=incident, actor=actor)
        with django_capture_on_commit_callbacks(execute=True):
            incident_services.resolve(incident=incident, actor=actor, note="fixed")
    lines = [r.getMessage() for r in caplog.records if r.name == "incidents.services"]
    assert [line.split(" ")[1] for line in lines] == ["opened", "acknowledged", "resolved"]
    assert all(line.startswith(f"{incident.reference} ") for line in lines)
    assert all(r.levelno == logging.INFO for r in caplog.records if r.name == "incidents.services")


@pytest.mark.django_db
def test_a_rolled_back_transition_logs_nothing(
    service, responder, caplog, django_capture_on_commit_callbacks
):
    from django.db import transaction

    with (
        caplog.at_level(logging.INFO, logger="incidents.services"),
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        incident_services.open_incident(
            service=service, title="never", severity=2, actor=Actor.of_user(responder)
        )
        raise RuntimeError
    assert callbacks == []
    assert [r for r in caplog.records if r.name == "incidents.services"] == []


@pytest.mark.django_db
def test_auditor_leaves_incidents_whose_events_the_outbox_still_holds(service, caplog):
    """A demo seeded with back-dated incidents before the workers started is no repair."""
    incident, _ = incident_services.open_incident(
        service=service, title="Back-dated", severity=3, actor=Actor.system("test")
    )
    type(incident).objects.filter(pk=incident.pk).update(
        triggered_at=timezone.now() - timedelta(minutes=20)
    )
    assert EventDispatch.objects.filter(dispatched_at=None).exists()
    with caplog.at_level(logging.INFO, logger="oncall.auditor"):
        report = audit_escalations(now=timezone.now())
    assert report.started == [] and caplog.records == []
    # Once the outbox has held it past the grace, the auditor is in charge again.
    EventDispatch.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    assert audit_escalations(now=timezone.now()).started == [incident.pk]


@pytest.mark.django_db
def test_a_quiet_self_watch_tick_is_debug(settings, caplog):
    from ops import selfwatch

    settings.SELFWATCH_PING_URL = ""
    with caplog.at_level(logging.DEBUG, logger="ops.selfwatch"):
        selfwatch.record_tick()
        selfwatch.record_tick()
    assert [r.levelno for r in caplog.records if r.name == "ops.selfwatch"] == [logging.DEBUG] * 2
