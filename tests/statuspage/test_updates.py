"""First public updates drafted from templates, approval in the room, posting from the API."""

from __future__ import annotations

import pytest
from django.utils import timezone

from accounts.models import AuditLog
from incidents import services as incident_services
from incidents.actors import Actor
from statuspage.models import PublicIncident, PublicUpdate, UpdateStatus
from statuspage.services import templates, updates
from tests.statuspage.factories import TemplateFactory

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("test")
HTMX = {"HTTP_HX_REQUEST": "true"}


def test_template_naming_more_matching_parts_wins(team, service, component, open_incident):
    TemplateFactory(team=team, name="generic", title="Generic", body="Generic words")
    TemplateFactory(
        team=team, name="for the service", title="Service", body="x", services=[service]
    )
    TemplateFactory(
        team=team, name="rate limit", title="Rate limited", body="y", services=[service],
        match_labels={"cause": "rate_limit*"},
    )  # fmt: skip
    TemplateFactory(team=team, name="other cause", title="Other", body="z",
                    match_labels={"cause": "provider_down"})  # fmt: skip
    incident = open_incident(service, severity=3, data={"cause": "rate_limit_429"})
    assert templates.best_template(incident).name == "rate limit"
    public = PublicIncident.objects.get(incident=incident)
    assert public.name == "Rate limited"


def test_template_outside_its_severity_range_or_team_does_not_match(
    team, service, component, open_incident
):
    TemplateFactory(team=team, name="sev5 only", min_severity=5, max_severity=5, body="a")
    TemplateFactory(name="another team's", body="b")
    incident = open_incident(service, severity=3)
    assert templates.best_template(incident) is None
    draft = PublicUpdate.objects.get(public_incident__incident=incident)
    assert "investigating problems with Website chat" in draft.body


def test_alert_labels_match_templates(team, service, component, open_incident):
    from django.utils import timezone

    from incidents.models import Alert, Integration

    TemplateFactory(team=team, name="latency", match_labels={"alertname": "HighLatency"},
                    title="Slow", body="slow")  # fmt: skip
    incident = incident_services.open_incident(
        service=service, title="p95 high", severity=2, actor=SYSTEM
    )[0]
    integration = Integration.objects.create(
        service=service, kind="generic", name="am", token_prefix="x", token_hash="y" * 64
    )
    now = timezone.now()
    Alert.objects.create(integration=integration, incident=incident, fingerprint="f", status="firing",
                         severity=2, labels={"alertname": "HighLatency"}, first_seen_at=now,
                         last_seen_at=now)  # fmt: skip
    assert templates.best_template(incident).name == "latency"


def test_placeholders_are_filled_once_and_escaped_on_the_page(
    team, page, component, service, open_incident, client
):
    service.name = "<img src=x onerror=alert(1)> {workaround}"
    service.save()
    page.auto_post_first_update = True
    page.save()
    TemplateFactory(team=team, title="Trouble with {service}",
                    body="{service} broke at {start_time}. Workaround: {workaround}.",
                    workaround="<b>wait</b>")  # fmt: skip
    open_incident(service, severity=4)
    update = PublicUpdate.objects.get()
    assert update.body.startswith("<img src=x onerror=alert(1)> {workaround} broke at ")
    assert "Workaround: <b>wait</b>." in update.body
    html = client.get("/status/acme/").content.decode()
    assert "<img src=x" not in html and "<b>wait</b>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt; {workaround} broke at" in html
    assert "&lt;b&gt;wait&lt;/b&gt;" in html


def test_first_update_waits_for_approval_and_posts_with_one_click(
    page, component, service, responder, open_incident, client, committed
):
    incident = open_incident(service, severity=3)
    draft = PublicUpdate.objects.get(public_incident__incident=incident)
    assert draft.is_draft
    assert (
        "Website chat"
        not in client.get("/status/acme/").content.decode().split("status-components")[0]
    )
    client.force_login(responder)
    room = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "Approve and post" in room
    response = committed(
        client.post, f"/status/updates/{draft.pk}/approve/", {"body": draft.body}, **HTMX
    )
    assert response.status_code == 200
    assert "Approve and post" not in response.content.decode()
    draft.refresh_from_db()
    assert draft.posted_at is not None and draft.posted_by == responder
    assert incident.timeline.filter(kind="status_update_posted").count() == 1
    assert AuditLog.objects.filter(action="statuspage.update_posted", actor=responder).count() == 1
    client.logout()
    assert draft.body in client.get("/status/acme/").content.decode()


def test_approving_twice_is_refused(page, component, service, responder, open_incident, client):
    incident = open_incident(service, severity=3)
    draft = PublicUpdate.objects.get(public_incident__incident=incident)
    client.force_login(responder)
    assert client.post(f"/status/updates/{draft.pk}/approve/", **HTMX).status_code == 200
    again = client.post(f"/status/updates/{draft.pk}/approve/", **HTMX)
    assert again.status_code == 409
    assert "posted at" in again.content.decode()


def test_page_setting_posts_the_first_update_at_once(page, component, service, open_incident):
    page.auto_post_first_update = True
    page.save()
    incident = open_incident(service, severity=3)
    update = PublicUpdate.objects.get(public_incident__incident=incident)
    assert update.posted_at is not None
    assert PublicIncident.objects.get(incident=incident).is_published


