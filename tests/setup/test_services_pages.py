"""Services set up in the browser: create, edit (stale edits refused), archive, the service page."""

from __future__ import annotations

import pytest

from accounts.models import AuditLog
from incidents.models import Integration, Service
from monitoring.models import ProbeState
from tests.factories import ServiceFactory
from tests.monitoring.factories import HeartbeatFactory, ProbeFactory
from tests.setup.conftest import HTMX, client_for

pytestmark = pytest.mark.django_db


def _form(team, **overrides):
    data = {
        "team": team.pk,
        "name": "Chat avatar",
        "slug": "",
        "description": "Answers customers at night",
        "rto_minutes": "30",
        "rpo_minutes": "5",
        "downtime_cost_per_hour": "1250.50",
    }
    data.update(overrides)
    return data


def test_manager_creates_a_service_with_a_slug_made_from_its_name(team, manager):
    response = client_for(manager).post("/services/new/", _form(team))
    assert response.status_code == 303
    service = Service.objects.get(slug="chat-avatar")
    assert response["Location"] == "/services/chat-avatar/"
    assert (service.team, service.rto_minutes, service.rpo_minutes) == (team, 30, 5)
    assert str(service.downtime_cost_per_hour) == "1250.50"
    audit = AuditLog.objects.get(action="service.created")
    assert audit.actor == manager and audit.team == team and audit.target == "service:chat-avatar"


def test_bad_service_input_is_shown_next_to_the_field_and_kept(team, manager):
    response = client_for(manager).post(
        "/services/new/",
        _form(team, name="Keep me", slug="Not A Slug!", rto_minutes="-3",
              downtime_cost_per_hour="NaN"),
    )  # fmt: skip
    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="id_slug_error"' in body and 'id="id_rto_minutes_error"' in body
    assert 'id="id_downtime_cost_per_hour_error"' in body
    assert 'value="Keep me"' in body
    assert not Service.objects.filter(name="Keep me").exists()


def test_taken_slug_is_refused_next_to_the_slug_field(team, manager, service):
    response = client_for(manager).post("/services/new/", _form(team, slug=service.slug))
    assert response.status_code == 400
    assert "is taken" in response.content.decode()


def test_huge_numbers_and_nul_bytes_answer_400_not_500(team, manager):
    response = client_for(manager).post(
        "/services/new/",
        _form(team, name="a\x00b", rto_minutes="99999999999999999999",
              downtime_cost_per_hour="1e400"),
    )  # fmt: skip
    assert response.status_code == 400


def test_responder_and_viewer_may_not_create_services(team, responder, viewer):
    for user in (responder, viewer):
        assert client_for(user).get("/services/new/").status_code == 403
        assert client_for(user).post("/services/new/", _form(team)).status_code == 403
    assert not Service.objects.filter(slug="chat-avatar").exists()


def test_manager_cannot_create_a_service_in_another_team(team, manager, outsider):
    other_team = outsider.memberships.get().team
    response = client_for(manager).post("/services/new/", _form(other_team))
    assert response.status_code == 400  # not a valid choice: their team is not offered
    assert not Service.objects.filter(team=other_team).exists()


def test_edit_changes_the_slug_and_records_the_old_one(service, manager):
    client = client_for(manager)
    page = client.get(f"/services/{service.slug}/edit/")
    assert page.status_code == 200
    version = page.context["form"].initial["version"]
    old_slug = service.slug
    response = client.post(
        f"/services/{old_slug}/edit/",
        {"name": "Renamed", "slug": "renamed", "description": "", "rto_minutes": "",
         "rpo_minutes": "", "downtime_cost_per_hour": "0", "version": version},
    )  # fmt: skip
    assert response.status_code == 303 and response["Location"] == "/services/renamed/"
    service.refresh_from_db()
    assert (service.name, service.slug, service.rto_minutes) == ("Renamed", "renamed", None)
    audit = AuditLog.objects.get(action="service.updated")
    assert audit.data["old_slug"] == old_slug and "slug" in audit.data["changed"]


def test_stale_edit_is_refused_not_overwritten(service, manager):
    client = client_for(manager)
    version = client.get(f"/services/{service.slug}/edit/").context["form"].initial["version"]
    Service.objects.filter(pk=service.pk).update(description="someone else's text")
    response = client.post(
        f"/services/{service.slug}/edit/",
        {"name": service.name, "slug": service.slug, "description": "mine",
         "rto_minutes": "60", "rpo_minutes": "15", "downtime_cost_per_hour": "600",
         "version": version},
    )  # fmt: skip
    assert response.status_code == 400
    assert "someone else changed it" in response.content.decode()
    service.refresh_from_db()
    assert service.description == "someone else's text"


