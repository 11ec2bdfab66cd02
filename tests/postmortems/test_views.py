import pytest
from django.test import Client

from incidents.actors import Actor
from postmortems.models import ActionItem, ContributingFactor, PostMortem, Status, WhyNode
from postmortems.services import add_action_item, add_why, submit_for_review
from tests.postmortems.factories import complete, draft_for, resolved_incident

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def postmortem(service, responder):
    return draft_for(service, responder)


def url(postmortem, suffix=""):
    return f"/postmortems/{postmortem.pk}/{suffix}"


def test_viewer_reads_detail_export_and_print(postmortem, viewer):
    client = client_for(viewer)
    response = client.get(url(postmortem))
    assert response.status_code == 200
    assert "Measured facts" in response.content.decode()
    assert "Submit for review" not in response.content.decode()
    md = client.get(url(postmortem, "export.md"))
    assert md.status_code == 200 and md["Content-Type"].startswith("text/markdown")
    assert "attachment" in md["Content-Disposition"]
    text = md.content.decode()
    assert text.startswith(f"# {postmortem.title}")
    assert "| time to recover | 1 h 30 min |" in text
    printable = client.get(url(postmortem, "print/"))
    assert printable.status_code == 200 and "learn-print.css" in printable.content.decode()


def test_other_team_gets_404_everywhere(postmortem, outsider):
    client = client_for(outsider)
    for path in ("", "export.md", "print/"):
        assert client.get(url(postmortem, path)).status_code == 404
    for path in ("edit/", "submit/", "publish/", "return/", "whys/", "items/", "factors/"):
        assert (
            client.post(url(postmortem, path), {"question": "x", "title": "x"}).status_code == 404
        )
    assert client.post(f"/postmortems/create/{postmortem.incident_id}/").status_code == 404


def test_anonymous_goes_to_login(postmortem):
    response = Client().get(url(postmortem))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_viewer_cannot_write(postmortem, viewer):
    client = client_for(viewer)
    assert client.post(url(postmortem, "edit/"), {"title": "x"}).status_code == 403
    assert client.post(url(postmortem, "whys/"), {"question": "Why?"}).status_code == 403
    assert client.post(url(postmortem, "submit/")).status_code == 403
    assert client.post(url(postmortem, "items/"), {"title": "x", "priority": 3}).status_code == 403
    assert not WhyNode.objects.exists() and not ActionItem.objects.exists()


def test_get_never_changes_state(postmortem, manager):
    client = client_for(manager)
    for path in ("edit/", "submit/", "publish/", "return/", "whys/", "items/", "factors/"):
        assert client.get(url(postmortem, path)).status_code == 405


def test_responder_edits_a_draft(postmortem, responder):
    response = client_for(responder).post(
        url(postmortem, "edit/"),
        {
            "title": "Quota outage",
            "summary": "Replies stopped.",
            "impact": "",
            "what_went_well": "",
            "what_went_wrong": "",
            "lessons_learned": "",
            "impact_started_at": "2026-03-02T09:50",
            "data_loss_from": "",
            "data_loss_until": "",
        },
    )
    assert response.status_code == 302
    postmortem.refresh_from_db()
    assert postmortem.title == "Quota outage"
    assert postmortem.impact_started_at.isoformat() == "2026-03-02T09:50:00+00:00"


def test_bad_input_answers_4xx_naming_the_problem(postmortem, responder):
    client = client_for(responder)
    response = client.post(url(postmortem, "edit/"), {"title": "x", "impact_started_at": "soon"})
    assert response.status_code == 400 and "impact_started_at" in response.content.decode()
    response = client.post(
        url(postmortem, "edit/"), {"title": "x", "data_loss_from": "2026-03-02T09:00"}, **HTMX
    )
    assert response.status_code == 409 and "both ends" in response.content.decode()
    response = client.post(url(postmortem, "factors/"), {"factor": "gremlins"}, **HTMX)
    assert response.status_code == 400 and "factor" in response.content.decode()


