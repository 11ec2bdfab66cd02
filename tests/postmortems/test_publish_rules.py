"""Publishing rules (issue 17): complete sections, another person approves, frozen in review."""

import pytest
from django.db import IntegrityError, transaction
from django.test import Client

from accounts.models import AuditLog, Role
from config.errors import InvalidInput
from incidents.actors import Actor
from postmortems.models import ActionItem, ItemStatus, PostMortem, ReviewComment, Status
from postmortems.services import (
    PostmortemError,
    add_action_item,
    add_review_comment,
    missing_sections,
    publish,
    return_to_draft,
    submit_for_review,
    update_action_item,
    update_postmortem,
)
from tests.conftest import _member
from tests.postmortems.factories import complete, draft_for

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def postmortem(service, responder):
    return draft_for(service, responder)


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def test_refusal_lists_every_missing_section_at_once(postmortem, responder):
    with pytest.raises(PostmortemError) as refused:
        submit_for_review(postmortem=postmortem, actor=Actor.of_user(responder))
    message = str(refused.value)
    assert message.startswith(f"cannot submit {postmortem.incident.reference}: ")
    for part in (
        "impact is empty",
        "what went wrong is empty",
        "no answer of the 5-Why tree is marked as a root cause",
        "no action item",
    ):
        assert part in message
    postmortem.refresh_from_db()
    assert postmortem.status == Status.DRAFT


def test_whitespace_does_not_count_as_a_section(postmortem, responder):
    complete(postmortem, responder)
    PostMortem.objects.filter(pk=postmortem.pk).update(impact="  \n ", what_went_wrong="\t")
    postmortem.refresh_from_db()
    assert missing_sections(postmortem) == ["impact is empty", "what went wrong is empty"]


def test_no_action_needed_with_a_reason_replaces_the_action_item(postmortem, responder, manager):
    complete(postmortem, responder, action_item=False)
    assert missing_sections(postmortem) == [
        "no action item (add one, or state that no action is needed and why)"
    ]
    with pytest.raises(InvalidInput, match="say why no action is needed"):
        update_postmortem(
            postmortem=postmortem,
            actor=Actor.of_user(responder),
            changes={"no_action_needed": True, "no_action_reason": "   "},
        )
    update_postmortem(
        postmortem=postmortem,
        actor=Actor.of_user(responder),
        changes={"no_action_needed": True, "no_action_reason": "A one-off provider outage."},
    )
    postmortem.refresh_from_db()
    assert missing_sections(postmortem) == []
    submit_for_review(postmortem=postmortem, actor=Actor.of_user(responder))
    publish(postmortem=postmortem, actor=Actor.of_user(manager))
    postmortem.refresh_from_db()
    assert postmortem.status == Status.PUBLISHED and not postmortem.items.exists()


def test_database_refuses_no_action_needed_without_a_reason(postmortem):
    with pytest.raises(IntegrityError), transaction.atomic():
        PostMortem.objects.filter(pk=postmortem.pk).update(
            no_action_needed=True, no_action_reason=""
        )


def test_submitter_may_not_approve_unless_the_team_allows_it(postmortem, team, manager):
    other_manager = _member(team, Role.MANAGER)
    complete(postmortem, manager)
    submit_for_review(postmortem=postmortem, actor=Actor.of_user(manager))
    with pytest.raises(PostmortemError, match="someone other than its author"):
        publish(postmortem=postmortem, actor=Actor.of_user(manager))
    postmortem.refresh_from_db()
    assert postmortem.status == Status.IN_REVIEW
    team.postmortem_self_approval = True
    team.save(update_fields=["postmortem_self_approval"])
    publish(postmortem=postmortem, actor=Actor.of_user(manager))
    postmortem.refresh_from_db()
    assert postmortem.status == Status.PUBLISHED and postmortem.published_by == manager
    assert other_manager != manager


def test_author_of_the_draft_may_not_approve_either(service, team, manager, responder):
    postmortem = draft_for(service, manager)  # created_by the manager
    complete(postmortem, responder)
    submit_for_review(postmortem=postmortem, actor=Actor.of_user(responder))
    with pytest.raises(PostmortemError, match="someone other than its author"):
        publish(postmortem=postmortem, actor=Actor.of_user(manager))
    publish(postmortem=postmortem, actor=Actor.of_user(_member(team, Role.MANAGER)))
    postmortem.refresh_from_db()
    assert postmortem.status == Status.PUBLISHED


def test_publish_refusal_names_self_approval_and_open_incident_together(
    postmortem, manager, responder
):
    complete(postmortem, responder)
    submit_for_review(postmortem=postmortem, actor=Actor.of_user(responder))
    incident = postmortem.incident
    type(incident).objects.filter(pk=incident.pk).update(status="triggered", resolved_at=None)
    with pytest.raises(PostmortemError) as refused:
        publish(postmortem=postmortem, actor=Actor.of_user(responder))
    assert "is still open" in str(refused.value)
    assert "someone other than its author" in str(refused.value)


