"""Automated actions set up on the policy page: add, edit (stale edits refused, secret
write-only), delete, try once against a real local server, with the SSRF guard at the edge."""

from __future__ import annotations

import ipaddress
import json

import pytest

from accounts.models import AuditLog
from incidents.outbound import verify
from oncall.models import AutomatedAction, Notification
from tests.oncall.conftest import Receiver
from tests.oncall.factories import (
    AutomatedActionFactory,
    EscalationLevelFactory,
    EscalationPolicyFactory,
    ServiceEscalationFactory,
)
from tests.setup.conftest import HTMX, client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def loopback(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = [ipaddress.ip_network("127.0.0.0/8")]


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def policy(team):
    rules = {str(n): {"start": 1, "stop": 2, "inform": []} for n in range(1, 6)}
    policy = EscalationPolicyFactory(team=team, name="Primary", severity_rules=rules)
    EscalationLevelFactory(policy=policy, number=1, timeout_minutes=5)
    EscalationLevelFactory(policy=policy, number=2, timeout_minutes=10)
    return policy


def _data(target, **extra):
    data = {"level": "1", "name": "restart-web", "url": target,
            "body_template": '{"ref": "{{ incident.reference }}", "sev": "{{ incident.severity }}"}',
            "secret": "s3cret"}  # fmt: skip
    data.update(extra)
    return data


def test_manager_adds_an_action_and_it_fires_when_the_level_engages(
    policy, manager, service, receiver, loopback, django_capture_on_commit_callbacks, settings
):
    response = client_for(manager).post(
        f"/oncall/policies/{policy.pk}/actions/new/", _data(receiver.url("/restart"))
    )
    assert response.status_code == 303, response.content.decode()[:2000]
    action = AutomatedAction.objects.get()
    assert action.level.number == 1 and action.secret == "s3cret"
    assert action.body_template == {
        "ref": "{{ incident.reference }}",
        "sev": "{{ incident.severity }}",
    }
    row = AuditLog.objects.get(action="oncall.action_created")
    assert row.actor == manager and "s3cret" not in json.dumps(row.data)
    page = client_for(manager).get(f"/oncall/policies/{policy.pk}/").content.decode()
    assert "restart-web" in page and "managed through the API" not in page

    from config.celery import app
    from tests.factories import open_incident

    ServiceEscalationFactory(service=service, policy=policy)
    app.conf.task_always_eager = True
    try:
        incident = open_incident(service, severity=5, run_events=True)
    finally:
        app.conf.task_always_eager = False
    assert Notification.objects.filter(incident=incident, action=action).exists()
    (request,) = receiver.requests
    assert json.loads(request["body"]) == {"ref": incident.reference, "sev": 5}


def test_private_address_is_refused_next_to_the_url_field(policy, manager):
    response = client_for(manager).post(
        f"/oncall/policies/{policy.pk}/actions/new/", _data("http://127.0.0.1:9/restart")
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "SSRF guard" in html and 'value="restart-web"' in html
    assert not AutomatedAction.objects.exists()


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("body_template", "[1, 2]", "must be a JSON object"),
        ("body_template", '{"a": NaN}', "not a finite number"),
        ("body_template", "{not json", "is not valid JSON"),
        ("url", "ftp://example.com/x", "is not an http"),
        ("level", "4", "Select a valid choice"),
        ("name", "", "This field is required"),
    ],
)
def test_bad_input_is_shown_next_to_its_field(
    policy, manager, loopback, receiver, field, value, message
):
    data = _data(receiver.url("/x"), **{field: value})
    response = client_for(manager).post(f"/oncall/policies/{policy.pk}/actions/new/", data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not AutomatedAction.objects.exists()


def test_edit_keeps_the_secret_unless_changed_and_refuses_stale_edits(
    policy, manager, loopback, receiver
):
    action = AutomatedActionFactory(level=policy.levels.get(number=1), name="a", url=receiver.url("/a"),
                                    secret="old")  # fmt: skip
    client = client_for(manager)
    form = client.get(f"/oncall/actions/{action.pk}/")
    assert (
        form.status_code == 200
        and "old" not in form.content.decode().split('name="secret"')[1][:80]
    )
    version = form.context["form"].initial["version"]
    data = _data(receiver.url("/b"), level="2", name="b", secret="", version=version)
    assert client.post(f"/oncall/actions/{action.pk}/", data).status_code == 303
    action.refresh_from_db()
    assert (action.level.number, action.name, action.url, action.secret) == (
        2,
        "b",
        receiver.url("/b"),
        "old",
    )
    assert AuditLog.objects.get(action="oncall.action_updated").data["changed"]
    stale = client.post(f"/oncall/actions/{action.pk}/", {**data, "name": "c"})
    assert stale.status_code == 400 and "someone else changed it" in stale.content.decode()
    action.refresh_from_db()
    assert action.name == "b"
    fresh = client.get(f"/oncall/actions/{action.pk}/").context["form"].initial["version"]
    cleared = {**data, "version": fresh, "clear_secret": "on"}
    assert client.post(f"/oncall/actions/{action.pk}/", cleared).status_code == 303
    action.refresh_from_db()
    assert action.secret == ""


def test_test_button_sends_a_signed_test_body_to_a_real_server(policy, manager, loopback, receiver):
    action = AutomatedActionFactory(
        level=policy.levels.get(number=1), name="restart", url=receiver.url("/restart"),
        secret="k", body_template={"ref": "{{ incident.reference }}", "level": "{{ level }}"},
    )  # fmt: skip
    response = client_for(manager).post(f"/oncall/actions/{action.pk}/test/", **HTMX)
    assert response.status_code == 200 and "delivered" in response.content.decode()
    (request,) = receiver.requests
    assert json.loads(request["body"]) == {"ref": "TEST", "level": 1}
    headers = request["headers"]
    assert verify("k", headers["X-Vigil-Timestamp"], request["body"], headers["X-Vigil-Signature"])
    receiver.statuses.append(500)
    failed = client_for(manager).post(f"/oncall/actions/{action.pk}/test/")
    assert failed.status_code == 200 and "HTTP 500" in failed.content.decode()
    assert AuditLog.objects.filter(action="oncall.action_tested").count() == 2


def test_delete_removes_the_action(policy, manager):
    action = AutomatedActionFactory(level=policy.levels.get(number=1))
    assert client_for(manager).post(f"/oncall/actions/{action.pk}/delete/").status_code == 303
    assert not AutomatedAction.objects.exists()
    assert AuditLog.objects.filter(action="oncall.action_deleted").exists()


@pytest.mark.parametrize("suffix", ["", "delete/", "test/"])
def test_action_writes_follow_the_house_rules(policy, viewer, outsider, responder, guarded, suffix):
    action = AutomatedActionFactory(level=policy.levels.get(number=1), url="https://example.com/x")
    url = f"/oncall/actions/{action.pk}/{suffix}"
    if suffix:
        guarded(url, viewer=viewer, outsider=outsider)
    else:  # the edit page answers GET (read) and POST (write)
        assert client_for(viewer).get(url).status_code == 200
        assert client_for(outsider).get(url).status_code == 404
        assert client_for(viewer).post(url, _data("https://example.com/y")).status_code == 403
        assert (
            client_for(outsider).post(url, _data("https://example.com/y"), **HTMX).status_code
            == 404
        )
    assert client_for(responder).post(url, _data("https://example.com/y")).status_code == 403
    assert AutomatedAction.objects.filter(pk=action.pk, url="https://example.com/x").exists()


def test_new_action_page_is_for_managers_only(policy, viewer, outsider):
    url = f"/oncall/policies/{policy.pk}/actions/new/"
    assert client_for(viewer).get(url).status_code == 403
    assert client_for(viewer).post(url, _data("https://example.com/x")).status_code == 403
    assert client_for(outsider).post(url, _data("https://example.com/x"), **HTMX).status_code == 404
    anonymous = client_for().post(url, _data("https://example.com/x"))
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
