import pytest
from django.test import Client
from django.urls import reverse
from freezegun import freeze_time

from accounts.models import AuditLog
from incidents import services as incident_services
from incidents.actors import Actor
from incidents.panels import panels_for
from runbooks.models import ActionRun, Runbook, RunbookRun, StepCheck
from runbooks.services import attach_runbook
from tests.factories import ServiceFactory
from tests.runbooks.factories import make_runbook, step

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def runbook(team, manager):
    return make_runbook(
        team,
        manager,
        steps=[step("Drain"), step("Restart", action_url="https://ops.example/restart")],
    )


@pytest.fixture
def run(team, service, runbook, responder):
    incident, _ = incident_services.open_incident(
        service=service, title="Slow", severity=3, actor=Actor.system("t")
    )
    return attach_runbook(
        incident=incident, runbook=runbook, reason="manual", actor=Actor.of_user(responder)
    )[0]


def step_url(run, name, step_obj):
    return reverse(f"runbooks:{name}", args=[run.pk, step_obj.pk])


# --- reading -------------------------------------------------------------------------------


def test_list_shows_own_team_only_with_search_and_overdue_filter(
    team, viewer, runbook, django_assert_max_num_queries
):
    make_runbook(ServiceFactory().team, title="Foreign runbook")
    make_runbook(team, title="Provider outage", body="Fail over.")
    client = client_for(viewer)
    response = client.get("/runbooks/")
    assert response.status_code == 200
    content = response.content.decode()
    assert runbook.title in content and "Provider outage" in content
    assert "Foreign runbook" not in content
    response = client.get("/runbooks/?q=outage", **HTMX)
    assert "Provider outage" in response.content.decode()
    assert runbook.title not in response.content.decode()
    with freeze_time("2020-01-01"):
        make_runbook(team, title="Stale runbook")
    response = client.get("/runbooks/?overdue=1")
    content = response.content.decode()
    assert "Stale runbook" in content and "overdue since 2020-03-31" in content
    assert "Provider outage" not in content


def test_list_query_count_does_not_grow_with_runbooks(team, viewer, django_assert_max_num_queries):
    for n in range(30):
        make_runbook(team, title=f"Runbook {n}")
    client = client_for(viewer)
    with django_assert_max_num_queries(10):
        assert client.get("/runbooks/").status_code == 200


