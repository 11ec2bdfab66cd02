"""Escalation policies, rotations, overrides, swaps, channels and contact methods set up in the
browser (through the Django test client) and through the contact-method API."""

from __future__ import annotations

import datetime
import ipaddress
import json

import pytest

from accounts.models import AuditLog, Role
from oncall.models import (
    Channel,
    ContactMethod,
    EscalationLevel,
    EscalationPolicy,
    Override,
    Rotation,
    ServiceEscalation,
)
from oncall.rotations import who_is_on_call
from tests.factories import MembershipFactory
from tests.oncall.conftest import Receiver
from tests.oncall.factories import (
    ChannelFactory,
    EscalationPolicyFactory,
    RotationFactory,
    RotationMemberFactory,
)
from tests.setup.conftest import HTMX, client_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _loopback(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = [ipaddress.ip_network("127.0.0.0/8")]


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def _policy_post(team, name="Primary", **overrides):
    data = {"team": team.pk, "name": name, "repeat_last_level": "1"}
    rules = {"1": (1, 1, []), "2": (1, 4, []), "3": (1, 4, []), "4": (2, 4, []), "5": (2, 4, [4])}
    for sev, (start, stop, inform) in rules.items():
        data[f"s{sev}_start"], data[f"s{sev}_stop"] = str(start), str(stop)
        if inform:
            data[f"s{sev}_inform"] = [str(i) for i in inform]
    data.update(overrides)
    return data


def test_manager_creates_a_policy_with_levels_in_one_form(team, manager, responder):
    rotation = RotationFactory(team=team)
    channel = ChannelFactory(team=team)
    data = _policy_post(
        team,
        l2_enabled="on", l2_timeout="10", l2_rotation=str(rotation.pk),
        l4_enabled="on", l4_timeout="30", l4_users=[str(manager.pk)],
        l4_channels=[str(channel.pk)],
    )  # fmt: skip
    response = client_for(manager).post(f"/oncall/policies/new/?team={team.pk}", data)
    assert response.status_code == 303, response.content.decode()[:2000]
    policy = EscalationPolicy.objects.get(team=team, name="Primary")
    levels = {level.number: level for level in policy.levels.all()}
    assert set(levels) == {2, 4}
    assert levels[2].rotation == rotation and levels[2].timeout_minutes == 10
    assert list(levels[4].users.all()) == [manager]
    assert list(levels[4].channels.all()) == [channel]
    assert policy.severity_rules["5"] == {"start": 2, "stop": 4, "inform": [4]}
    assert AuditLog.objects.filter(action="oncall.policy_created", team=team).exists()


def test_policy_form_errors_stay_next_to_their_fields(team, manager):
    data = _policy_post(team, s3_start="4", s3_stop="2", l2_enabled="on", l2_timeout="0")
    response = client_for(manager).post(f"/oncall/policies/new/?team={team.pk}", data)
    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="id_s3_stop_error"' in body and 'id="id_l2_timeout_error"' in body
    assert 'value="Primary"' in body
    no_levels = client_for(manager).post(
        f"/oncall/policies/new/?team={team.pk}", _policy_post(team)
    )
    assert no_levels.status_code == 400 and "at least one level" in no_levels.content.decode()
    assert not EscalationPolicy.objects.exists()


def test_policy_levels_cannot_name_people_of_another_team(team, manager, outsider):
    data = _policy_post(team, l2_enabled="on", l2_timeout="5", l2_users=[str(outsider.pk)])
    response = client_for(manager).post(f"/oncall/policies/new/?team={team.pk}", data)
    assert response.status_code == 400
    assert not EscalationPolicy.objects.exists()


def test_edit_policy_replaces_levels_and_refuses_stale_edits(team, manager):
    client = client_for(manager)
    client.post(f"/oncall/policies/new/?team={team.pk}",
                _policy_post(team, l2_enabled="on", l2_timeout="10"))  # fmt: skip
    policy = EscalationPolicy.objects.get()
    page = client.get(f"/oncall/policies/{policy.pk}/")
    version = page.context["form"].initial["version"]
    response = client.post(
        f"/oncall/policies/{policy.pk}/",
        _policy_post(team, name="Renamed", l1_enabled="on", l1_timeout="3", version=version),
    )
    assert response.status_code == 303
    policy.refresh_from_db()
    assert policy.name == "Renamed"
    assert list(policy.levels.values_list("number", flat=True)) == [1]
    stale = client.post(
        f"/oncall/policies/{policy.pk}/",
        _policy_post(team, name="Again", l1_enabled="on", l1_timeout="3", version=version),
    )
    assert stale.status_code == 400 and "someone else changed it" in stale.content.decode()
    policy.refresh_from_db()
    assert policy.name == "Renamed"


def test_preview_names_who_would_be_paged_now(team, manager, service):
    engineer = MembershipFactory(team=team, role=Role.RESPONDER).user
    ContactMethod.objects.create(user=engineer, kind="email", target="pager@example.com")
    rotation = RotationFactory(team=team, start_date=datetime.date(2020, 1, 6), shift_hours=168)
    RotationMemberFactory(rotation=rotation, user=engineer, position=0)
    client = client_for(manager)
    client.post(
        f"/oncall/policies/new/?team={team.pk}",
        _policy_post(team, l1_enabled="on", l1_timeout="5", l2_enabled="on", l2_timeout="10",
                     l2_rotation=str(rotation.pk)),
    )  # fmt: skip
    policy = EscalationPolicy.objects.get()
    client.post(f"/oncall/services/{service.slug}/policy/", {"policy": policy.pk})
    assert ServiceEscalation.objects.get(service=service).policy == policy
    page = client.get(f"/oncall/policies/{policy.pk}/?severity=4&service={service.slug}")
    preview = page.context["preview"]
    assert [level["number"] for level in preview["levels"]] == [2]
    people = preview["levels"][0]["people"]
    assert people[0][0] == engineer and people[0][1] == ["pager@example.com"]
    minor = client.get(f"/oncall/policies/{policy.pk}/?severity=1").context["preview"]
    assert [level["number"] for level in minor["levels"]] == [1]


def test_service_page_shows_and_sets_its_policy(team, manager, service):
    policy = EscalationPolicyFactory(team=team, name="Night")
    EscalationLevel.objects.create(policy=policy, number=2, timeout_minutes=5)
    body = client_for(manager).get(f"/services/{service.slug}/").content.decode()
    assert "incidents here page nobody" in body
    client_for(manager).post(f"/oncall/services/{service.slug}/policy/", {"policy": policy.pk})
    body = client_for(manager).get(f"/services/{service.slug}/").content.decode()
    assert "Pages through" in body and "Night" in body
    other = EscalationPolicyFactory()
    refused = client_for(manager).post(
        f"/oncall/services/{service.slug}/policy/", {"policy": other.pk}, **HTMX
    )
    assert refused.status_code == 400
    assert ServiceEscalation.objects.get(service=service).policy == policy


def _rotation_post(team, members, **overrides):
    data = {"team": team.pk, "name": "Primary on-call", "time_zone": "Europe/Berlin",
            "shift_hours": "24", "handoff_time": "09:00", "start_date": "2024-01-01"}  # fmt: skip
    for i, user in enumerate(members):
        data[f"member_{i}"] = str(user.pk)
    data.update(overrides)
    return data


def test_rotation_round_trip_with_an_override_and_a_swap(team, manager, responder):
    client = client_for(manager)
    response = client.post(
        f"/oncall/rotations/new/?team={team.pk}", _rotation_post(team, [responder, manager])
    )
    assert response.status_code == 303
    rotation = Rotation.objects.get(team=team)
    assert list(rotation.members.values_list("user_id", flat=True)) == [responder.pk, manager.pk]
    page = client.get(f"/oncall/rotations/{rotation.pk}/")
    assert page.status_code == 200 and len(page.context["shifts"]) >= 28
    # Reorder through the edit form.
    version = page.context["form"].initial["version"]
    response = client.post(
        f"/oncall/rotations/{rotation.pk}/",
        _rotation_post(team, [manager, responder], version=version),
    )
    assert response.status_code == 303
    assert list(rotation.members.values_list("user_id", flat=True)) == [manager.pk, responder.pk]
    # An override, typed in the viewer's zone (UTC by default).
    response = client.post(
        f"/oncall/rotations/{rotation.pk}/overrides/",
        {"user": responder.pk, "start": "2031-03-01T10:00", "end": "2031-03-01T18:00"},
    )
    assert response.status_code == 303
    override = Override.objects.get(rotation=rotation)
    assert override.start == datetime.datetime(2031, 3, 1, 10, tzinfo=datetime.UTC)
    assert who_is_on_call(rotation, override.start + datetime.timedelta(hours=1)) == responder
    # A swap: the next shift goes to the other person, in two clicks.
    shift = page.context["shifts"][1][0]
    taker = responder if shift.user != responder else manager
    response = client.post(
        f"/oncall/rotations/{rotation.pk}/swap/",
        {"user": taker.pk, "start": shift.start.isoformat(), "end": shift.end.isoformat()},
    )
    assert response.status_code == 303
    assert who_is_on_call(rotation, shift.start + datetime.timedelta(minutes=1)) == taker
    removed = Override.objects.filter(rotation=rotation).first()
    assert (
        client.post(f"/oncall/rotations/{rotation.pk}/overrides/{removed.pk}/delete/").status_code
        == 303
    )
    assert {"oncall.rotation_created", "oncall.rotation_updated", "oncall.override_added",
            "oncall.override_removed"} <= set(AuditLog.objects.values_list("action", flat=True))  # fmt: skip


def test_bad_rotation_and_override_input_is_400_with_field_errors(team, manager, responder):
    client = client_for(manager)
    response = client.post(
        f"/oncall/rotations/new/?team={team.pk}",
        _rotation_post(team, [responder], time_zone="Mars/Olympus", shift_hours="0",
                       start_date="3000-01-01"),
    )  # fmt: skip
    assert response.status_code == 400
    body = response.content.decode()
    for field in ("time_zone", "shift_hours", "start_date"):
        assert f'id="id_{field}_error"' in body, field
    rotation = RotationFactory(team=team)
    response = client.post(
        f"/oncall/rotations/{rotation.pk}/overrides/",
        {"user": responder.pk, "start": "2031-03-01T18:00", "end": "2031-03-01T10:00"},
    )
    assert response.status_code == 400 and 'id="id_end_error"' in response.content.decode()
    assert not Override.objects.exists()


def test_channel_round_trip_and_test_message_shows_the_delivery(team, manager, receiver):
    client = client_for(manager)
    response = client.post(
        f"/oncall/channels/new/?team={team.pk}",
        {"team": team.pk, "name": "ops hook", "kind": "webhook", "target": receiver.url(),
         "secret": "s3cret", "is_active": "on"},
    )  # fmt: skip
    assert response.status_code == 303
    channel = Channel.objects.get(team=team)
    response = client.post(f"/oncall/channels/{channel.pk}/test/", **HTMX)
    assert response.status_code == 200 and "delivered" in response.content.decode()
    sent = json.loads(receiver.requests[-1]["body"])
    assert sent["incident"]["reference"] == "TEST"
    receiver.statuses = [500]
    response = client.post(f"/oncall/channels/{channel.pk}/test/")
    assert "failed" in response.content.decode() and "500" in response.content.decode()
    bad = client.post(
        f"/oncall/channels/new/?team={team.pk}",
        {"team": team.pk, "name": "x", "kind": "email", "target": "not an address"},
    )
    assert bad.status_code == 400 and 'id="id_target_error"' in bad.content.decode()


def test_contact_methods_add_order_verify_remove(responder, receiver):
    client = client_for(responder)
    assert client.post("/oncall/me/contact-methods/",
                       {"kind": "email", "target": "me@example.com"}).status_code == 303  # fmt: skip
    assert client.post("/oncall/me/contact-methods/",
                       {"kind": "webhook", "target": receiver.url()}).status_code == 303  # fmt: skip
    email, hook = ContactMethod.objects.filter(user=responder).order_by("position")
    assert client.post(f"/oncall/me/contact-methods/{hook.pk}/move/up/").status_code == 303
    assert list(ContactMethod.objects.filter(user=responder).values_list("pk", flat=True)) == [
        hook.pk, email.pk]  # fmt: skip
    response = client.post(f"/oncall/me/contact-methods/{hook.pk}/verify/")
    assert response.status_code == 200 and "delivered" in response.content.decode()
    hook.refresh_from_db()
    assert hook.verified_at is not None
    assert client.post(f"/oncall/me/contact-methods/{email.pk}/delete/").status_code == 303
    assert list(ContactMethod.objects.filter(user=responder)) == [hook]
    bad = client.post("/oncall/me/contact-methods/", {"kind": "email", "target": "nope"})
    assert bad.status_code == 400 and 'id="id_target_error"' in bad.content.decode()


def test_someone_elses_contact_method_is_404(responder, manager):
    theirs = ContactMethod.objects.create(user=manager, kind="email", target="m@example.com")
    for action in ("delete", "verify", "move/up"):
        url = f"/oncall/me/contact-methods/{theirs.pk}/{action}/"
        assert client_for(responder).post(url).status_code == 404
        assert client_for(responder).post(url, **HTMX).status_code == 404
        assert client_for(responder).get(url).status_code == 405
        anonymous = client_for().post(url)
        assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    assert ContactMethod.objects.filter(pk=theirs.pk).exists()


def test_contact_method_api_is_the_callers_own(responder, manager):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(responder)
    created = api.post("/api/v1/me/contact-methods/",
                       {"kind": "email", "target": "r@example.com"}, format="json")  # fmt: skip
    assert created.status_code == 201
    ContactMethod.objects.create(user=manager, kind="email", target="m@example.com")
    listed = api.get("/api/v1/me/contact-methods/").json()
    assert [m["target"] for m in listed] == ["r@example.com"]
    bad = api.post("/api/v1/me/contact-methods/", {"kind": "pager", "target": "x"}, format="json")
    assert bad.status_code == 400 and "kind" in bad.json()["error"]["fields"]
    other = ContactMethod.objects.get(user=manager)
    assert api.delete(f"/api/v1/me/contact-methods/{other.pk}/").status_code == 404
    assert api.delete(f"/api/v1/me/contact-methods/{created.json()['id']}/").status_code == 204
    assert APIClient().get("/api/v1/me/contact-methods/").status_code == 401


@pytest.mark.parametrize(
    "path",
    ["/oncall/policies/{policy}/delete/", "/oncall/services/{slug}/policy/",
     "/oncall/rotations/{rotation}/overrides/", "/oncall/rotations/{rotation}/swap/",
     "/oncall/channels/{channel}/test/"],
)  # fmt: skip
def test_oncall_writes_follow_the_house_rules(team, service, viewer, outsider, guarded, path):
    policy = EscalationPolicyFactory(team=team)
    rotation = RotationFactory(team=team)
    channel = Channel.objects.create(team=team, name="c", kind="email", target="a@example.com")
    url = path.format(policy=policy.pk, slug=service.slug, rotation=rotation.pk,
                      channel=channel.pk)  # fmt: skip
    guarded(url, viewer=viewer, outsider=outsider)
    assert EscalationPolicy.objects.filter(pk=policy.pk).exists()
    assert not Override.objects.exists()


@pytest.mark.parametrize("path", ["/oncall/policies/new/", "/oncall/rotations/new/",
                                  "/oncall/channels/new/"])  # fmt: skip
def test_new_forms_refuse_viewers(team, viewer, path):
    assert client_for(viewer).get(f"{path}?team={team.pk}").status_code == 403
    assert client_for(viewer).post(f"{path}?team={team.pk}", {"team": team.pk}).status_code == 403
    assert client_for().get(path).status_code == 302


def test_edit_pages_of_another_team_are_404(team, outsider):
    policy = EscalationPolicyFactory(team=team)
    rotation = RotationFactory(team=team)
    channel = Channel.objects.create(team=team, name="c", kind="email", target="a@example.com")
    for url in (f"/oncall/policies/{policy.pk}/", f"/oncall/rotations/{rotation.pk}/",
                f"/oncall/channels/{channel.pk}/"):  # fmt: skip
        assert client_for(outsider).get(url).status_code == 404
        assert client_for(outsider).post(url, {}).status_code == 404


def test_viewer_reads_a_policy_but_cannot_save_it(team, viewer):
    policy = EscalationPolicyFactory(team=team, name="Read me")
    page = client_for(viewer).get(f"/oncall/policies/{policy.pk}/")
    assert page.status_code == 200 and "Save policy" not in page.content.decode()
    response = client_for(viewer).post(f"/oncall/policies/{policy.pk}/", _policy_post(team))
    assert response.status_code == 403
    policy.refresh_from_db()
    assert policy.name == "Read me"


def test_my_profile_sets_name_and_time_zone_and_lists_my_shifts(team, responder):
    rotation = RotationFactory(team=team, start_date=datetime.date(2020, 1, 6), shift_hours=24)
    RotationMemberFactory(rotation=rotation, user=responder, position=0)
    client = client_for(responder)
    page = client.get("/oncall/me/")
    assert page.status_code == 200 and len(page.context["shifts"]) >= 20
    response = client.post("/oncall/me/", {"display_name": "Ada", "time_zone": "Asia/Tokyo"})
    assert response.status_code == 303
    responder.refresh_from_db()
    assert (responder.display_name, responder.time_zone) == ("Ada", "Asia/Tokyo")
    assert AuditLog.objects.filter(action="account.profile_updated", actor=responder).exists()
    bad = client.post("/oncall/me/", {"display_name": "x\x00", "time_zone": "Mars/Base"})
    assert bad.status_code == 400 and 'id="id_time_zone_error"' in bad.content.decode()
    assert client_for().get("/oncall/me/").status_code == 302