def test_why_tree_operations_over_htmx(postmortem, responder):
    client = client_for(responder)
    response = client.post(url(postmortem, "whys/"), {"question": "Why silent?"}, **HTMX)
    assert response.status_code == 200
    assert 'id="why-tree"' in response.content.decode()
    assert 'hx-swap-oob="true"' in response.content.decode()  # blameless box refreshed too
    root = WhyNode.objects.get()
    client.post(url(postmortem, "whys/"), {"question": "Why 5xx?", "parent": root.pk}, **HTMX)
    child = WhyNode.objects.get(parent=root)
    client.post(
        url(postmortem, "whys/"), {"question": "Why quota?", "sibling_of": child.pk}, **HTMX
    )
    sibling = WhyNode.objects.get(question="Why quota?")
    assert sibling.parent_id == root.pk
    client.post(url(postmortem, f"whys/{sibling.pk}/move/"), {"direction": "up"}, **HTMX)
    assert list(WhyNode.objects.filter(parent=root).values_list("question", flat=True)) == [
        "Why quota?",
        "Why 5xx?",
    ]
    client.post(
        url(postmortem, f"whys/{child.pk}/edit/"),
        {"question": "Why 5xx?", "answer": "quota", "is_root_cause": "on"},
        **HTMX,
    )
    child.refresh_from_db()
    assert child.is_root_cause and child.answer == "quota"
    client.post(url(postmortem, f"whys/{root.pk}/delete/"), **HTMX)
    assert not WhyNode.objects.exists()


def test_node_of_another_post_mortem_is_404(postmortem, service, responder):
    other = draft_for(service, responder, title="Other")
    node = add_why(postmortem=other, actor=Actor.of_user(responder), question="Elsewhere")
    response = client_for(responder).post(
        url(postmortem, f"whys/{node.pk}/edit/"), {"question": "hijack"}
    )
    assert response.status_code == 404


def test_manager_publishes_a_complete_post_mortem(postmortem, responder, manager):
    client = client_for(responder)
    response = client.post(url(postmortem, "submit/"))
    assert response.status_code == 409
    page = response.content.decode()
    for missing in ("impact is empty", "what went wrong is empty", "root cause", "action item"):
        assert missing in page  # every missing section at once
    complete(postmortem, responder)
    assert client.post(url(postmortem, "submit/")).status_code == 302
    assert client.post(url(postmortem, "publish/")).status_code == 403  # responders cannot
    manager_client = client_for(manager)
    assert manager_client.post(url(postmortem, "publish/")).status_code == 302
    postmortem.refresh_from_db()
    assert postmortem.status == Status.PUBLISHED
    # published: the write-up is read-only, action items are not
    response = client.post(url(postmortem, "edit/"), {"title": "changed"})
    assert response.status_code == 409
    response = client.post(
        url(postmortem, "items/"), {"title": "Alert on quota", "priority": 2}, **HTMX
    )
    assert response.status_code == 200
    assert ActionItem.objects.filter(title="Alert on quota").exists()


def test_in_review_pages_refuse_edits_naming_the_rule(postmortem, responder, manager):
    complete(postmortem, responder)
    submit_for_review(postmortem=postmortem, actor=Actor.of_user(responder))
    for user in (responder, manager):
        client = client_for(user)
        for path, data in (
            ("whys/", {"question": "Why?"}),
            ("edit/", {"title": "changed"}),
            ("factors/", {"factor": "api_limits"}),
            ("items/", {"title": "Another", "priority": 2}),
        ):
            response = client.post(url(postmortem, path), data)
            assert response.status_code == 409, path
            assert "in review is read-only" in response.content.decode()
            htmx = client.post(url(postmortem, path), data, **HTMX)
            assert "in review is read-only" in htmx.content.decode()
    postmortem.refresh_from_db()
    assert postmortem.title != "changed" and postmortem.whys.count() == 1


def test_action_items_and_factors_via_htmx(postmortem, responder, team):
    client = client_for(responder)
    response = client.post(
        url(postmortem, "items/"),
        {"title": "Quota alert", "owner": responder.pk, "due_date": "2020-01-01", "priority": 1},
        **HTMX,
    )
    assert response.status_code == 200 and "overdue" in response.content.decode()
    item = ActionItem.objects.get()
    assert item.owner == responder and item.priority == 1
    client.post(url(postmortem, f"items/{item.pk}/status/"), {"status": "done"}, **HTMX)
    item.refresh_from_db()
    assert item.status == "done"
    assert (
        client.post(url(postmortem, f"items/{item.pk}/status/"), {"status": "x"}).status_code == 400
    )
    client.post(
        url(postmortem, "factors/"),
        {"factor": "monitoring_gap", "description": "no quota alert"},
        **HTMX,
    )
    factor = ContributingFactor.objects.get()
    assert factor.category == "operational"
    client.post(url(postmortem, f"factors/{factor.pk}/delete/"), **HTMX)
    assert not ContributingFactor.objects.exists()


