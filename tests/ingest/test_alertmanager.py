import pytest

from incidents.models import Alert, InboundEvent, Incident, Status
from tests.ingest.factories import am_alert, am_group, fixture, make_integration

pytestmark = pytest.mark.django_db


def kinds(incident):
    return list(incident.timeline.order_by("id").values_list("kind", flat=True))


def test_documented_alertmanager_payload_opens_one_incident_with_both_alerts(
    alertmanager, post_json
):
    integration, token = alertmanager
    response = post_json(f"/hooks/alertmanager/{token}", fixture("alertmanager_v4_firing.json"))

    assert response.status_code == 202
    incident = Incident.objects.get()
    assert response.json() == {
        "status": "accepted",
        "event_id": InboundEvent.objects.get().pk,
        "incident": incident.reference,
    }
    assert incident.title == "ChatLatencyHigh: Chat replies slower than 3 s"
    assert incident.severity == 2  # severity=warning
    assert incident.source == "integration"
    assert incident.dedup_key.startswith("am:")
    alerts = list(incident.alerts.order_by("fingerprint"))
    assert [a.fingerprint for a in alerts] == ["1a30ba71cca2921f", "7c1f3b0e2d9a4c55"]
    assert alerts[0].labels["instance"] == "avatar-1:8080"
    assert alerts[0].starts_at.isoformat() == "2026-11-25T09:51:03.157000+00:00"
    assert alerts[0].ends_at is None
    assert alerts[0].source_url.startswith("http://prometheus.example.org")
    event = InboundEvent.objects.get()
    assert event.processed_at is not None and event.incident_id == incident.pk
    assert '"groupKey"' in event.raw_body
    assert kinds(incident) == ["opened"]


def test_full_alertmanager_cycle(alertmanager, post_json):
    _, token = alertmanager
    url = f"/hooks/alertmanager/{token}"
    both_firing = am_group(am_alert("a"), am_alert("b"))

    assert post_json(url, both_firing).status_code == 202
    # Alertmanager repeats the whole group (repeat_interval, or an HA peer's duplicate).
    assert post_json(url, both_firing).status_code == 202
    incident = Incident.objects.get()
    assert incident.alerts.count() == 2
    assert set(incident.alerts.values_list("count", flat=True)) == {2}
    assert kinds(incident) == ["opened"]

    assert post_json(url, am_group(am_alert("a", "resolved"), am_alert("b"))).status_code == 202
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED
    assert dict(incident.alerts.values_list("fingerprint", "status")) == {
        "a": "resolved",
        "b": "firing",
    }

    assert (
        post_json(url, am_group(am_alert("a", "resolved"), am_alert("b", "resolved"))).status_code
        == 202
    )
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED
    assert kinds(incident) == ["opened", "alert_resolved", "alert_resolved", "resolved"]
    assert incident.timeline.get(kind="resolved").actor_kind == "integration"

    # The same fingerprint firing again later is a new episode: a new incident.
    again = am_alert("a")
    again["startsAt"] = "2026-11-25T12:00:00Z"
    assert post_json(url, am_group(again)).status_code == 202
    assert Incident.objects.count() == 2
    new = Incident.objects.exclude(pk=incident.pk).get()
    assert new.status == Status.TRIGGERED
    assert list(new.alerts.values_list("fingerprint", flat=True)) == ["a"]
    assert incident.alerts.count() == 2  # history of the first stays with it


def test_late_firing_copy_from_ha_peer_does_not_reopen_a_resolved_episode(alertmanager, post_json):
    _, token = alertmanager
    url = f"/hooks/alertmanager/{token}"
    post_json(url, am_group(am_alert("a")))
    post_json(url, am_group(am_alert("a", "resolved")))
    # The lagging peer still thinks the same episode (same startsAt) fires.
    response = post_json(url, am_group(am_alert("a")))
    assert response.status_code == 202
    assert Incident.objects.count() == 1
    assert Incident.objects.get().status == Status.RESOLVED


def test_new_alert_joining_an_open_group_is_attached_with_a_timeline_entry(alertmanager, post_json):
    _, token = alertmanager
    url = f"/hooks/alertmanager/{token}"
    post_json(url, am_group(am_alert("a")))
    post_json(url, am_group(am_alert("a"), am_alert("b")))
    incident = Incident.objects.get()
    assert incident.alerts.count() == 2
    assert kinds(incident) == ["opened", "alert_attached"]


def test_higher_severity_raises_the_incident_and_lower_never_lowers_it(alertmanager, post_json):
    _, token = alertmanager
    url = f"/hooks/alertmanager/{token}"
    post_json(url, am_group(am_alert("a", severity="warning")))
    post_json(url, am_group(am_alert("a", severity="critical")))
    incident = Incident.objects.get()
    assert incident.severity == 4
    entry = incident.timeline.get(kind="severity_changed")
    assert entry.data["old"] == 2 and entry.data["new"] == 4
    post_json(url, am_group(am_alert("a", severity="info")))
    incident.refresh_from_db()
    assert incident.severity == 4
    assert incident.timeline.filter(kind="severity_changed").count() == 1


def test_vigil_severity_label_wins_over_severity_word(alertmanager, post_json):
    _, token = alertmanager
    post_json(
        f"/hooks/alertmanager/{token}",
        am_group(am_alert("a", severity="info", vigil_severity="5")),
    )
    assert Incident.objects.get().severity == 5


def test_integration_severity_mapping_overrides_words(service, inline, post_json):
    _, token = make_integration(service, "alertmanager", severity_mapping={"page": 5})
    post_json(f"/hooks/alertmanager/{token}", am_group(am_alert("a", severity="page")))
    assert Incident.objects.get().severity == 5


def test_without_auto_resolve_the_incident_stays_open(service, inline, post_json):
    _, token = make_integration(service, "alertmanager", auto_resolve=False)
    url = f"/hooks/alertmanager/{token}"
    post_json(url, am_group(am_alert("a")))
    post_json(url, am_group(am_alert("a", "resolved")))
    incident = Incident.objects.get()
    assert incident.status == Status.TRIGGERED
    assert incident.alerts.get().status == "resolved"
    # A new episode of the alert fires again inside the same open incident.
    again = am_alert("a")
    again["startsAt"] = "2026-11-25T12:00:00Z"
    post_json(url, am_group(again))
    assert Incident.objects.count() == 1
    assert incident.alerts.get().status == "firing"
    assert kinds(incident) == ["opened", "alert_resolved", "alert_refired"]


def test_resolved_only_delivery_for_unknown_group_is_stored_but_opens_nothing(
    alertmanager, post_json
):
    _, token = alertmanager
    response = post_json(f"/hooks/alertmanager/{token}", am_group(am_alert("z", "resolved")))
    assert response.status_code == 202
    assert "incident" not in response.json()
    assert Incident.objects.count() == 0
    assert InboundEvent.objects.get().processed_at is not None


def test_alert_without_fingerprint_is_keyed_by_its_labels(alertmanager, post_json):
    _, token = alertmanager
    alert = am_alert("a")
    del alert["fingerprint"]
    post_json(f"/hooks/alertmanager/{token}", am_group(alert))
    post_json(f"/hooks/alertmanager/{token}", am_group(dict(alert)))
    assert Alert.objects.get().count == 2


def test_unknown_keys_are_ignored(alertmanager, post_json):
    _, token = alertmanager
    group = am_group(am_alert("a"))
    group["someFutureKey"] = {"nested": [1, 2]}
    group["alerts"][0]["anotherNewKey"] = True
    assert post_json(f"/hooks/alertmanager/{token}", group).status_code == 202