def test_minor_incidents_and_drills_draft_nothing(page, component, service, open_incident):
    open_incident(service, severity=2, title="a bit slow")
    open_incident(service, severity=5, title="game day", is_drill=True)
    assert not PublicUpdate.objects.exists()


def test_redispatched_opened_event_drafts_nothing_twice(page, component, service, open_incident):
    incident = open_incident(service, severity=4)
    assert updates.draft_first_updates(incident_id=incident.pk) == []
    assert PublicUpdate.objects.count() == 1


def test_severity_raised_to_three_drafts_the_first_update(
    page, component, service, open_incident, committed
):
    incident = open_incident(service, severity=2)
    committed(incident_services.change_severity, incident=incident, severity=3, actor=SYSTEM)
    assert PublicUpdate.objects.filter(public_incident__incident=incident).count() == 1


def test_resolving_posts_resolved_on_published_and_drops_unapproved(
    page, component, service, open_incident, committed
):
    page.auto_post_first_update = True
    page.save()
    published = open_incident(service, severity=3, title="one")
    committed(incident_services.resolve, incident=published, actor=SYSTEM)
    public = PublicIncident.objects.get(incident=published)
    assert public.status == UpdateStatus.RESOLVED and public.resolved_at is not None
    page.auto_post_first_update = False
    page.save()
    drafted = open_incident(service, severity=3, title="two")
    committed(incident_services.resolve, incident=drafted, actor=SYSTEM)
    assert not PublicIncident.objects.filter(incident=drafted).exists()


def test_room_panel_posts_an_update_htmx_and_plain(
    page, component, service, responder, open_incident, client
):
    incident = open_incident(service, severity=2)
    client.force_login(responder)
    data = {"page": "acme", "status": "identified", "body": "We found the cause."}
    response = client.post(f"/status/incident/{incident.pk}/post/", data, **HTMX)
    assert response.status_code == 200
    assert "We found the cause." in response.content.decode()
    plain = client.post(f"/status/incident/{incident.pk}/post/", {**data, "status": "monitoring"})
    assert plain.status_code == 303
    assert list(PublicUpdate.objects.order_by("pk").values_list("status", flat=True)) == [
        "identified", "monitoring",
    ]  # fmt: skip


def test_room_panel_refuses_viewers_outsiders_get_and_bad_input(
    page, component, service, viewer, outsider, responder, open_incident, client
):
    incident = open_incident(service, severity=2)
    url = f"/status/incident/{incident.pk}/post/"
    data = {"page": "acme", "status": "identified", "body": "x"}
    assert client.post(url, data).status_code == 302  # login first
    client.force_login(viewer)
    assert client.post(url, data, **HTMX).status_code == 403
    client.force_login(outsider)
    assert client.post(url, data, **HTMX).status_code == 404
    client.force_login(responder)
    assert client.get(url).status_code == 405
    bad = client.post(url, {**data, "status": "on_fire"}, **HTMX)
    assert bad.status_code == 400 and "status must be one of" in bad.content.decode()
    assert client.post(url, {**data, "body": "  "}, **HTMX).status_code == 400
    assert not PublicUpdate.objects.exists()


def test_api_posts_updates_and_refuses_read_only_and_strangers(
    page, component, service, responder, outsider, open_incident, client
):
    incident = open_incident(service, severity=2)
    body = {"page": "acme", "incident": incident.pk, "status": "investigating", "body": "Looking."}
    client.force_login(outsider)
    assert (
        client.post("/api/v1/status-updates/", body, content_type="application/json").status_code
        == 400
    )
    client.force_login(responder)
    response = client.post("/api/v1/status-updates/", body, content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "investigating" and not response.json()["is_draft"]
    listed = client.get("/api/v1/status-updates/").json()
    assert [u["body"] for u in listed["results"]] == ["Looking."]


def test_invalid_placeholders_are_refused_at_save_time_naming_them(team, manager, client):
    client.force_login(manager)
    response = client.post(
        "/api/v1/status-templates/",
        {"team": team.pk, "name": "bad", "title": "Down: {service}",
         "body": "Since {start} for {customer_name}; next {next_update}"},
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "{customer_name}" in message and "{start}" in message
    assert "{service}" not in message.split("(allowed")[0]
    ok = client.post(
        "/api/v1/status-templates/",
        {"team": team.pk, "name": "good", "title": "Down: {service}", "body": "Since {start_time}"},
        content_type="application/json",
    )
    assert ok.status_code == 201, ok.content


def test_runbook_step_asking_for_an_update_links_to_the_status_panel(
    team, page, component, service, responder, open_incident, client
):
    from runbooks.models import Runbook, RunbookStep
    from runbooks.services.matching import attach_runbook

    runbook = Runbook.objects.create(
        team=team, title="Provider down", next_review_at=timezone.now()
    )
    RunbookStep.objects.create(runbook=runbook, title="Tell customers", asks_for="status_update")
    incident = open_incident(service, severity=2)
    attach_runbook(incident=incident, runbook=runbook, reason="manual", actor=Actor.system("test"))
    client.force_login(responder)
    html = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert 'href="#panel-statuspage"' in html
    assert 'id="panel-statuspage"' in html and "Post a public update" in html
