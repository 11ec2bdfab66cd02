import pytest

from accounts.permissions import Action
from incidents.actors import Actor
from postmortems.models import ItemStatus, Status, WhyNode
from postmortems.services import (
    PostmortemError,
    add_action_item,
    add_factor,
    add_why,
    delete_why,
    edit_action,
    edit_why,
    move_why,
    publish,
    return_to_draft,
    submit_for_review,
    update_action_item,
    update_postmortem,
    why_tree,
)
from tests.postmortems.factories import complete, draft_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def postmortem(service, responder):
    return draft_for(service, responder)


def shape(postmortem):
    def walk(nodes):
        return [(n.node.question, walk(n.children)) for n in nodes]

    return walk(why_tree(postmortem))


def test_tree_grows_children_and_siblings_at_any_depth(postmortem, responder):
    root = add_why(
        postmortem=postmortem, actor=Actor.of_user(responder), question="Why silent?", answer="5xx"
    )
    a = add_why(
        postmortem=postmortem, actor=Actor.of_user(responder), question="Why 5xx?", parent=root
    )
    c = add_why(
        postmortem=postmortem, actor=Actor.of_user(responder), question="Why quota?", parent=root
    )
    add_why(
        postmortem=postmortem,
        actor=Actor.of_user(responder),
        question="Why no alert?",
        sibling_of=a,
    )
    deep = add_why(
        postmortem=postmortem, actor=Actor.of_user(responder), question="Why no limit?", parent=a
    )
    add_why(
        postmortem=postmortem,
        actor=Actor.of_user(responder),
        question="Why no review?",
        parent=deep,
    )
    assert shape(postmortem) == [
        (
            "Why silent?",
            [
                ("Why 5xx?", [("Why no limit?", [("Why no review?", [])])]),
                ("Why no alert?", []),
                ("Why quota?", []),
            ],
        )
    ]
    assert c.parent_id == root.pk


def test_edit_reorder_and_delete_subtree(postmortem, responder):
    root = add_why(postmortem=postmortem, actor=Actor.of_user(responder), question="Root")
    first = add_why(
        postmortem=postmortem, actor=Actor.of_user(responder), question="First", parent=root
    )
    second = add_why(
        postmortem=postmortem, actor=Actor.of_user(responder), question="Second", parent=root
    )
    add_why(
        postmortem=postmortem, actor=Actor.of_user(responder), question="Under first", parent=first
    )
    move_why(node=second, actor=Actor.of_user(responder), direction="up")
    assert [c[0] for c in shape(postmortem)[0][1]] == ["Second", "First"]
    move_why(
        node=second, actor=Actor.of_user(responder), direction="up"
    )  # already first: no change
    assert [c[0] for c in shape(postmortem)[0][1]] == ["Second", "First"]
    edit_why(
        node=first,
        actor=Actor.of_user(responder),
        question="First?",
        answer="because",
        is_root_cause=True,
    )
    first.refresh_from_db()
    assert (first.question, first.answer, first.is_root_cause) == ("First?", "because", True)
    delete_why(node=first, actor=Actor.of_user(responder))
    assert list(WhyNode.objects.values_list("question", flat=True).order_by("id")) == [
        "Root",
        "Second",
    ]
    with pytest.raises(PostmortemError, match="up or down"):
        move_why(node=second, actor=Actor.of_user(responder), direction="sideways")
    with pytest.raises(PostmortemError, match="needs a question"):
        add_why(postmortem=postmortem, actor=Actor.of_user(responder), question="  ")


def test_publish_records_who_and_when(postmortem, responder, manager):
    complete(postmortem, responder)
    submit_for_review(postmortem=postmortem, actor=Actor.of_user(responder))
    publish(postmortem=postmortem, actor=Actor.of_user(manager))
    postmortem.refresh_from_db()
    assert postmortem.status == Status.PUBLISHED
    assert postmortem.published_by == manager and postmortem.published_at is not None
    kinds = list(postmortem.incident.timeline.values_list("kind", flat=True))
    assert "postmortem_submitted" in kinds and "postmortem_published" in kinds