def test_detail_renders_sanitised_markdown_and_hides_other_teams(team, viewer, outsider):
    runbook = make_runbook(team, body="**bold** <script>alert(1)</script> <b onclick=x>b</b>")
    response = client_for(viewer).get(f"/runbooks/{runbook.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<strong>bold</strong>" in html
    assert "<script>alert(1)" not in html and "onclick" not in html
    assert client_for(outsider).get(f"/runbooks/{runbook.pk}/").status_code == 404


def test_anonymous_is_sent_to_login(runbook):
    response = Client().get(f"/runbooks/{runbook.pk}/")
    assert response.status_code == 302 and "/login/" in response["Location"]


# --- editing -------------------------------------------------------------------------------


def form_data(**overrides):
    data = {
        "title": "Provider outage",
        "body": "Switch to the secondary model.",
        "match_labels": "alertname=ProviderDown",
        "match_title": "",
        "match_dedup_key": "",
        "min_severity": "3",
        "max_severity": "5",
        "is_active": "on",
        "review_interval_days": "90",
        "steps-TOTAL_FORMS": "2",
        "steps-INITIAL_FORMS": "0",
        "steps-0-title": "Fail over",
        "steps-0-position": "1",
        "steps-0-action_url": "https://ops.example/failover",
        "steps-0-action_body": '{"service": "{{ service.slug }}"}',
        "steps-0-action_secret": "topsecret",
        "steps-0-run_automatically": "on",
        "steps-1-title": "",
    }
    data.update(overrides)
    return data


def test_manager_creates_a_runbook_with_steps(team, manager):
    response = client_for(manager).post("/runbooks/new/", form_data(team=team.pk))
    runbook = Runbook.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/runbooks/{runbook.pk}/"
    assert runbook.match_labels == {"alertname": "ProviderDown"}
    [s] = runbook.steps.all()
    assert s.run_automatically and s.action_secret == "topsecret"
    assert AuditLog.objects.filter(action="runbook.created", actor=manager).exists()


def test_bad_runbook_input_answers_400_naming_the_problem(team, manager):
    response = client_for(manager).post(
        "/runbooks/new/", form_data(team=team.pk, match_labels="nonsense", max_severity="9")
    )
    assert response.status_code == 400
    content = response.content.decode()
    assert "must look like name=value" in content
    assert not Runbook.objects.exists()


def test_responder_may_not_create_or_edit(team, responder, runbook):
    client = client_for(responder)
    assert client.get("/runbooks/new/").status_code == 403
    assert client.post(f"/runbooks/{runbook.pk}/edit/", form_data()).status_code == 403
    assert client.post(f"/runbooks/{runbook.pk}/review/").status_code == 403


def test_edit_keeps_revision_and_page_shows_diff(team, manager, runbook):
    client = client_for(manager)
    assert client.get(f"/runbooks/{runbook.pk}/edit/").status_code == 200
    s1, s2 = runbook.steps.all()
    data = form_data(
        title=runbook.title,
        body="New first line",
        **{
            "steps-INITIAL_FORMS": "2",
            "steps-0-id": str(s1.pk),
            "steps-0-title": "Drain the pool",
            "steps-0-action_url": "",
            "steps-0-action_body": "",
            "steps-0-action_secret": "",
            "steps-0-run_automatically": "",
            "steps-1-id": str(s2.pk),
            "steps-1-title": "Restart",
            "steps-1-position": "2",
            "steps-1-action_url": s2.action_url,
            "note": "clearer first step",
        },
    )
    response = client.post(f"/runbooks/{runbook.pk}/edit/", data)
    assert response.status_code == 302
    runbook.refresh_from_db()
    assert runbook.version == 2
    assert list(runbook.steps.values_list("title", flat=True)) == ["Drain the pool", "Restart"]
    page = client.get(f"/runbooks/{runbook.pk}/revisions/").content.decode()
    assert "+## Step 1: Drain the pool" in page
    assert "-## Step 1: Drain" in page
    assert client.get(f"/runbooks/{runbook.pk}/revisions/?number=x").status_code == 400
    assert client.get(f"/runbooks/{runbook.pk}/revisions/?number=99").status_code == 404


def test_other_team_gets_404_on_writes(outsider, runbook, run):
    client = client_for(outsider)
    assert client.post(f"/runbooks/{runbook.pk}/edit/", form_data()).status_code == 404
    assert client.post(f"/runbooks/{runbook.pk}/review/").status_code == 404
    first = runbook.steps.first()
    assert client.post(step_url(run, "tick", first), {"done": "1"}).status_code == 404
    assert client.post(step_url(run, "run-action", first)).status_code == 404
    assert client.get(f"/runbooks/incident/{run.incident_id}/").status_code == 404


def test_review_marks_reviewed_and_get_is_refused(manager, runbook):
    client = client_for(manager)
    assert client.get(f"/runbooks/{runbook.pk}/review/").status_code == 405
    assert client.post(f"/runbooks/{runbook.pk}/review/").status_code == 302
    runbook.refresh_from_db()
    assert runbook.last_reviewed_by == manager


def test_preview_renders_sanitised_markdown(viewer):
    response = client_for(viewer).post(
        "/runbooks/preview/", {"body": "# Hi\n<img src=x onerror=alert(1)>"}, **HTMX
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Hi</h1>" in html and "onerror" not in html


# --- checklist in the incident ------------------------------------------------------------


def test_responder_ticks_a_step_with_htmx(responder, run):
    drain = run.runbook.steps.first()
    response = client_for(responder).post(step_url(run, "tick", drain), {"done": "1"}, **HTMX)
    assert response.status_code == 200
    assert "incidentChanged" in response["HX-Trigger"]
    assert 'id="runbooks-panel"' in response.content.decode()
    check = StepCheck.objects.get(run=run, step=drain)
    assert check.checked_by == responder
    assert run.incident.timeline.filter(kind="runbook_step_checked").count() == 1


def test_plain_tick_redirects_and_untick_works(responder, run):
    drain = run.runbook.steps.first()
    client = client_for(responder)
    response = client.post(step_url(run, "tick", drain), {"done": "1"})
    assert response.status_code == 302
    client.post(step_url(run, "tick", drain), {"done": "0"})
    assert not StepCheck.objects.exists()
    assert client.post(step_url(run, "tick", drain), {"done": "maybe"}).status_code == 400


def test_viewer_cannot_tick_and_get_is_refused(viewer, responder, run):
    drain = run.runbook.steps.first()
    assert client_for(viewer).post(step_url(run, "tick", drain), {"done": "1"}).status_code == 403
    assert client_for(responder).get(step_url(run, "tick", drain)).status_code == 405
    assert not StepCheck.objects.exists()


def test_tick_without_csrf_token_is_refused(responder, run):
    client = Client(enforce_csrf_checks=True)
    client.force_login(responder)
    drain = run.runbook.steps.first()
    assert client.post(step_url(run, "tick", drain), {"done": "1"}, **HTMX).status_code == 403


def test_run_action_queues_once_and_second_click_conflicts(responder, run):
    restart = run.runbook.steps.last()
    client = client_for(responder)
    assert client.post(step_url(run, "run-action", restart), **HTMX).status_code == 200
    assert ActionRun.objects.get().requested_by == responder
    response = client.post(step_url(run, "run-action", restart), **HTMX)
    assert response.status_code == 409
    assert ActionRun.objects.count() == 1


def test_responder_attaches_a_runbook_by_hand(team, responder, run):
    extra = make_runbook(team, title="Extra")
    response = client_for(responder).post(
        f"/runbooks/incident/{run.incident_id}/attach/", {"runbook": extra.pk}, **HTMX
    )
    assert response.status_code == 200
    assert RunbookRun.objects.filter(incident_id=run.incident_id, runbook=extra).exists()


def test_incident_room_panels_are_registered(viewer, run):
    panels = {panel.key: ctx for panel, ctx in panels_for(run.incident, viewer)}
    assert panels["runbooks"]["checklists"][0]["run"] == run
    assert panels["runbooks"]["can_respond"] is False
    assert "postmortem" in panels


# --- refusals under htmx: the flash region, never the panel --------------------------------


def _assert_flash_not_panel(response, status, text):
    assert response.status_code == status
    assert response["HX-Retarget"] == "#flash" and response["HX-Reswap"] == "innerHTML"
    body = response.content.decode()
    assert 'class="flash-error"' in body and text in body
    # Neither Django's bare error page nor a copy of the checklist goes into the panel.
    assert "<h1>" not in body and "checklist" not in body.lower()


def test_viewer_ticking_under_htmx_gets_the_flash_not_a_403_page(viewer, run):
    drain = run.runbook.steps.first()
    response = client_for(viewer).post(step_url(run, "tick", drain), {"done": "1"}, **HTMX)
    _assert_flash_not_panel(response, 403, "does not allow")
    assert not StepCheck.objects.exists()


def test_step_of_another_runbook_under_htmx_is_a_404_in_the_flash(team, responder, run):
    foreign = make_runbook(team, title="Other", steps=[step("Elsewhere")]).steps.first()
    client = client_for(responder)
    for name in ("tick", "run-action"):
        response = client.post(step_url(run, name, foreign), {"done": "1"}, **HTMX)
        _assert_flash_not_panel(response, 404, "does not belong")
    assert not StepCheck.objects.exists() and not ActionRun.objects.exists()


def test_other_teams_run_under_htmx_is_a_404_in_the_flash(outsider, run):
    drain = run.runbook.steps.first()
    response = client_for(outsider).post(step_url(run, "tick", drain), {"done": "1"}, **HTMX)
    _assert_flash_not_panel(response, 404, "Not found")


def test_action_in_flight_under_htmx_is_a_409_in_the_flash(responder, run):
    restart = run.runbook.steps.last()
    client = client_for(responder)
    assert client.post(step_url(run, "run-action", restart), **HTMX).status_code == 200
    response = client.post(step_url(run, "run-action", restart), **HTMX)
    _assert_flash_not_panel(response, 409, "already running")


def test_refusal_without_htmx_is_a_problem_page_with_the_status(viewer, run):
    drain = run.runbook.steps.first()
    response = client_for(viewer).post(step_url(run, "tick", drain), {"done": "1"})
    assert response.status_code == 403
    assert "does not allow" in response.content.decode()
    assert "HX-Retarget" not in response
