import pytest

from incidents import services as incident_services
from incidents.actors import Actor
from runbooks.models import AttachReason, RunbookRun
from runbooks.services import attach_matching_runbooks, labels_for
from tests.factories import ServiceFactory, open_incident
from tests.runbooks.factories import make_runbook

pytestmark = pytest.mark.django_db


def latency_incident(service, **kwargs):
    """The alert these runbooks are written for, opened with its after-commit events."""
    return open_incident(
        service,
        title="p99 latency above 3 s on sales avatar",
        severity=kwargs.pop("severity", 3),
        actor=Actor.integration("alertmanager"),
        run_events=True,
        **kwargs,
    )


def attached_titles(incident):
    return sorted(
        RunbookRun.objects.filter(incident=incident).values_list("runbook__title", flat=True)
    )


def test_opening_an_incident_attaches_runbooks_whose_matchers_all_hold(
    team, service, django_capture_on_commit_callbacks
):
    other_service = ServiceFactory(team=team)
    make_runbook(team, title="By label", match_labels={"alertname": "HighLatency"})
    make_runbook(team, title="By label glob", match_labels={"alertname": "High*"})
    make_runbook(team, title="Wrong label", match_labels={"alertname": "DiskFull"})
    make_runbook(team, title="By service", services=[service])
    make_runbook(team, title="Other service", services=[other_service])
    make_runbook(team, title="By title", match_title="*latency*")
    make_runbook(team, title="By key", match_dedup_key="sales-*")
    make_runbook(team, title="Severity too high", services=[service], min_severity=4)
    make_runbook(team, title="Inactive", services=[service], is_active=False)
    make_runbook(team, title="No matcher at all")
    make_runbook(
        team,
        title="Label and service",
        services=[service],
        match_labels={"alertname": "HighLatency", "env": "prod"},
    )
    make_runbook(
        team, title="Label and missing label", match_labels={"alertname": "HighLatency", "x": "y"}
    )

    incident = latency_incident(
        service,
        dedup_key="sales-latency",
        data={"labels": {"alertname": "HighLatency", "env": "prod"}},
    )

    assert attached_titles(incident) == [
        "By key",
        "By label",
        "By label glob",
        "By service",
        "By title",
        "Label and service",
    ]
    run = RunbookRun.objects.filter(incident=incident).first()
    assert run.reason == AttachReason.MATCHED
    kinds = list(incident.timeline.values_list("kind", flat=True))
    assert kinds.count("runbook_attached") == 6


def test_another_teams_runbook_never_attaches(service, django_capture_on_commit_callbacks):
    other_team = ServiceFactory().team
    make_runbook(other_team, title="Foreign", match_title="*")
    incident = latency_incident(service)
    assert attached_titles(incident) == []


def test_labels_come_from_alertmanager_style_data_and_pseudo_labels(service):
    incident, _ = incident_services.open_incident(
        service=service,
        title="x",
        severity=4,
        actor=Actor.integration("am"),
        dedup_key="grp",
        data={
            "commonLabels": {"alertname": "HighLatency", "team": "ai"},
            "alerts": [{"labels": {"instance": "gw-1"}}],
        },
    )
    labels = labels_for(incident)
    assert labels["alertname"] == "HighLatency"
    assert labels["instance"] == "gw-1"
    assert labels["service"] == service.slug
    assert labels["severity"] == "4"
    assert labels["dedup_key"] == "grp"


def test_matching_again_is_idempotent_and_severity_raise_attaches_more(
    team, service, django_capture_on_commit_callbacks
):
    make_runbook(team, title="Any sev", services=[service])
    make_runbook(team, title="Major only", services=[service], min_severity=4)
    incident = latency_incident(service, severity=3)
    assert attached_titles(incident) == ["Any sev"]
    assert attach_matching_runbooks(incident_id=incident.pk) == []
    with django_capture_on_commit_callbacks(execute=True):
        incident_services.change_severity(incident=incident, severity=5, actor=Actor.system("test"))
    assert attached_titles(incident) == ["Any sev", "Major only"]
    assert RunbookRun.objects.filter(incident=incident).count() == 2


def test_probe_and_heartbeat_incidents_match_by_name(
    team, service, django_capture_on_commit_callbacks
):
    make_runbook(team, title="Chat probe", match_labels={"probe": "sales-chat*"})
    make_runbook(team, title="ETL heartbeat", match_labels={"heartbeat": "nightly-etl"})
    with django_capture_on_commit_callbacks(execute=True):
        by_probe, _ = incident_services.open_incident(
            service=service,
            title="Probe down",
            severity=4,
            actor=Actor.probe("sales-chat-eu"),
            source="probe",
        )
        by_heartbeat, _ = incident_services.open_incident(
            service=service,
            title="Heartbeat late",
            severity=3,
            actor=Actor.system("heartbeats"),
            data={"heartbeat": "nightly-etl"},
        )
    assert attached_titles(by_probe) == ["Chat probe"]
    assert attached_titles(by_heartbeat) == ["ETL heartbeat"]