def test_workflow_order_is_enforced(postmortem, responder, manager):
    with pytest.raises(PostmortemError, match="cannot publish a post-mortem that is draft"):
        publish(postmortem=postmortem, actor=Actor.of_user(manager))
    complete(postmortem, responder)
    submit_for_review(postmortem=postmortem, actor=Actor.of_user(responder))
    with pytest.raises(PostmortemError, match="cannot submit"):
        submit_for_review(postmortem=postmortem, actor=Actor.of_user(responder))
    return_to_draft(postmortem=postmortem, actor=Actor.of_user(manager), note="add the impact")
    postmortem.refresh_from_db()
    assert postmortem.status == Status.DRAFT and postmortem.review_note == "add the impact"


def test_published_is_read_only_except_action_items(postmortem, responder, manager):
    node = complete(postmortem, responder)
    item = postmortem.items.get()
    submit_for_review(postmortem=postmortem, actor=Actor.of_user(responder))
    publish(postmortem=postmortem, actor=Actor.of_user(manager))
    for attempt in (
        lambda: update_postmortem(
            postmortem=postmortem, actor=Actor.of_user(manager), changes={"summary": "x"}
        ),
        lambda: add_why(postmortem=postmortem, actor=Actor.of_user(manager), question="More?"),
        lambda: edit_why(
            node=node, actor=Actor.of_user(manager), question="Q", answer="", is_root_cause=False
        ),
        lambda: add_factor(
            postmortem=postmortem, actor=Actor.of_user(manager), factor="api_limits"
        ),
        lambda: delete_why(node=node, actor=Actor.of_user(manager)),
    ):
        with pytest.raises(PostmortemError, match="read-only"):
            attempt()
    update_action_item(
        item=item, actor=Actor.of_user(responder), changes={"status": ItemStatus.DONE}
    )
    item.refresh_from_db()
    assert item.status == ItemStatus.DONE and item.completed_at is not None
    add_action_item(
        postmortem=postmortem, actor=Actor.of_user(responder), title="Runbook for quota"
    )
    assert postmortem.items.count() == 2


def test_in_review_nobody_edits_the_document(postmortem, responder, manager):
    """In review the text is frozen for everyone, managers included, over the API too."""
    from rest_framework.test import APIClient

    complete(postmortem, responder)
    submit_for_review(postmortem=postmortem, actor=Actor.of_user(responder))
    postmortem.refresh_from_db()
    assert edit_action(postmortem) == Action.RESPOND
    url = f"/api/v1/postmortems/{postmortem.pk}/"
    client = APIClient()
    for user in (responder, manager):
        client.force_authenticate(user)
        response = client.patch(url, {"summary": "Tightened"}, format="json")
        assert response.status_code == 409
        assert "in review is read-only" in response.json()["error"]["message"]
    postmortem.refresh_from_db()
    assert postmortem.summary != "Tightened"


def test_factors_follow_the_taxonomy(postmortem, responder):
    factor = add_factor(
        postmortem=postmortem, actor=Actor.of_user(responder), factor="prompt_injection"
    )
    assert factor.category == "external"
    assert add_factor(
        postmortem=postmortem, actor=Actor.of_user(responder), factor="monitoring_gap"
    ).category == ("operational")
    with pytest.raises(PostmortemError, match="unknown contributing factor"):
        add_factor(postmortem=postmortem, actor=Actor.of_user(responder), factor="gremlins")


def test_data_loss_window_must_be_whole_and_ordered(postmortem, responder):
    from tests.postmortems.factories import T0

    with pytest.raises(PostmortemError, match="both ends"):
        update_postmortem(
            postmortem=postmortem, actor=Actor.of_user(responder), changes={"data_loss_from": T0}
        )
    with pytest.raises(PostmortemError, match="ends before"):
        update_postmortem(
            postmortem=postmortem,
            actor=Actor.of_user(responder),
            changes={"data_loss_from": T0, "data_loss_until": T0.replace(hour=9)},
        )
    with pytest.raises(PostmortemError, match="after the incident triggered"):
        update_postmortem(
            postmortem=postmortem,
            actor=Actor.of_user(responder),
            changes={"impact_started_at": T0.replace(hour=11)},
        )


def test_action_item_owner_must_be_in_the_team(postmortem, responder, outsider):
    with pytest.raises(PostmortemError, match="not a member"):
        add_action_item(
            postmortem=postmortem, actor=Actor.of_user(responder), title="x", owner=outsider
        )
