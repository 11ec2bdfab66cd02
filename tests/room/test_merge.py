"""Merging a duplicate into the incident the team keeps (incidents.merging) and its room door."""

from __future__ import annotations

import pytest
from django.db import transaction

from accounts.models import AuditLog, Role
from incidents import merging, services
from incidents.actors import Actor
from incidents.errors import InvalidIncidentInput
from incidents.ingest import generic as generic_format
from incidents.ingest.applying import apply_normalized
from incidents.merging import MergeRefused
from incidents.models import (
    Alert,
    AlertStatus,
    DedupAlias,
    Incident,
    IncidentMerge,
    Status,
)
from tests.factories import MembershipFactory, ServiceFactory, TeamFactory, open_incident
from tests.room.conftest import HTMX

pytestmark = pytest.mark.django_db


def _alert_via(integration, title: str, key: str, status: str = "firing", **fields) -> Incident:
    document = {"title": title, "dedup_key": key, "status": status, **fields}
    with transaction.atomic():
        return apply_normalized(
            integration=integration, normalized=generic_format.parse(document, integration)
        )


def test_merge_moves_alerts_notes_and_timeline_and_resolves_the_duplicate(
    service, responder, generic
):
    integration, _ = generic
    keep = _alert_via(integration, "Checkout bot silent", "checkout")
    duplicate = _alert_via(integration, "Checkout answers 500", "checkout-500", severity=4)
    services.add_note(incident=duplicate, actor=Actor.of_user(responder), text="seen in EU only")
    entries_before = list(duplicate.timeline.order_by("id").values_list("kind", "message"))

    merge = merging.merge_incidents(target=keep, source=duplicate, actor=Actor.of_user(responder))

    duplicate.refresh_from_db()
    keep.refresh_from_db()
    assert duplicate.status == Status.RESOLVED and duplicate.resolved_by == responder
    assert duplicate.resolution_note == f"Duplicate of {keep.reference}"
    assert merge.alerts_moved == 1 and merge.entries_copied == len(entries_before)
    assert set(keep.alerts.values_list("fingerprint", flat=True)) == {"checkout", "checkout-500"}
    assert not Alert.objects.filter(incident=duplicate).exists()
    copies = keep.timeline.filter(kind="merged_entry")
    assert sorted((c.data["original_kind"], c.message) for c in copies) == sorted(entries_before)
    note = copies.get(data__original_kind="note")
    assert note.message == "seen in EU only" and note.actor_user == responder
    assert note.data["merged_from"] == duplicate.pk
    # The duplicate keeps its own history, and both say what happened.
    assert duplicate.timeline.filter(kind="note").exists()
    assert duplicate.timeline.get(kind="merged").data["target_id"] == keep.pk
    assert keep.timeline.get(kind="merged").data["source_id"] == duplicate.pk
    audit = AuditLog.objects.get(action="incident.merged")
    assert audit.target == keep.reference and audit.data["source_id"] == duplicate.pk
    assert audit.actor == responder


def test_new_alerts_for_the_merged_key_land_on_the_kept_incident(service, responder, generic):
    integration, _ = generic
    keep = _alert_via(integration, "Checkout bot silent", "checkout")
    duplicate = _alert_via(integration, "Checkout answers 500", "checkout-500")
    merging.merge_incidents(target=keep, source=duplicate, actor=Actor.of_user(responder))

    again = _alert_via(integration, "Checkout answers 500", "checkout-500")
    assert again.pk == keep.pk
    assert keep.alerts.get(fingerprint="checkout-500").count == 2
    assert Incident.objects.filter(status__in=["triggered"]).count() == 1
    # The same key opened by a probe or the API repeats on the kept incident too.
    repeated, created = services.open_incident(
        service=service,
        title="again",
        severity=3,
        actor=Actor.system("t"),
        dedup_key=duplicate.dedup_key,
    )
    assert (repeated.pk, created) == (keep.pk, False)

    # The sender resolving the merged key resolves its alerts, not the kept incident.
    _alert_via(integration, "Checkout answers 500", "checkout-500", status="resolved")
    keep.refresh_from_db()
    assert keep.status == Status.TRIGGERED
    assert keep.alerts.get(fingerprint="checkout-500").status == AlertStatus.RESOLVED

    # Once the kept incident is resolved, the key opens a new incident again.
    services.resolve(incident=keep, actor=Actor.system("t"))
    fresh = _alert_via(integration, "Checkout answers 500", "checkout-500")
    assert fresh.pk not in (keep.pk, duplicate.pk) and fresh.status == Status.TRIGGERED


def test_an_alert_both_incidents_hold_is_folded_into_one(service, responder, generic):
    integration, _ = generic
    keep = open_incident(service, title="keep", dedup_key="a")
    duplicate = open_incident(service, title="dup", dedup_key="b")
    now = keep.triggered_at
    for incident, count in ((keep, 2), (duplicate, 3)):
        Alert.objects.create(
            integration=integration, incident=incident, fingerprint="same", status="firing",
            severity=3, first_seen_at=now, last_seen_at=now, count=count,
        )  # fmt: skip
    merge = merging.merge_incidents(target=keep, source=duplicate, actor=Actor.of_user(responder))
    assert merge.alerts_moved == 1
    assert list(keep.alerts.values_list("fingerprint", "count")) == [("same", 5)]


