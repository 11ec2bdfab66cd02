import pytest
from django.core.management import CommandError, call_command
from django.template.loader import render_to_string

from incidents.ingest.panel import alerts_panel_context
from incidents.ingest.services import hash_token, integration_for_token
from incidents.models import Integration
from incidents.panels import panels_for
from tests.ingest.factories import am_alert, am_group

pytestmark = pytest.mark.django_db


def test_create_integration_command_prints_token_and_url_once(service, capsys):
    call_command("create_integration", service.slug, "alertmanager", "--name", "prod AM")
    out = capsys.readouterr().out
    token = out.split("token (shown only now): ")[1].split()[0]
    assert f"/hooks/alertmanager/{token}" in out
    integration = Integration.objects.get()
    assert integration.name == "prod AM"
    assert integration.token_hash == hash_token(token)
    assert integration_for_token(token) == integration


def test_create_pagerduty_integration_gives_a_32_character_routing_key(service, capsys):
    call_command("create_integration", service.slug, "pagerduty")
    out = capsys.readouterr().out
    token = out.split("token (shown only now): ")[1].split()[0]
    assert len(token) == 32
    assert "/v2/enqueue" in out


def test_create_integration_for_unknown_service_fails_clearly(db):
    with pytest.raises(CommandError, match="no service with slug 'nope'"):
        call_command("create_integration", "nope", "generic")


def test_creation_is_audited_without_the_secret(service, capsys):
    from accounts.models import AuditLog

    call_command("create_integration", service.slug, "generic")
    token = capsys.readouterr().out.split("token (shown only now): ")[1].split()[0]
    entry = AuditLog.objects.get(action="integration.created")
    assert token not in str(entry.data) and token not in entry.target


def test_admin_creates_integration_and_shows_token_once(service, admin_client):
    response = admin_client.post(
        "/admin/incidents/integration/add/",
        {
            "service": service.pk,
            "kind": "grafana",
            "name": "grafana prod",
            "signature_header": "X-Grafana-Alerting-Signature",
            "timestamp_header": "X-Grafana-Alerting-Timestamp",
            "severity_mapping": "{}",
            "default_severity": 3,
            "auto_resolve": "on",
            "is_active": "on",
        },
        follow=True,
    )
    assert response.status_code == 200
    integration = Integration.objects.get()
    shown = [str(m) for m in response.context["messages"]]
    token = next(m for m in shown if "Token" in m).split("): ")[1].split()[0]
    assert integration.token_hash == hash_token(token)


def test_alerts_panel_lists_alerts_escaped(alertmanager, post_json, responder):
    _, token = alertmanager
    evil = am_alert("a", team="<script>alert(1)</script>")
    evil["annotations"]["summary"] = '<img src=x onerror="alert(2)">'
    post_json(f"/hooks/alertmanager/{token}", am_group(evil))
    from incidents.models import Incident

    incident = Incident.objects.get()
    [(panel, context)] = [(p, c) for p, c in panels_for(incident, responder) if p.key == "alerts"]
    html = render_to_string(panel.template, {**context, "incident": incident})
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in html
    assert "style=" not in html and "<script" not in html
    assert "1 firing of 1" in html


def test_alerts_panel_hidden_without_alerts(service):
    from tests.factories import IncidentFactory

    assert alerts_panel_context(IncidentFactory(service=service), None) is None
