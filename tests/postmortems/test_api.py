import pytest
from rest_framework.test import APIClient

from incidents.actors import Actor
from postmortems.models import ActionItem, Status
from postmortems.services import add_why, edit_why
from tests.postmortems.factories import complete, draft_for

pytestmark = pytest.mark.django_db


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def postmortem(service, responder):
    return draft_for(service, responder)


def test_detail_carries_measured_facts_and_is_team_scoped(postmortem, viewer, outsider):
    response = api(viewer).get(f"/api/v1/postmortems/{postmortem.pk}/")
    assert response.status_code == 200
    facts = response.json()["facts"]
    assert facts["time_to_recover_seconds"] == 90 * 60
    assert facts["rto"] == {"verdict": "missed", "margin_seconds": 30 * 60.0}
    assert facts["downtime_cost"] == "900.00"
    assert api(outsider).get(f"/api/v1/postmortems/{postmortem.pk}/").status_code == 404
    assert api(outsider).get("/api/v1/postmortems/").json()["results"] == []


def test_workflow_over_the_api(postmortem, responder, manager, viewer):
    base = f"/api/v1/postmortems/{postmortem.pk}/"
    assert api(viewer).patch(base, {"summary": "x"}, format="json").status_code == 403
    response = api(responder).patch(base, {"summary": "Replies stopped"}, format="json")
    assert response.status_code == 200 and response.json()["summary"] == "Replies stopped"
    node = add_why(postmortem=postmortem, actor=Actor.of_user(responder), question="Why?")
    refused = api(responder).post(base + "submit/")
    assert refused.status_code == 409 and "root cause" in refused.json()["error"]["message"]
    assert len(api(responder).get(base).json()["missing_sections"]) == 4
    complete(postmortem, responder, root_cause=False)
    edit_why(
        node=node,
        actor=Actor.of_user(responder),
        question="Why?",
        answer="quota",
        is_root_cause=True,
    )
    assert api(responder).get(base).json()["missing_sections"] == []
    assert api(responder).post(base + "submit/").status_code == 200
    assert api(responder).post(base + "publish/").status_code == 403
    comment = api(manager).post(base + "comments/", {"body": "Clear. Approving."}, format="json")
    assert comment.status_code == 200
    assert [c["body"] for c in comment.json()["comments"]] == ["Clear. Approving."]
    assert api(manager).post(base + "publish/").json()["status"] == Status.PUBLISHED
    assert api(manager).patch(base, {"summary": "late edit"}, format="json").status_code == 409


def test_action_items_create_update_and_overdue_list(postmortem, responder, outsider):
    response = api(responder).post(
        "/api/v1/action-items/",
        {
            "postmortem": postmortem.pk,
            "title": "Quota alert",
            "due_date": "2020-01-01",
            "priority": 1,
            "owner": responder.pk,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    item = ActionItem.objects.get()
    overdue = api(responder).get("/api/v1/action-items/?overdue=true").json()["results"]
    assert [i["id"] for i in overdue] == [item.pk]
    response = api(responder).patch(
        f"/api/v1/action-items/{item.pk}/", {"status": "done"}, format="json"
    )
    assert response.status_code == 200 and response.json()["completed_at"]
    assert api(responder).get("/api/v1/action-items/?overdue=true").json()["results"] == []
    foreign = api(outsider).post(
        "/api/v1/action-items/", {"postmortem": postmortem.pk, "title": "x"}, format="json"
    )
    assert foreign.status_code == 400
    assert (
        api(outsider)
        .patch(f"/api/v1/action-items/{item.pk}/", {"status": "open"}, format="json")
        .status_code
        == 404
    )