def test_a_second_merge_repoints_the_first_ones_key(service, responder):
    first = open_incident(service, title="first", dedup_key="k1")
    second = open_incident(service, title="second", dedup_key="k2")
    third = open_incident(service, title="third", dedup_key="k3")
    actor = Actor.of_user(responder)
    merging.merge_incidents(target=second, source=first, actor=actor)
    merging.merge_incidents(target=third, source=second, actor=actor)
    assert dict(DedupAlias.objects.values_list("dedup_key", "incident_id")) == {
        "k1": third.pk,
        "k2": third.pk,
    }
    # The copies of the first merge travel on: third holds first's history too.
    assert third.timeline.filter(kind="merged_entry", data__original_kind="merged").exists()


@pytest.mark.parametrize("state", ["resolved_source", "resolved_target"])
def test_merge_of_a_resolved_incident_is_refused(service, responder, state):
    keep = open_incident(service, title="keep")
    duplicate = open_incident(service, title="dup")
    services.resolve(
        incident=duplicate if state == "resolved_source" else keep, actor=Actor.system("t")
    )
    with pytest.raises(MergeRefused, match="is resolved; only open incidents can be merged"):
        merging.merge_incidents(target=keep, source=duplicate, actor=Actor.of_user(responder))
    assert not IncidentMerge.objects.exists()


def test_merge_across_teams_is_refused(service, responder):
    other_service = ServiceFactory(team=TeamFactory())
    keep = open_incident(service, title="keep")
    elsewhere = open_incident(other_service, title="elsewhere")
    with pytest.raises(MergeRefused, match="different teams"):
        merging.merge_incidents(target=keep, source=elsewhere, actor=Actor.of_user(responder))
    elsewhere.refresh_from_db()
    assert elsewhere.status == Status.TRIGGERED


def test_merge_into_itself_and_drill_with_real_are_refused(service, responder):
    keep = open_incident(service, title="keep")
    drill = open_incident(service, title="drill", is_drill=True)
    actor = Actor.of_user(responder)
    with pytest.raises(InvalidIncidentInput, match="into itself"):
        merging.merge_incidents(target=keep, source=keep, actor=actor)
    with pytest.raises(MergeRefused, match="drill"):
        merging.merge_incidents(target=keep, source=drill, actor=actor)


# --- the room's door ----------------------------------------------------------------------


def test_room_merge_plain_post_redirects_and_htmx_announces(service, responder_client):
    keep = open_incident(service, title="keep")
    first = open_incident(service, title="first dup")
    second = open_incident(service, title="second dup")
    url = f"/incidents/{keep.pk}/merge/"

    response = responder_client.post(url, {"other": f"INC-{first.pk}"})
    assert response.status_code == 303 and response["Location"] == f"/incidents/{keep.pk}/"
    response = responder_client.post(url, {"other": str(second.pk)}, **HTMX)
    assert response.status_code == 200
    assert "incidentChanged" in response["HX-Trigger"]
    assert f"INC-{second.pk}" in response.content.decode()
    assert set(IncidentMerge.objects.values_list("source_id", flat=True)) == {first.pk, second.pk}

    room = responder_client.get(f"/incidents/{first.pk}/").content.decode()
    assert f'Merged into <a href="/incidents/{keep.pk}/">{keep.reference}</a>' in room


def test_room_merge_refusals(service, responder_client, viewer_client, outsider, client):
    keep = open_incident(service, title="keep")
    dup = open_incident(service, title="dup")
    url = f"/incidents/{keep.pk}/merge/"
    assert responder_client.get(url).status_code == 405
    assert viewer_client.post(url, {"other": dup.pk}).status_code == 403
    assert client.post(url, {"other": dup.pk}).status_code == 302  # to the login page
    outsider_incident = open_incident(ServiceFactory(team=outsider.memberships.first().team))
    # Another team's incident, on either side, is a 404.
    assert responder_client.post(url, {"other": outsider_incident.pk}).status_code == 404
    client.force_login(outsider)
    assert client.post(url, {"other": dup.pk}).status_code == 404
    assert responder_client.post(url, {"other": "nonsense"}, **HTMX).status_code == 400
    assert responder_client.post(url, {"other": keep.pk}, **HTMX).status_code == 400
    # A plain form post goes back to the room with the reason as a message.
    response = responder_client.post(url, {"other": keep.pk}, follow=True)
    assert "into itself" in response.content.decode()
    services.resolve(incident=dup, actor=Actor.system("t"))
    response = responder_client.post(url, {"other": dup.pk}, **HTMX)
    assert response.status_code == 409
    assert "is resolved" in response.content.decode()
    assert not IncidentMerge.objects.exists()


def test_member_of_two_teams_cannot_merge_across_them(service, responder, responder_client):
    other_team = TeamFactory()
    MembershipFactory(team=other_team, user=responder, role=Role.RESPONDER)
    keep = open_incident(service, title="keep")
    elsewhere = open_incident(ServiceFactory(team=other_team), title="elsewhere")
    response = responder_client.post(
        f"/incidents/{keep.pk}/merge/", {"other": elsewhere.pk}, **HTMX
    )
    assert response.status_code == 409 and "different teams" in response.content.decode()
    assert not IncidentMerge.objects.exists()


def test_room_offers_open_same_team_incidents_to_merge(service, responder_client):
    keep = open_incident(service, title="keep")
    open_dup = open_incident(service, title="open duplicate")
    closed = open_incident(service, title="closed one")
    services.resolve(incident=closed, actor=Actor.system("t"))
    open_incident(ServiceFactory(team=TeamFactory()), title="another team's")
    html = responder_client.get(f"/incidents/{keep.pk}/").content.decode()
    merge_box = html[html.index('id="merge-box"') : html.index('id="link-box"')]
    assert open_dup.reference in merge_box and closed.reference not in merge_box
    assert "another team" not in html
