"""Each integration shows how its sender's severities become Vigil's 1-5, with the defaults, and
managers override them on the page; ingestion uses the override at once."""

from __future__ import annotations

import json

import pytest

from accounts.models import AuditLog
from incidents.models import Incident
from tests.ingest.factories import am_alert, am_group, make_integration
from tests.setup.conftest import HTMX, client_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _apply_inline(settings):
    settings.INGEST_APPLY_INLINE = True


def _url(service, integration, suffix=""):
    return f"/services/{service.slug}/integrations/{integration.pk}/{suffix}"


def _rows(page) -> dict:
    return {row["word"]: row for row in page.context["mapping_rows"]}


def _form(page) -> dict:
    form = page.context["mapping_form"]
    data = {name: form[name].value() or "" for name in form.fields}
    return {k: ("" if v is None else str(v)) for k, v in data.items()}


@pytest.mark.parametrize(
    "kind,words",
    [
        ("alertmanager", ["critical", "error", "warning", "info"]),
        ("grafana", ["critical", "error", "warning", "info"]),
        ("pagerduty", ["critical", "error", "warning", "info"]),
        ("generic", ["critical", "error", "major", "warning", "info"]),
    ],
)
def test_every_kind_shows_its_senders_words_with_the_defaults(service, viewer, kind, words):
    integration, _ = make_integration(service, kind)
    page = client_for(viewer).get(_url(service, integration))
    assert page.status_code == 200
    assert list(_rows(page)) == words
    html = page.content.decode()
    assert "4 · major" in html and "critical" in html
    assert "Save severities" not in html  # viewers read only


def test_manager_overrides_critical_and_alertmanager_opens_a_severity_5(service, manager):
    integration, token = make_integration(service, "alertmanager")
    client = client_for(manager)
    page = client.get(_url(service, integration))
    assert "Save severities" in page.content.decode()
    data = _form(page)
    critical = next(
        r["field"] for r in page.context["mapping_form"].rows if r["word"] == "critical"
    )
    data[critical] = "5"
    data.update(new_word0="p1", new_severity0="5", default_severity="2")
    response = client.post(_url(service, integration, "severities/"), data)
    assert response.status_code == 303, response.content.decode()[:3000]
    integration.refresh_from_db()
    assert integration.severity_mapping == {"critical": 5, "p1": 5}
    assert integration.default_severity == 2
    row = AuditLog.objects.get(action="integration.severity_mapping_changed")
    assert row.actor == manager and row.data["new"] == {"critical": 5, "p1": 5}
    shown = client.get(_url(service, integration)).content.decode()
    assert "5 · outage" in shown and "p1" in shown

    delivered = client_for().post(
        f"/hooks/alertmanager/{token}",
        json.dumps(am_group(am_alert("db-1", severity="critical"))),
        content_type="application/json",
    )
    assert delivered.status_code in (200, 202), delivered.content
    assert Incident.objects.get(service=service).severity == 5
    p1 = client_for().post(
        f"/hooks/generic/{make_integration(service, 'generic', severity_mapping={'p1': 5})[1]}",
        json.dumps({"title": "checkout down", "severity": "P1", "dedup_key": "p1"}),
        content_type="application/json",
    )
    assert p1.status_code in (200, 202), p1.content
    assert Incident.objects.get(title="checkout down").severity == 5


def test_back_to_default_removes_the_override(service, manager):
    integration, _ = make_integration(service, "pagerduty", severity_mapping={"warning": 4})
    client = client_for(manager)
    page = client.get(_url(service, integration))
    assert _rows(page)["warning"]["override"] == 4
    assert "new_word0" not in page.context["mapping_form"].fields  # PagerDuty sends four words
    data = _form(page)
    warning = next(r["field"] for r in page.context["mapping_form"].rows if r["word"] == "warning")
    data[warning] = ""
    assert client.post(_url(service, integration, "severities/"), data).status_code == 303
    integration.refresh_from_db()
    assert integration.severity_mapping == {}


def test_bad_rows_are_shown_next_to_their_fields_and_nothing_changes(service, manager):
    integration, _ = make_integration(service, "generic")
    client = client_for(manager)
    data = _form(client.get(_url(service, integration)))
    data.update(new_word0="p2", new_severity0="", new_word1="", new_severity1="4")
    response = client.post(_url(service, integration, "severities/"), data)
    assert response.status_code == 400
    html = response.content.decode()
    assert "Choose the severity this word means." in html and "Type the word" in html
    assert 'value="p2"' in html
    data.update(new_word0="3", new_severity0="5", new_word1="", new_severity1="")
    numeric = client.post(_url(service, integration, "severities/"), data)
    assert numeric.status_code == 400 and "always mean themselves" in numeric.content.decode()
    integration.refresh_from_db()
    assert integration.severity_mapping == {}
    assert not AuditLog.objects.filter(action="integration.severity_mapping_changed").exists()


def test_stale_mapping_edit_is_refused(service, manager):
    integration, _ = make_integration(service, "generic")
    client = client_for(manager)
    data = _form(client.get(_url(service, integration)))
    type(integration).objects.filter(pk=integration.pk).update(severity_mapping={"info": 2})
    data["default_severity"] = "5"
    response = client.post(_url(service, integration, "severities/"), data)
    assert response.status_code == 400 and "someone else changed it" in response.content.decode()
    integration.refresh_from_db()
    assert integration.severity_mapping == {"info": 2} and integration.default_severity != 5


def test_severity_mapping_write_follows_the_house_rules(
    service, viewer, outsider, guarded, responder
):
    integration, _ = make_integration(service, "generic")
    url = _url(service, integration, "severities/")
    guarded(url, viewer=viewer, outsider=outsider, data={"default_severity": "5"})
    assert client_for(responder).post(url, {"default_severity": "5"}, **HTMX).status_code == 403
    integration.refresh_from_db()
    assert integration.default_severity != 5
