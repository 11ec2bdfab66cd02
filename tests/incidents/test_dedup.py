import threading

import pytest
from django.db import IntegrityError, connection, transaction

from incidents import services
from incidents.actors import Actor
from incidents.models import Incident, Status, TimelineEntry
from tests.factories import IncidentFactory


def _open(service, key="probe:1", **kwargs):
    return services.open_incident(
        service=service, title=kwargs.pop("title", "Avatar silent"), severity=kwargs.pop("severity", 4),
        dedup_key=key, actor=Actor.system("test"), **kwargs,
    )  # fmt: skip


@pytest.mark.django_db
def test_partial_unique_index_refuses_a_second_open_incident_with_the_same_key(service):
    IncidentFactory(service=service, dedup_key="k")
    with pytest.raises(IntegrityError), transaction.atomic():
        IncidentFactory(service=service, dedup_key="k", status=Status.ACKNOWLEDGED)


@pytest.mark.django_db
def test_resolved_incident_does_not_block_a_new_one(service):
    IncidentFactory(service=service, dedup_key="k", status=Status.RESOLVED)
    IncidentFactory(service=service, dedup_key="k")
    assert Incident.objects.filter(dedup_key="k").count() == 2


@pytest.mark.django_db
def test_empty_dedup_key_never_conflicts(service):
    IncidentFactory(service=service, dedup_key="")
    IncidentFactory(service=service, dedup_key="")
    assert Incident.objects.filter(dedup_key="").count() == 2


@pytest.mark.django_db
def test_same_key_on_another_service_is_another_incident(service):
    from tests.factories import ServiceFactory

    other = ServiceFactory(team=service.team)
    first, _ = _open(service)
    second, created = _open(other)
    assert created and first.pk != second.pk


@pytest.mark.django_db
def test_repeat_attaches_to_the_open_incident_and_records_it(service):
    first, created = _open(service)
    again, created_again = _open(service, title="Avatar still silent")
    assert created and not created_again
    assert again.pk == first.pk
    first.refresh_from_db()
    assert first.repeat_count == 1
    assert first.title == "Avatar silent"
    assert list(first.timeline.order_by("id").values_list("kind", flat=True)) == [
        "opened",
        "repeated",
    ]


@pytest.mark.django_db
def test_after_resolve_the_same_key_opens_a_new_incident(service):
    first, _ = _open(service)
    services.resolve(incident=first, actor=Actor.system())
    second, created = _open(service)
    assert created and second.pk != first.pk


@pytest.mark.django_db
def test_reopen_is_refused_while_another_incident_holds_the_key(service):
    first, _ = _open(service)
    services.resolve(incident=first, actor=Actor.system())
    second, _ = _open(service)
    with pytest.raises(services.DedupConflict, match=f"{second.reference} is already open"):
        services.reopen(incident=first, actor=Actor.system())
    first.refresh_from_db()
    assert first.status == Status.RESOLVED


def _in_threads(count, target):
    barrier = threading.Barrier(count)
    errors, results = [], []

    def run():
        try:
            barrier.wait(timeout=10)
            results.append(target())
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ten_threads_opening_the_same_key_make_exactly_one_incident(service):
    results, errors = _in_threads(10, lambda: _open(service, key="race"))
    assert errors == []
    assert len(results) == 10
    assert Incident.objects.filter(dedup_key="race").count() == 1
    incident = Incident.objects.get(dedup_key="race")
    assert sum(created for _, created in results) == 1
    assert {i.pk for i, _ in results} == {incident.pk}
    assert incident.repeat_count == 9
    assert TimelineEntry.objects.filter(incident=incident, kind="opened").count() == 1
    assert TimelineEntry.objects.filter(incident=incident, kind="repeated").count() == 9


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_threads_acknowledging_at_once_make_one_acknowledgement(service, responder):
    incident, _ = _open(service, key="ack-race")

    def ack():
        try:
            services.acknowledge(incident=incident, actor=Actor.of_user(responder))
            return "acknowledged"
        except services.InvalidTransition:
            return "refused"

    results, errors = _in_threads(2, ack)
    assert errors == []
    assert sorted(results) == ["acknowledged", "refused"]
    assert TimelineEntry.objects.filter(incident=incident, kind="acknowledged").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgres_refuses_updates_of_timeline_rows(service):
    incident, _ = _open(service)
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        TimelineEntry.objects.filter(incident=incident).update(message="rewritten")
