import json
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from incidents import outbound
from incidents.actors import Actor
from runbooks.models import ActionRun, ActionState, AttachReason, RunbookRun, StepCheck
from runbooks.services import (
    RunbookError,
    attach_runbook,
    execute_action_run,
    request_action,
    sweep_action_runs,
    tick_step,
    untick_step,
)
from tests import factories
from tests.runbooks.factories import make_runbook, step

pytestmark = pytest.mark.django_db

SECRET = "action-secret-0123456789abcdef"


def open_incident(service, **kwargs):
    # Quotes in the title: the action bodies must stay valid JSON.
    kwargs.setdefault("title", 'Sales avatar "silent"')
    return factories.open_incident(service, actor=Actor.integration("alertmanager"), **kwargs)


def entries(incident, kind):
    return list(incident.timeline.filter(kind=kind).order_by("id"))


def test_ticking_steps_records_who_and_when_in_the_timeline(team, service, responder):
    runbook = make_runbook(team, steps=[step("Drain"), step("Restart")])
    incident = open_incident(service)
    run, created = attach_runbook(
        incident=incident,
        runbook=runbook,
        reason=AttachReason.MANUAL,
        actor=Actor.of_user(responder),
    )
    assert created
    drain, restart = runbook.steps.all()
    tick_step(run=run, step=restart, actor=Actor.of_user(responder))
    tick_step(
        run=run, step=restart, actor=Actor.of_user(responder)
    )  # a second tick changes nothing
    check = StepCheck.objects.get(run=run, step=restart)
    assert check.checked_by == responder and check.checked_at is not None
    [entry] = entries(incident, "runbook_step_checked")
    assert entry.actor_user == responder
    assert "Restart" in entry.message and entry.data["step_id"] == restart.pk
    untick_step(run=run, step=restart, actor=Actor.of_user(responder))
    assert not StepCheck.objects.filter(run=run).exists()
    assert len(entries(incident, "runbook_step_unchecked")) == 1


def test_a_step_of_another_runbook_is_refused(team, service, responder):
    incident = open_incident(service)
    run, _ = attach_runbook(
        incident=incident,
        runbook=make_runbook(team),
        reason=AttachReason.MANUAL,
        actor=Actor.of_user(responder),
    )
    foreign_step = make_runbook(team, title="Other").steps.get()
    with pytest.raises(RunbookError, match="does not belong"):
        tick_step(run=run, step=foreign_step, actor=Actor.of_user(responder))


def test_clicked_action_posts_signed_templated_json_to_the_receiver(
    team, service, responder, receiver, django_capture_on_commit_callbacks
):
    runbook = make_runbook(
        team,
        steps=[
            step(
                "Restart gateway",
                action_url=f"{receiver.url}/restart",
                action_secret=SECRET,
                action_body='{"target": "{{ service.slug }}", "why": "{{ incident.title }}", '
                '"sev": "{{ incident.severity }}", "ref": "{{ incident.reference }} via vigil", '
                '"alert": "{{ labels.alertname }}"}',
            )
        ],
    )
    incident = open_incident(service, data={"labels": {"alertname": "HighLatency"}})
    run, _ = attach_runbook(
        incident=incident,
        runbook=runbook,
        reason=AttachReason.MANUAL,
        actor=Actor.of_user(responder),
    )
    with django_capture_on_commit_callbacks(execute=False):
        action_run = request_action(
            run=run, step=runbook.steps.get(), actor=Actor.of_user(responder)
        )
    execute_action_run(action_run_id=action_run.pk)

    [request] = receiver.requests
    headers = request["headers"]
    assert request["path"] == "/restart"
    assert outbound.verify(
        SECRET,
        headers[outbound.TIMESTAMP_HEADER],
        request["body"],
        headers[outbound.SIGNATURE_HEADER],
    )
    body = json.loads(request["body"])
    assert body == {
        "target": service.slug,
        "why": 'Sales avatar "silent"',  # quotes in the title cannot break the JSON
        "sev": 4,
        "ref": f"{incident.reference} via vigil",
        "alert": "HighLatency",
    }
    action_run.refresh_from_db()
    assert action_run.state == ActionState.SUCCEEDED and action_run.response_status == 200
    [entry] = entries(incident, "runbook_action_succeeded")
    assert entry.actor_user == responder and entry.data["status"] == 200


def test_running_the_task_twice_sends_once(team, service, responder, receiver):
    runbook = make_runbook(
        team, steps=[step("Ping", action_url=receiver.url, action_secret=SECRET)]
    )
    incident = open_incident(service)
    run, _ = attach_runbook(
        incident=incident, runbook=runbook, reason="manual", actor=Actor.of_user(responder)
    )
    action_run = request_action(run=run, step=runbook.steps.get(), actor=Actor.of_user(responder))
    assert execute_action_run(action_run_id=action_run.pk) is not None
    assert execute_action_run(action_run_id=action_run.pk) is None
    assert len(receiver.requests) == 1


def test_second_click_while_running_is_refused(team, service, responder, receiver):
    runbook = make_runbook(team, steps=[step("Ping", action_url=receiver.url)])
    run, _ = attach_runbook(
        incident=open_incident(service),
        runbook=runbook,
        reason="manual",
        actor=Actor.of_user(responder),
    )
    request_action(run=run, step=runbook.steps.get(), actor=Actor.of_user(responder))
    with pytest.raises(RunbookError, match="already running"):
        request_action(run=run, step=runbook.steps.get(), actor=Actor.of_user(responder))


