"""The review workflow: draft -> in review -> published (and back to draft from review)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts import audit
from accounts.permissions import Action, can
from incidents import services as incident_services
from incidents.actors import Actor
from postmortems.models import EDITABLE_FIELDS, PostMortem, Status
from postmortems.search import refresh_search_document
from postmortems.services.errors import PostmortemError


def _locked(postmortem: PostMortem) -> PostMortem:
    return PostMortem.objects.select_for_update().select_related("incident").get(pk=postmortem.pk)


def edit_action(postmortem: PostMortem) -> Action:
    """The role views and the API require to edit the text, 5 Whys and factors: drafts are
    edited by responders, post-mortems in review by managers (published ones by nobody, which
    ``check_editable`` refuses whatever the role)."""
    return Action.CONFIGURE if postmortem.status == Status.IN_REVIEW else Action.RESPOND


def may_edit(postmortem: PostMortem, user) -> bool:
    return postmortem.status != Status.PUBLISHED and can(
        user, postmortem.team_id, edit_action(postmortem)
    )


def check_editable(postmortem: PostMortem) -> None:
    """State check of every edit (the caller holds the row lock): published is read-only."""
    if postmortem.status == Status.PUBLISHED:
        raise PostmortemError("a published post-mortem is read-only (action items stay editable)")


def _audit(postmortem: PostMortem, action: str, actor: Actor) -> None:
    audit.record(
        action=f"postmortem.{action}",
        actor=actor,
        team=postmortem.team_id,
        target=f"post-mortem {postmortem.pk}: {postmortem.title}",
        data={"postmortem_id": postmortem.pk, "incident_id": postmortem.incident_id},
    )


@transaction.atomic
def update_postmortem(*, postmortem: PostMortem, actor: Actor, changes: dict) -> PostMortem:
    """Edit the text fields. The caller checked the role (``edit_action``); this checks state."""
    postmortem = _locked(postmortem)
    check_editable(postmortem)
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise PostmortemError(f"cannot edit {', '.join(sorted(unknown))}")
    title = changes.get("title", postmortem.title)
    if not (title or "").strip():
        raise PostmortemError("a post-mortem needs a title")
    for field, value in changes.items():
        setattr(postmortem, field, value.strip() if isinstance(value, str) else value)
    start: datetime | None = postmortem.impact_started_at
    if start is not None and start > postmortem.incident.triggered_at:
        raise PostmortemError(
            "impact cannot start after the incident triggered; leave it empty to use the trigger time"
        )
    if (postmortem.data_loss_from is None) != (postmortem.data_loss_until is None):
        raise PostmortemError("record both ends of the data-loss window, or neither")
    if postmortem.data_loss_from and postmortem.data_loss_until < postmortem.data_loss_from:
        raise PostmortemError("the data-loss window ends before it starts")
    postmortem.save(update_fields=[*changes, "updated_at"])
    refresh_search_document(postmortem.pk)
    return postmortem


def _transition(postmortem: PostMortem, *, allowed, new_status: str, verb: str) -> None:
    if postmortem.status not in allowed:
        raise PostmortemError(
            f"cannot {verb} a post-mortem that is {postmortem.get_status_display()}"
        )
    postmortem.status = new_status


@transaction.atomic
def submit_for_review(*, postmortem: PostMortem, actor: Actor) -> PostMortem:
    postmortem = _locked(postmortem)
    _transition(postmortem, allowed=(Status.DRAFT,), new_status=Status.IN_REVIEW, verb="submit")
    postmortem.submitted_at = timezone.now()
    postmortem.submitted_by = actor.user_or_none
    postmortem.save(update_fields=["status", "submitted_at", "submitted_by", "updated_at"])
    incident_services.record(
        incident=postmortem.incident,
        kind="postmortem_submitted",
        actor=actor,
        message=f"Post-mortem submitted for review by {actor}",
        data={"postmortem_id": postmortem.pk},
    )
    _audit(postmortem, "submitted", actor)
    return postmortem


@transaction.atomic
def return_to_draft(*, postmortem: PostMortem, actor: Actor, note: str = "") -> PostMortem:
    postmortem = _locked(postmortem)
    _transition(postmortem, allowed=(Status.IN_REVIEW,), new_status=Status.DRAFT, verb="return")
    postmortem.review_note = note.strip()
    postmortem.save(update_fields=["status", "review_note", "updated_at"])
    incident_services.record(
        incident=postmortem.incident,
        kind="postmortem_returned",
        actor=actor,
        message=f"Post-mortem returned to draft by {actor}"
        + (f": {note.strip()}" if note.strip() else ""),
        data={"postmortem_id": postmortem.pk},
    )
    _audit(postmortem, "returned", actor)
    return postmortem


@transaction.atomic
def publish(*, postmortem: PostMortem, actor: Actor) -> PostMortem:
    """A manager approves: in review -> published. Refused while no 5-Why node is a root cause."""
    postmortem = _locked(postmortem)
    _transition(
        postmortem,
        allowed=(Status.IN_REVIEW,),
        new_status=Status.PUBLISHED,
        verb="publish",
    )
    if not postmortem.whys.filter(is_root_cause=True).exists():
        raise PostmortemError(
            "cannot publish without a root cause: mark at least one answer of the 5-Why tree "
            "as a root cause"
        )
    if postmortem.incident.is_open:
        raise PostmortemError(
            f"cannot publish while {postmortem.incident.reference} is still open: its recovery "
            "time is not known yet"
        )
    postmortem.published_at = timezone.now()
    postmortem.published_by = actor.user_or_none
    postmortem.save(update_fields=["status", "published_at", "published_by", "updated_at"])
    incident_services.record(
        incident=postmortem.incident,
        kind="postmortem_published",
        actor=actor,
        message=f"Post-mortem published by {actor}",
        data={"postmortem_id": postmortem.pk},
    )
    _audit(postmortem, "published", actor)
    return postmortem