def test_in_review_only_comments_and_item_progress_change(postmortem, responder, manager):
    complete(postmortem, responder)
    item = postmortem.items.get()
    submit_for_review(postmortem=postmortem, actor=Actor.of_user(responder))
    with pytest.raises(PostmortemError, match="in review is read-only"):
        update_postmortem(
            postmortem=postmortem, actor=Actor.of_user(manager), changes={"impact": "more"}
        )
    with pytest.raises(PostmortemError, match="in review is read-only"):
        add_action_item(postmortem=postmortem, actor=Actor.of_user(manager), title="Extra")
    with pytest.raises(PostmortemError, match="in review is read-only"):
        update_action_item(item=item, actor=Actor.of_user(manager), changes={"title": "Other"})
    update_action_item(
        item=item, actor=Actor.of_user(responder), changes={"status": ItemStatus.IN_PROGRESS}
    )
    comment = add_review_comment(
        postmortem=postmortem, actor=Actor.of_user(manager), body="  Name the quota owner.  "
    )
    assert comment.body == "Name the quota owner." and comment.during == Status.IN_REVIEW
    assert comment.author == manager
    assert AuditLog.objects.filter(action="postmortem.commented").count() == 1
    assert ActionItem.objects.get(pk=item.pk).status == ItemStatus.IN_PROGRESS
    # Back in draft, the authors change the document again.
    return_to_draft(postmortem=postmortem, actor=Actor.of_user(manager), note="see comments")
    update_postmortem(
        postmortem=postmortem, actor=Actor.of_user(responder), changes={"impact": "more"}
    )
    postmortem.refresh_from_db()
    assert postmortem.impact == "more"


def test_published_takes_no_more_comments(postmortem, responder, manager):
    complete(postmortem, responder)
    submit_for_review(postmortem=postmortem, actor=Actor.of_user(responder))
    publish(postmortem=postmortem, actor=Actor.of_user(manager))
    with pytest.raises(PostmortemError, match="no more review comments"):
        add_review_comment(postmortem=postmortem, actor=Actor.of_user(manager), body="late")
    with pytest.raises(InvalidInput):
        add_review_comment(postmortem=postmortem, actor=Actor.of_user(manager), body=" ")


def test_comment_view_roles_and_htmx(postmortem, responder, manager, viewer, outsider):
    complete(postmortem, responder)
    submit_for_review(postmortem=postmortem, actor=Actor.of_user(responder))
    path = f"/postmortems/{postmortem.pk}/comments/"
    assert client_for(manager).get(path).status_code == 405
    assert client_for(outsider).post(path, {"body": "x"}).status_code == 404
    assert client_for(viewer).post(path, {"body": "x"}).status_code == 403
    assert Client().post(path, {"body": "x"}).status_code == 302
    plain = client_for(manager).post(path, {"body": "Looks right."})
    assert plain.status_code == 302
    htmx = client_for(manager).post(path, {"body": "One more thing."}, **HTMX)
    assert htmx.status_code == 200 and "One more thing." in htmx.content.decode()
    assert "postmortemChanged" in htmx.headers["HX-Trigger"]
    assert list(ReviewComment.objects.values_list("body", flat=True)) == [
        "Looks right.",
        "One more thing.",
    ]
    page = client_for(responder).get(f"/postmortems/{postmortem.pk}/").content.decode()
    assert "Review comments" in page and "One more thing." in page
    assert "In review the document is read-only" in page


def test_detail_page_shows_the_checklist_and_the_self_approval_hint(postmortem, manager):
    page = client_for(manager).get(f"/postmortems/{postmortem.pk}/").content.decode()
    assert "Ready to publish?" in page and "impact is empty" in page
    complete(postmortem, manager)
    submit_for_review(postmortem=postmortem, actor=Actor.of_user(manager))
    page = client_for(manager).get(f"/postmortems/{postmortem.pk}/").content.decode()
    assert "another person approves it" in page


def test_settings_page_lets_team_admins_allow_self_approval(team, manager, outsider):
    admin = _member(team, Role.ADMIN)
    assert client_for(manager).get("/postmortems/settings/").status_code == 200
    refused = client_for(manager).post(
        "/postmortems/settings/", {"team": team.pk, "self_approval": "on"}
    )
    assert refused.status_code == 403
    other_team = client_for(outsider).post(
        "/postmortems/settings/", {"team": team.pk, "self_approval": "on"}
    )
    assert other_team.status_code == 404
    team.refresh_from_db()
    assert team.postmortem_self_approval is False
    done = client_for(admin).post(
        "/postmortems/settings/", {"team": team.pk, "self_approval": "on"}
    )
    assert done.status_code == 302
    team.refresh_from_db()
    assert team.postmortem_self_approval is True
    assert AuditLog.objects.filter(action="team.postmortem_self_approval_changed").count() == 1
    client_for(admin).post("/postmortems/settings/", {"team": team.pk})
    team.refresh_from_db()
    assert team.postmortem_self_approval is False
    assert Client().get("/postmortems/settings/").status_code == 302
    assert client_for(admin).delete("/postmortems/settings/").status_code == 405
