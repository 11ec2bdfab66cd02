"""Component states follow the open incidents of their services; overrides expire."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from freezegun import freeze_time

from incidents import services as incident_services
from incidents.actors import Actor
from statuspage.models import Component, ComponentStatus
from statuspage.services import components
from tests.factories import ServiceFactory
from tests.statuspage.factories import ComponentFactory

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("test")


def _status(component) -> str:
    component.refresh_from_db()
    return component.status_at(timezone.now())


def test_component_follows_open_severity_change_and_resolve(
    component, service, open_incident, committed
):
    assert _status(component) == ComponentStatus.OPERATIONAL
    incident = open_incident(service, severity=2)
    assert _status(component) == ComponentStatus.DEGRADED_PERFORMANCE
    committed(incident_services.change_severity, incident=incident, severity=3, actor=SYSTEM)
    assert _status(component) == ComponentStatus.PARTIAL_OUTAGE
    committed(incident_services.change_severity, incident=incident, severity=5, actor=SYSTEM)
    assert _status(component) == ComponentStatus.MAJOR_OUTAGE
    committed(incident_services.resolve, incident=incident, actor=SYSTEM)
    assert _status(component) == ComponentStatus.OPERATIONAL


def test_component_shows_the_worst_open_incident_of_all_its_services(
    page, team, open_incident, committed
):
    chat, voice = ServiceFactory(team=team), ServiceFactory(team=team)
    component = ComponentFactory(page=page, services=[chat, voice])
    minor = open_incident(chat, severity=1, title="Slightly slow")
    major = open_incident(voice, severity=4, title="Voice down")
    assert _status(component) == ComponentStatus.MAJOR_OUTAGE
    committed(incident_services.resolve, incident=major, actor=SYSTEM)
    assert _status(component) == ComponentStatus.DEGRADED_PERFORMANCE
    committed(incident_services.resolve, incident=minor, actor=SYSTEM)
    assert _status(component) == ComponentStatus.OPERATIONAL


def test_drills_never_show_on_a_component(component, service, open_incident):
    open_incident(service, severity=5, title="Game day: provider outage", is_drill=True)
    assert _status(component) == ComponentStatus.OPERATIONAL


def test_reopened_incident_shows_again(component, service, open_incident, committed):
    incident = open_incident(service, severity=3)
    committed(incident_services.resolve, incident=incident, actor=SYSTEM)
    committed(incident_services.reopen, incident=incident, actor=SYSTEM)
    assert _status(component) == ComponentStatus.PARTIAL_OUTAGE


def test_refreshing_twice_converges_on_the_same_state(component, service, open_incident):
    open_incident(service, severity=4)
    assert components.refresh_components_for_service(service_id=service.pk) == []
    assert _status(component) == ComponentStatus.MAJOR_OUTAGE


def test_override_wins_until_it_expires(component, service, open_incident, committed):
    open_incident(service, severity=4)
    start = timezone.now()
    committed(
        components.set_override,
        component=component,
        status=ComponentStatus.DEGRADED_PERFORMANCE,
        until=start + timedelta(minutes=30),
        actor=SYSTEM,
    )
    component.refresh_from_db()
    assert component.status_at(start + timedelta(minutes=29)) == "degraded_performance"
    assert component.status_at(start + timedelta(minutes=31)) == "major_outage"
    with freeze_time(start + timedelta(minutes=31)):
        assert committed(components.expire_overrides) == 1
    component.refresh_from_db()
    assert (component.override_status, component.override_until) == ("", None)


def test_override_in_the_past_or_unknown_state_is_refused(component):
    from statuspage.errors import StatusPageError

    with pytest.raises(StatusPageError, match="expiry must be in the future"):
        components.set_override(
            component=component, status="major_outage",
            until=timezone.now() - timedelta(seconds=1), actor=SYSTEM,
        )  # fmt: skip
    with pytest.raises(StatusPageError, match="is not one of"):
        components.set_override(
            component=component, status="on_fire",
            until=timezone.now() + timedelta(hours=1), actor=SYSTEM,
        )  # fmt: skip


def test_database_refuses_an_override_without_expiry(component):
    from django.db import IntegrityError

    with pytest.raises(IntegrityError):
        Component.objects.filter(pk=component.pk).update(override_status="major_outage")


def test_override_through_the_api_is_audited(component, responder, client):
    from accounts.models import AuditLog

    client.force_login(responder)
    until = (timezone.now() + timedelta(hours=1)).isoformat()
    response = client.post(
        f"/api/v1/status-components/{component.pk}/override/",
        {"status": "under_maintenance", "until": until},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "under_maintenance"
    assert AuditLog.objects.filter(action="statuspage.component_overridden").count() == 1
