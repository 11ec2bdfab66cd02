"""GET /api/v1/services/<slug>/degradation: state, message, since; public or by token; ETag."""

from __future__ import annotations

import pytest

from accounts.tokens import create_token
from incidents import services as incident_services
from incidents.actors import Actor
from statuspage.degradation import current
from tests.statuspage.factories import TemplateFactory

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("test")


def _url(service) -> str:
    return f"/api/v1/services/{service.slug}/degradation"


def test_operational_service_says_nothing(component, service, client):
    response = client.get(_url(service))
    assert response.status_code == 200
    assert response.json() == {"service": service.slug, "state": "operational",
                               "degraded": False, "language": "en", "message": "",
                               "messages": {"en": ""}, "since": None}  # fmt: skip


def test_degraded_service_says_the_templates_words(
    team, page, component, service, open_incident, committed, client
):
    page.auto_post_first_update = True
    page.save()
    TemplateFactory(team=team, degradation_message="Replies from {service} are slow right now.")
    open_incident(service, severity=3)
    body = client.get(_url(service)).json()
    assert body["state"] == "partial_outage" and body["degraded"] is True
    assert body["message"] == f"Replies from {service.name} are slow right now."
    assert body["since"]
    assert current(service).message == body["message"]


def test_without_an_active_update_a_default_sentence_is_said(
    component, service, open_incident, client
):
    open_incident(service, severity=5)
    body = client.get(_url(service)).json()
    assert body["state"] == "major_outage"
    assert "cannot help properly right now" in body["message"]


def test_etag_answers_304_until_the_state_changes(
    component, service, open_incident, committed, client
):
    first = client.get(_url(service))
    etag = first["ETag"]
    again = client.get(_url(service), HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again["ETag"] == etag and again.content == b""
    incident = open_incident(service, severity=4)
    changed = client.get(_url(service), HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag
    committed(incident_services.resolve, incident=incident, actor=SYSTEM)
    assert client.get(_url(service), HTTP_IF_NONE_MATCH=changed["ETag"]).status_code == 200


def test_served_from_cache_without_queries(
    component, service, client, django_assert_max_num_queries
):
    client.get(_url(service))
    with django_assert_max_num_queries(0):
        assert client.get(_url(service)).status_code == 200


def test_private_setting_needs_a_read_only_token_of_the_team(
    page, component, service, viewer, outsider, client
):
    page.degradation_public = False
    page.save()
    assert client.get(_url(service)).status_code == 404
    stranger = create_token(
        user=outsider, name="x", read_only=True, actor=Actor.of_user(outsider)
    ).plaintext
    assert client.get(_url(service), HTTP_AUTHORIZATION=f"Bearer {stranger}").status_code == 404
    token = create_token(
        user=viewer, name="avatar", read_only=True, actor=Actor.of_user(viewer)
    ).plaintext
    response = client.get(_url(service), HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200 and "private" in response["Cache-Control"]


def test_unknown_service_is_404(db, client):
    response = client.get("/api/v1/services/nope/degradation")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_model_route_with_no_tier_left_says_the_status_pages_words(
    team, page, component, service, open_incident, committed, client
):
    """llm's failover answer and /degradation say the same sentence people wrote in advance."""
    from llm.models import LlmPolicy
    from llm.routing import degradation_message

    LlmPolicy.objects.create(service=service, degradation_message="Failover text.")
    assert degradation_message(service) == "Failover text."  # nothing published yet
    page.auto_post_first_update = True
    page.save()
    TemplateFactory(team=team, degradation_message="{service} is resting; back soon.")
    open_incident(service, severity=5)
    said = client.get(_url(service)).json()["message"]
    assert said == f"{service.name} is resting; back soon."
    assert degradation_message(service) == said