def test_failed_action_is_recorded_with_the_reason(team, service, responder, receiver):
    receiver.status = 503
    runbook = make_runbook(team, steps=[step("Ping", action_url=receiver.url)])
    incident = open_incident(service)
    run, _ = attach_runbook(
        incident=incident, runbook=runbook, reason="manual", actor=Actor.of_user(responder)
    )
    action_run = request_action(run=run, step=runbook.steps.get(), actor=Actor.of_user(responder))
    execute_action_run(action_run_id=action_run.pk)
    action_run.refresh_from_db()
    assert action_run.state == ActionState.FAILED and action_run.error == "HTTP 503"
    [entry] = entries(incident, "runbook_action_failed")
    assert "HTTP 503" in entry.message


def test_ssrf_guard_refuses_loopback_without_allow_list(team, service, responder, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    runbook = make_runbook(team, steps=[step("Metadata", action_url="http://127.0.0.1:9/x")])
    run, _ = attach_runbook(
        incident=open_incident(service),
        runbook=runbook,
        reason="manual",
        actor=Actor.of_user(responder),
    )
    action_run = request_action(run=run, step=runbook.steps.get(), actor=Actor.of_user(responder))
    execute_action_run(action_run_id=action_run.pk)
    action_run.refresh_from_db()
    assert action_run.state == ActionState.FAILED and "refused" in action_run.error


def test_automatic_steps_run_when_the_runbook_attaches_on_open(
    team, service, receiver, django_capture_on_commit_callbacks, monkeypatch
):
    """Escalation level L1: an incident opens, the runbook attaches and its action runs alone."""
    from runbooks import tasks

    monkeypatch.setattr(tasks.run_step_action, "delay", lambda pk: tasks.run_step_action.run(pk))
    make_runbook(
        team,
        services=[service],
        steps=[
            step(
                "Flush cache",
                action_url=f"{receiver.url}/flush",
                action_secret=SECRET,
                run_automatically=True,
            ),
            step("Check by hand"),
        ],
    )
    with django_capture_on_commit_callbacks(execute=True):
        incident = open_incident(service)
    assert [r["path"] for r in receiver.requests] == ["/flush"]
    action_run = ActionRun.objects.get()
    assert action_run.automatic and action_run.state == ActionState.SUCCEEDED
    [entry] = entries(incident, "runbook_action_succeeded")
    assert entry.actor_kind == "system" and "L1" in entry.actor_label


def test_sweep_requeues_lost_pending_runs_and_fails_abandoned_running_ones(
    team, service, responder, monkeypatch
):
    from runbooks import tasks

    sent = []
    monkeypatch.setattr(tasks.run_step_action, "delay", sent.append)
    runbook = make_runbook(
        team,
        steps=[
            step("A", action_url="https://a.example"),
            step("B", action_url="https://b.example"),
        ],
    )
    incident = open_incident(service)
    run, _ = attach_runbook(
        incident=incident, runbook=runbook, reason="manual", actor=Actor.of_user(responder)
    )
    a, b = runbook.steps.all()
    long_ago = timezone.now() - timedelta(hours=1)
    pending = ActionRun.objects.create(run=run, step=a, requested_at=long_ago)
    running = ActionRun.objects.create(
        run=run, step=b, state=ActionState.RUNNING, requested_at=long_ago, started_at=long_ago
    )
    assert sweep_action_runs() == (1, 1)
    assert sent == [pending.pk]
    running.refresh_from_db()
    assert running.state == ActionState.FAILED and "worker lost" in running.error
    assert sweep_action_runs() == (1, 0)  # the second run finds nothing new to fail


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_attach_creates_one_run(team, service):
    incident = open_incident(service)
    runbook = make_runbook(team, services=[service])  # after opening: nothing attached yet
    results, barrier = [], threading.Barrier(4)

    def attach():
        try:
            barrier.wait()
            results.append(
                attach_runbook(
                    incident=incident,
                    runbook=runbook,
                    reason="matched",
                    actor=Actor.system("runbook matcher"),
                )
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=attach) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert RunbookRun.objects.filter(incident=incident).count() == 1
    assert sum(created for _, created in results) == 1
    assert incident.timeline.filter(kind="runbook_attached").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_send_an_action_once(team, service, responder, receiver, monkeypatch):
    from runbooks import tasks

    monkeypatch.setattr(tasks.run_step_action, "delay", lambda pk: None)  # workers run below
    runbook = make_runbook(
        team, steps=[step("Ping", action_url=receiver.url, action_secret=SECRET)]
    )
    incident = open_incident(service)
    run, _ = attach_runbook(
        incident=incident, runbook=runbook, reason="manual", actor=Actor.of_user(responder)
    )
    action_run = request_action(run=run, step=runbook.steps.get(), actor=Actor.of_user(responder))
    barrier = threading.Barrier(4)

    def work():
        try:
            barrier.wait()
            execute_action_run(action_run_id=action_run.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(receiver.requests) == 1
    assert incident.timeline.filter(kind="runbook_action_succeeded").count() == 1
