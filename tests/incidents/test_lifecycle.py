import pytest

from incidents import services
from incidents.actors import Actor
from incidents.errors import IncidentError, InvalidTransition
from incidents.models import Incident, Status

pytestmark = pytest.mark.django_db


def _open(service, **kwargs):
    kwargs.setdefault("title", "Sales avatar silent")
    kwargs.setdefault("severity", 4)
    kwargs.setdefault("actor", Actor.system("test"))
    incident, created = services.open_incident(service=service, **kwargs)
    assert created
    return incident


def kinds(incident):
    return list(incident.timeline.order_by("id").values_list("kind", flat=True))


def test_open_incident_writes_opened_entry_and_timestamps(service):
    incident = _open(service, summary="502 on every chat")
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED
    assert incident.team_id == service.team_id
    assert incident.triggered_at is not None
    assert incident.reference == f"INC-{incident.pk}"
    assert kinds(incident) == ["opened"]
    entry = incident.timeline.get()
    assert entry.actor_kind == "system" and entry.data["severity"] == 4


@pytest.mark.parametrize(
    ("path", "final", "stamp"),
    [
        (["acknowledge"], Status.ACKNOWLEDGED, "acknowledged_at"),
        (["mitigate"], Status.MITIGATED, "mitigated_at"),
        (["acknowledge", "mitigate"], Status.MITIGATED, "mitigated_at"),
        (["resolve"], Status.RESOLVED, "resolved_at"),
        (["acknowledge", "resolve"], Status.RESOLVED, "resolved_at"),
        (["acknowledge", "mitigate", "resolve"], Status.RESOLVED, "resolved_at"),
        (["resolve", "reopen"], Status.TRIGGERED, "reopened_at"),
        (
            ["acknowledge", "resolve", "reopen", "acknowledge"],
            Status.ACKNOWLEDGED,
            "acknowledged_at",
        ),
    ],
)
def test_allowed_transitions_write_one_entry_each(service, responder, path, final, stamp):
    incident = _open(service)
    actor = Actor.of_user(responder)
    for verb in path:
        incident = getattr(services, verb)(incident=incident, actor=actor)
    incident.refresh_from_db()
    assert incident.status == final
    assert getattr(incident, stamp) is not None
    expected = ["opened"] + [
        {
            "acknowledge": "acknowledged",
            "mitigate": "mitigated",
            "resolve": "resolved",
            "reopen": "reopened",
        }[v]
        for v in path
    ]
    assert kinds(incident) == expected
    assert incident.timeline.order_by("-id").first().actor_user == responder


@pytest.mark.parametrize(
    ("path", "verb", "message"),
    [
        ([], "reopen", "cannot reopen"),
        (["acknowledge"], "acknowledge", "it is acknowledged"),
        (["mitigate"], "acknowledge", "only triggered incidents can be acknowledged"),
        (["mitigate"], "mitigate", "it is mitigated"),
        (["resolve"], "acknowledge", "it is resolved"),
        (["resolve"], "mitigate", "it is resolved"),
        (
            ["resolve"],
            "resolve",
            "only triggered or acknowledged or mitigated incidents can be resolved",
        ),
        (["acknowledge"], "reopen", "only resolved incidents can be reopened"),
    ],
)
def test_forbidden_transitions_are_refused_with_a_reason(service, responder, path, verb, message):
    incident = _open(service)
    actor = Actor.of_user(responder)
    for step in path:
        incident = getattr(services, step)(incident=incident, actor=actor)
    before = kinds(incident)
    status_before = Incident.objects.get(pk=incident.pk).status
    with pytest.raises(InvalidTransition, match=message):
        getattr(services, verb)(incident=incident, actor=actor)
    incident.refresh_from_db()
    assert incident.status == status_before
    assert kinds(incident) == before