def test_blameless_warning_shows_but_does_not_block(postmortem, responder, team):
    client = client_for(responder)
    complete(postmortem, responder)
    PostMortem.objects.filter(pk=postmortem.pk).update(
        summary=f"{responder.username} forgot to renew the key."
    )
    page = client.get(url(postmortem)).content.decode()
    assert "Blameless check" in page and "<mark>forgot</mark>" in page
    assert client.post(url(postmortem, "submit/")).status_code == 302


def test_manual_create_for_low_severity_and_panel(service, responder, viewer):
    incident = resolved_incident(service, responder, severity=1)
    response = client_for(responder).post(f"/postmortems/create/{incident.pk}/")
    postmortem = PostMortem.objects.get(incident=incident)
    assert response.status_code == 302 and response["Location"] == url(postmortem)
    assert client_for(viewer).post(f"/postmortems/create/{incident.pk}/").status_code == 403


def test_list_search_and_manager_review(
    postmortem, service, responder, manager, viewer, django_assert_max_num_queries
):
    service.rto_minutes = 30
    service.save()
    add_action_item(
        postmortem=postmortem,
        actor=Actor.of_user(responder),
        title="Overdue thing",
        due_date=__import__("datetime").date(2020, 1, 1),
    )
    client = client_for(viewer)
    assert postmortem.title in client.get("/postmortems/").content.decode()
    assert client.get("/postmortems/search/?q=anything").status_code == 200
    assert client.get("/postmortems/review/").status_code == 403
    for n in range(5):
        draft_for(service, responder, title=f"More {n}")
    manager_client = client_for(manager)
    with django_assert_max_num_queries(15):
        page = manager_client.get("/postmortems/review/")
    assert page.status_code == 200
    content = page.content.decode()
    assert "Overdue thing" in content
    assert "missed by 1 h 00 min" not in content  # table shows the figure, not the tag
    assert "1 h 00 min" in content  # 90 min recovery against a 30 min RTO
    assert "2026-Q1" in content


def test_live_blameless_check_reads_unsaved_text_and_saves_nothing(postmortem, responder):
    client = client_for(responder)
    page = client.get(url(postmortem)).content.decode()
    assert f'hx-post="/postmortems/{postmortem.pk}/blameless-check/"' in page
    response = client.post(
        url(postmortem, "blameless-check/"),
        {"summary": "She forgot the renewal.", "impact": ""},
        **HTMX,
    )
    assert response.status_code == 200
    assert "<mark>She</mark>" in response.content.decode()
    clean = client.post(
        url(postmortem, "blameless-check/"), {"summary": "The renewal job had no owner."}, **HTMX
    )
    assert "Blameless check" not in clean.content.decode()
    postmortem.refresh_from_db()
    assert postmortem.summary == ""
    assert client.get(url(postmortem, "blameless-check/")).status_code == 405


@pytest.mark.postgres
def test_review_report_sql_path_agrees_with_the_python_measurements(service, responder, team):
    import types
    from datetime import timedelta
    from decimal import Decimal

    from postmortems import reports
    from tests.postmortems.factories import T0

    service.rto_minutes = 60
    service.rpo_minutes = 10
    service.downtime_cost_per_hour = Decimal("1000.00")
    service.save()
    slow = draft_for(service, responder, resolve=100, title="slow")  # RTO missed by 40 min
    draft_for(service, responder, resolve=30, title="fast")  # RTO met
    early = draft_for(service, responder, resolve=50, title="early")  # impact 20 min earlier
    PostMortem.objects.filter(pk=early.pk).update(
        impact_started_at=T0 - timedelta(minutes=20),
        data_loss_from=T0,
        data_loss_until=T0 + timedelta(minutes=25),
    )
    draft_for(service, responder, resolve=None, title="still open")
    now = T0 + timedelta(days=10)
    in_sql = reports.review_report([team.pk], now=now)
    from postmortems import reports as module

    original = module.connection
    module.connection = types.SimpleNamespace(vendor="sqlite")
    try:
        in_python = reports.review_report([team.pk], now=now)
    finally:
        module.connection = original
    assert [r.pk for r in in_sql.missed_rto] == [r.pk for r in in_python.missed_rto]
    assert {r.pk for r in in_sql.missed_rto} == {slow.pk, early.pk}
    assert in_sql.missed_rto_count == 2
    assert [r.pk for r in in_sql.missed_rpo] == [early.pk] == [r.pk for r in in_python.missed_rpo]
    # 100 + 30 + 70 minutes of downtime at 1000/h
    assert (
        in_sql.cost_by_quarter == in_python.cost_by_quarter == [("2026-Q1", Decimal("3333.33"), 3)]
    )