def test_archiving_switches_off_every_incident_source(service, manager):
    from incidents.actors import Actor
    from incidents.ingest.services import create_integration

    integration, _ = create_integration(
        service=service, kind="generic", name="g", actor=Actor.of_user(manager)
    )
    probe = ProbeFactory(service=service)
    heartbeat = HeartbeatFactory(service=service, state=ProbeState.UP)
    response = client_for(manager).post(f"/services/{service.slug}/archive/")
    assert response.status_code == 303
    service.refresh_from_db()
    probe.refresh_from_db()
    heartbeat.refresh_from_db()
    integration.refresh_from_db()
    assert service.archived_at is not None
    assert not integration.is_active
    assert probe.paused and probe.state == ProbeState.PAUSED
    assert heartbeat.state == ProbeState.PAUSED
    assert AuditLog.objects.filter(action="service.archived", team=service.team).exists()
    # Declaring on it is refused, and it leaves the default list.
    assert service.slug not in client_for(manager).get("/incidents/new/").content.decode()
    assert service.name not in client_for(manager).get("/services/").content.decode()
    assert service.name in client_for(manager).get("/services/?archived=1").content.decode()
    again = client_for(manager).post(f"/services/{service.slug}/archive/", **HTMX)
    assert again.status_code == 409 and "already archived" in again.content.decode()


def test_declaring_on_an_archived_service_is_refused(service, manager):
    from incidents import services
    from incidents.actors import Actor
    from incidents.catalog import archive_service
    from incidents.errors import IncidentError

    archive_service(service=service, actor=Actor.of_user(manager))
    with pytest.raises(IncidentError, match="archived"):
        services.open_incident(service=service, title="x", severity=3, actor=Actor.of_user(manager))


def test_restore_brings_the_service_back_but_leaves_sources_off(service, manager):
    from incidents.actors import Actor
    from incidents.catalog import archive_service

    probe = ProbeFactory(service=service)
    archive_service(service=service, actor=Actor.of_user(manager))
    assert client_for(manager).post(f"/services/{service.slug}/restore/").status_code == 303
    service.refresh_from_db()
    probe.refresh_from_db()
    assert service.archived_at is None and probe.paused


@pytest.mark.parametrize("action", ["archive", "restore"])
def test_service_writes_follow_the_house_rules(service, viewer, outsider, guarded, action):
    guarded(f"/services/{service.slug}/{action}/", viewer=viewer, outsider=outsider)


def test_edit_page_refuses_viewers_and_other_teams(service, viewer, outsider):
    assert client_for(viewer).get(f"/services/{service.slug}/edit/").status_code == 403
    assert client_for(outsider).get(f"/services/{service.slug}/edit/").status_code == 404
    assert client_for().get(f"/services/{service.slug}/edit/").status_code == 302


def test_service_page_gathers_what_belongs_to_the_service(service, viewer):
    from tests.ui.factories import open_incident

    incident = open_incident(service, title="Avatar silent")
    ProbeFactory(service=service, name="health endpoint")
    HeartbeatFactory(service=service, name="nightly export")
    Integration.objects.create(
        service=service, kind="generic", name="my generic", token_prefix="abcd1234",
        token_hash="x" * 64,
    )  # fmt: skip
    from django.utils import timezone

    from postmortems.models import PostMortem
    from runbooks.models import Runbook
    from tests.factories import IncidentFactory

    runbook = Runbook.objects.create(
        team=service.team, title="Restart the avatar", next_review_at=timezone.now()
    )
    runbook.services.add(service)
    old = IncidentFactory(service=service, status="resolved")
    PostMortem.objects.create(incident=old, team=service.team, title="Why it fell silent")
    response = client_for(viewer).get(f"/services/{service.slug}/")
    assert response.status_code == 200
    body = response.content.decode()
    for text in ("Avatar silent", incident.reference, "health endpoint", "nightly export",
                 "my generic", service.slug, "Restart the avatar", "Why it fell silent"):  # fmt: skip
        assert text in body
    # A viewer sees no configuration buttons.
    assert f"/services/{service.slug}/edit/" not in body
    assert "/integrations/new/" not in body


def test_service_page_of_another_team_is_404(service, outsider):
    assert client_for(outsider).get(f"/services/{service.slug}/").status_code == 404


def test_service_page_query_count_does_not_grow_with_its_objects(
    service, viewer, django_assert_max_num_queries
):
    for n in range(5):
        ProbeFactory(service=service)
        HeartbeatFactory(service=service)
    client = client_for(viewer)
    with django_assert_max_num_queries(25):
        assert client.get(f"/services/{service.slug}/").status_code == 200


def test_overview_links_each_service_to_its_page(service, viewer):
    other = ServiceFactory(team=service.team)
    body = client_for(viewer).get("/services/").content.decode()
    assert f'href="/services/{service.slug}/"' in body
    assert f'href="/services/{other.slug}/"' in body


def test_service_api_writes_go_through_the_catalogue_and_leave_audit_rows(team, manager):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(manager)
    created = api.post(
        "/api/v1/services/",
        {"team": team.pk, "name": "Voice bot", "slug": "voice-bot", "rto_minutes": 20},
        format="json",
    )
    assert created.status_code == 201 and created.json()["archived_at"] is None
    service = Service.objects.get(slug="voice-bot")
    changed = api.patch(f"/api/v1/services/{service.pk}/", {"rpo_minutes": 3}, format="json")
    assert changed.status_code == 200
    service.refresh_from_db()
    assert service.rpo_minutes == 3
    actions = list(
        AuditLog.objects.filter(target="service:voice-bot").values_list("action", flat=True)
    )
    assert sorted(actions) == ["service.created", "service.updated"]