def test_mitigating_an_unacknowledged_incident_counts_as_acknowledgement(service, responder):
    incident = services.mitigate(incident=_open(service), actor=Actor.of_user(responder))
    incident.refresh_from_db()
    assert incident.acknowledged_at == incident.mitigated_at
    assert incident.acknowledged_by == responder


def test_reopen_clears_the_previous_response_times(service, responder):
    actor = Actor.of_user(responder)
    incident = _open(service)
    services.acknowledge(incident=incident, actor=actor)
    services.resolve(incident=incident, actor=actor, note="restarted")
    services.reopen(incident=incident, actor=actor, reason="came back")
    incident.refresh_from_db()
    assert (incident.acknowledged_at, incident.resolved_at, incident.reopen_count) == (
        None,
        None,
        1,
    )
    assert (
        incident.timeline.order_by("-id").first().message
        == f"Reopened by {responder.username}: came back"
    )


def test_resolve_keeps_the_resolution_note(service, responder):
    incident = services.resolve(
        incident=_open(service), actor=Actor.of_user(responder), note="rolled back v2"
    )
    incident.refresh_from_db()
    assert incident.resolution_note == "rolled back v2"
    assert incident.resolved_by == responder
    assert "rolled back v2" in incident.timeline.order_by("-id").first().message


def test_change_severity_records_old_and_new(service, responder):
    incident = _open(service, severity=2)
    services.change_severity(
        incident=incident, severity=5, actor=Actor.of_user(responder), reason="all users"
    )
    incident.refresh_from_db()
    assert incident.severity == 5
    entry = incident.timeline.order_by("-id").first()
    assert (entry.kind, entry.data["old"], entry.data["new"]) == ("severity_changed", 2, 5)
    assert entry.message.startswith("Raised severity from 2 to 5")


@pytest.mark.parametrize("bad", [0, 6, -1, 99])
def test_severity_outside_one_to_five_is_refused(service, bad):
    with pytest.raises(IncidentError, match="severity must be 1 to 5"):
        services.open_incident(service=service, title="x", severity=bad, actor=Actor.system())
    incident = _open(service)
    with pytest.raises(IncidentError, match="severity must be 1 to 5"):
        services.change_severity(incident=incident, severity=bad, actor=Actor.system())


def test_same_severity_is_refused(service):
    incident = _open(service, severity=3)
    with pytest.raises(InvalidTransition, match="already has severity 3"):
        services.change_severity(incident=incident, severity=3, actor=Actor.system())


def test_assign_to_responder_and_not_to_outsider_or_viewer(service, responder, viewer, outsider):
    incident = _open(service)
    services.assign(incident=incident, assignee=responder, actor=Actor.of_user(responder))
    incident.refresh_from_db()
    assert incident.assignee == responder
    assert kinds(incident)[-1] == "assigned"
    for person in (outsider, viewer):
        with pytest.raises(InvalidTransition, match="not a responder"):
            services.assign(incident=incident, assignee=person, actor=Actor.of_user(responder))
    services.assign(incident=incident, assignee=None, actor=Actor.of_user(responder))
    incident.refresh_from_db()
    assert incident.assignee is None


def test_add_note_appends_and_rejects_blank(service, responder):
    incident = _open(service)
    services.add_note(
        incident=incident, actor=Actor.of_user(responder), text="Provider status page is red"
    )
    assert incident.timeline.order_by("-id").first().message == "Provider status page is red"
    with pytest.raises(IncidentError, match="needs some text"):
        services.add_note(incident=incident, actor=Actor.of_user(responder), text="   ")


def test_timeline_entries_cannot_be_updated(service):
    entry = _open(service).timeline.get()
    entry.message = "rewritten history"
    with pytest.raises(ValueError, match="append-only"):
        entry.save()


def test_every_write_bumps_updated_at(service, responder):
    incident = _open(service)
    incident.refresh_from_db()
    before = incident.updated_at
    services.add_note(incident=incident, actor=Actor.of_user(responder), text="looking")
    incident.refresh_from_db()
    assert incident.updated_at > before
