"""Integrations added on the service page: token and URL shown once with an example that works,
rotation with grace, deactivation, the delivery log."""

from __future__ import annotations

import json
import shlex

import pytest

from accounts.models import AuditLog
from incidents.ingest.services import hash_token, integration_for_token
from incidents.models import InboundEvent, Integration
from tests.ingest.factories import make_integration
from tests.setup.conftest import client_for

pytestmark = pytest.mark.django_db


def _create(client, service, kind, **extra):
    data = {"kind": kind, "name": f"{kind} sender", "default_severity": "4",
            "auto_resolve": "on", "hmac_secret": ""}  # fmt: skip
    data.update(extra)
    return client.post(f"/services/{service.slug}/integrations/new/", data)


@pytest.mark.parametrize("kind", ["generic", "pagerduty", "alertmanager", "grafana"])
def test_each_kind_is_created_with_its_token_and_url_shown_once(service, manager, kind):
    response = _create(client_for(manager), service, kind)
    assert response.status_code == 201
    integration = Integration.objects.get(service=service, kind=kind)
    token = response.context["token"]
    assert integration.token_hash == hash_token(token) and integration.default_severity == 4
    url = response.context["url"]
    # No VIGIL_BASE_URL in tests: the URL uses the host the browser used.
    assert url.startswith("http://testserver/")
    if kind == "pagerduty":
        assert url == "http://testserver/v2/enqueue"
    else:
        assert url == f"http://testserver/hooks/{kind}/{token}"
    body = response.content.decode()
    assert token in body
    example = response.context["example"]["text"]
    assert {"generic": "curl", "pagerduty": "routing_key", "alertmanager": "webhook_configs",
            "grafana": "Contact points"}[kind] in example  # fmt: skip
    assert AuditLog.objects.filter(action="integration.created", team=service.team).exists()
    # The token never appears again.
    page = client_for(manager).get(f"/services/{service.slug}/integrations/{integration.pk}/")
    assert token not in page.content.decode()


def test_configured_base_url_wins_over_the_request_host(service, manager, settings):
    settings.BASE_URL_CONFIGURED = True
    settings.BASE_URL = "https://vigil.example.com"
    response = _create(client_for(manager), service, "generic")
    assert response.context["url"].startswith("https://vigil.example.com/hooks/generic/")


def test_generic_curl_example_parses_as_a_real_delivery(service, manager):
    response = _create(client_for(manager), service, "generic")
    argv = shlex.split(response.context["example"]["curl"].replace("\\\n", " "))
    body = json.loads(argv[argv.index("--data") + 1])
    url = argv[-1]
    delivered = client_for().post(
        url.removeprefix("http://testserver"), json.dumps(body), content_type="application/json"
    )
    assert delivered.status_code in (200, 202)
    assert InboundEvent.objects.filter(integration__service=service).count() == 1


def test_duplicate_name_is_shown_next_to_the_name(service, manager):
    make_integration(service, "generic", name="dup")
    response = _create(client_for(manager), service, "generic", name="dup")
    assert response.status_code == 400
    assert 'id="id_name_error"' in response.content.decode()


def test_unknown_kind_is_a_field_error_not_a_500(service, manager):
    response = _create(client_for(manager), service, "smoke-signals")
    assert response.status_code == 400
    assert 'id="id_kind_error"' in response.content.decode()


def test_rotation_shows_the_new_token_and_keeps_the_old_one_for_the_grace(service, manager):
    integration, old = make_integration(service, "generic")
    response = client_for(manager).post(
        f"/services/{service.slug}/integrations/{integration.pk}/rotate/", {"grace_hours": "2"}
    )
    assert response.status_code == 200
    new = response.context["token"]
    assert new != old and new in response.content.decode()
    assert integration_for_token(old).pk == integration.pk
    assert integration_for_token(new).pk == integration.pk
    integration.refresh_from_db()
    assert integration.previous_token_expires_at is not None
    assert AuditLog.objects.filter(action="integration.token_rotated").exists()


def test_rotation_with_a_bad_grace_is_400(service, manager):
    integration, _ = make_integration(service, "generic")
    response = client_for(manager).post(
        f"/services/{service.slug}/integrations/{integration.pk}/rotate/", {"grace_hours": "999"}
    )
    assert response.status_code == 400


def test_deactivated_integration_refuses_deliveries_and_can_come_back(service, manager):
    integration, token = make_integration(service, "generic")
    base = f"/services/{service.slug}/integrations/{integration.pk}"
    assert client_for(manager).post(f"{base}/deactivate/").status_code == 303
    integration.refresh_from_db()
    assert not integration.is_active
    assert integration_for_token(token) is None
    assert AuditLog.objects.filter(action="integration.deactivated").exists()
    assert client_for(manager).post(f"{base}/reactivate/").status_code == 303
    integration.refresh_from_db()
    assert integration.is_active


def test_integration_page_lists_deliveries_with_their_outcome(service, viewer):
    integration, token = make_integration(service, "generic")
    client_for().post(
        f"/hooks/generic/{token}", json.dumps({"title": "disk full"}),
        content_type="application/json",
    )  # fmt: skip
    InboundEvent.objects.create(
        integration=integration, received_at=integration.created_at, normalized={},
        attempts=5, error="ValueError: broken",
    )  # fmt: skip
    page = client_for(viewer).get(f"/services/{service.slug}/integrations/{integration.pk}/")
    assert page.status_code == 200
    outcomes = [outcome for _event, outcome, _why in page.context["deliveries"]]
    assert "parked" in outcomes and len(outcomes) == 2
    assert "ValueError: broken" in page.content.decode()


@pytest.mark.parametrize("action", ["rotate", "deactivate", "reactivate"])
def test_integration_writes_follow_the_house_rules(service, viewer, outsider, guarded, action):
    integration, _ = make_integration(service, "generic")
    guarded(
        f"/services/{service.slug}/integrations/{integration.pk}/{action}/",
        viewer=viewer,
        outsider=outsider,
        data={"grace_hours": "1"},
    )


def test_integration_new_refuses_viewer_and_outsider(service, viewer, outsider):
    url = f"/services/{service.slug}/integrations/new/"
    assert client_for(viewer).get(url).status_code == 403
    assert client_for(outsider).get(url).status_code == 404
    assert client_for(viewer).post(url, {"kind": "generic", "name": "x"}).status_code == 403
    assert not Integration.objects.exists()


def test_create_integration_command_lists_valid_slugs(service):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match=f"valid slugs: .*{service.slug}"):
        call_command("create_integration", "nope", "generic")


def test_create_integration_command_uses_the_given_base_url(service, capsys):
    from django.core.management import call_command

    call_command("create_integration", service.slug, "generic", "--base-url", "http://h:8080")
    out = capsys.readouterr().out
    assert "url: http://h:8080/hooks/generic/" in out
