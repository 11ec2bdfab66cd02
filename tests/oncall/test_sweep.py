"""The beat sweep: fires due steps and resends due deliveries; running it twice is harmless."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.template.loader import render_to_string
from django.utils import timezone

from incidents.panels import panels_for
from oncall import tasks
from oncall.models import EscalationState, Notification, NotificationStatus

pytestmark = pytest.mark.django_db


def test_sweep_twice_fires_a_due_step_once(ladder, service, open_incident, committed):
    incident = open_incident(service, severity=4)
    EscalationState.objects.filter(incident=incident).update(
        next_due_at=timezone.now() - timedelta(seconds=1)
    )
    first = committed(tasks.sweep)
    second = committed(tasks.sweep)
    assert first["fired"] == 1 and second["fired"] == 0
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [ladder.engineer.email, ladder.specialist.email]
    )


def test_sweep_sends_a_delivery_whose_task_was_lost(ladder, service, open_incident, committed):
    from config.celery import app

    previous_broker = app.conf.broker_url
    app.conf.task_always_eager = False
    app.conf.broker_url = "memory://"  # the after-commit enqueue goes nowhere a worker reads
    try:
        incident = open_incident(service, severity=4)
    finally:
        app.conf.task_always_eager = True
        app.conf.broker_url = previous_broker
    row = Notification.objects.get(incident=incident)
    assert row.status == NotificationStatus.QUEUED and mail.outbox == []
    committed(tasks.sweep)
    row.refresh_from_db()
    assert row.status == NotificationStatus.SENT and len(mail.outbox) == 1


def test_incident_room_panel_shows_level_and_deliveries(ladder, service, open_incident, viewer):
    incident = open_incident(service, severity=4)
    ((panel, context),) = [(p, c) for p, c in panels_for(incident, viewer) if p.key == "escalation"]
    html = render_to_string(panel.template, {**context, "incident": incident})
    assert "L2 on-call engineer" in html and str(ladder.engineer) in html and "sent" in html
