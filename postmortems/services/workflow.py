"""The review workflow: draft -> in review -> published (and back to draft from review)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.permissions import Action, can
from incidents import services as incident_services
from incidents.actors import Actor
from postmortems.models import PostMortem, Status
from postmortems.search import refresh_search_document
from postmortems.services.errors import PostmortemError

EDITABLE_FIELDS = (
    "title",
    "summary",
    "impact",
    "what_went_well",
    "what_went_wrong",
    "lessons_learned",
    "impact_started_at",
    "data_loss_from",
    "data_loss_until",
)


def _locked(postmortem: PostMortem) -> PostMortem:
    return PostMortem.objects.select_for_update().select_related("incident").get(pk=postmortem.pk)


def check_can_edit(postmortem: PostMortem, user) -> None:
    """Drafts are edited by responders, post-mortems in review by managers, published by nobody."""
    if postmortem.status == Status.PUBLISHED:
        raise PostmortemError("a published post-mortem is read-only (action items stay editable)")
    needed = Action.RESPOND if postmortem.status == Status.DRAFT else Action.CONFIGURE
    if not can(user, postmortem.team_id, needed):
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied(
            "only managers edit a post-mortem in review"
            if needed == Action.CONFIGURE
            else "responders and above edit drafts"
        )


@transaction.atomic
def update_postmortem(*, postmortem: PostMortem, by, changes: dict) -> PostMortem:
    postmortem = _locked(postmortem)
    check_can_edit(postmortem, by)
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
def submit_for_review(*, postmortem: PostMortem, by) -> PostMortem:
    postmortem = _locked(postmortem)
    _transition(postmortem, allowed=(Status.DRAFT,), new_status=Status.IN_REVIEW, verb="submit")
    postmortem.submitted_at = timezone.now()
    postmortem.submitted_by = by
    postmortem.save(update_fields=["status", "submitted_at", "submitted_by", "updated_at"])
    incident_services.record(
        incident=postmortem.incident,
        kind="postmortem_submitted",
        actor=Actor.of_user(by),
        message=f"Post-mortem submitted for review by {by}",
        data={"postmortem_id": postmortem.pk},
    )
    return postmortem


@transaction.atomic
def return_to_draft(*, postmortem: PostMortem, by, note: str = "") -> PostMortem:
    postmortem = _locked(postmortem)
    _transition(postmortem, allowed=(Status.IN_REVIEW,), new_status=Status.DRAFT, verb="return")
    postmortem.review_note = note.strip()
    postmortem.save(update_fields=["status", "review_note", "updated_at"])
    incident_services.record(
        incident=postmortem.incident,
        kind="postmortem_returned",
        actor=Actor.of_user(by),
        message=f"Post-mortem returned to draft by {by}"
        + (f": {note.strip()}" if note.strip() else ""),
        data={"postmortem_id": postmortem.pk},
    )
    return postmortem


@transaction.atomic
def publish(*, postmortem: PostMortem, by) -> PostMortem:
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
    postmortem.published_by = by
    postmortem.save(update_fields=["status", "published_at", "published_by", "updated_at"])
    incident_services.record(
        incident=postmortem.incident,
        kind="postmortem_published",
        actor=Actor.of_user(by),
        message=f"Post-mortem published by {by}",
        data={"postmortem_id": postmortem.pk},
    )
    return postmortem
