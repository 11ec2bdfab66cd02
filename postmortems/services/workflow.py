"""The review workflow: draft -> in review -> published (and back to draft from review)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts import audit
from accounts.permissions import Action, can
from config.errors import InvalidInput
from incidents import services as incident_services
from incidents.actors import Actor
from postmortems.models import EDITABLE_FIELDS, PostMortem, Status
from postmortems.search import refresh_search_document
from postmortems.services.errors import PostmortemError


def _locked(postmortem: PostMortem) -> PostMortem:
    return (
        PostMortem.objects.select_for_update(of=("self", "incident"))
        .select_related("incident", "team")
        .get(pk=postmortem.pk)
    )


def edit_action(postmortem: PostMortem) -> Action:
    """The role views and the API require to edit the text, 5 Whys and factors: responders.
    Only drafts are editable at all, which ``check_editable`` enforces whatever the role."""
    return Action.RESPOND


def may_edit(postmortem: PostMortem, user) -> bool:
    return postmortem.status == Status.DRAFT and can(
        user, postmortem.team_id, edit_action(postmortem)
    )


IN_REVIEW_READ_ONLY = gettext_lazy(
    "a post-mortem in review is read-only: reviewers may add comments; return it to draft to "
    "change the document"
)


def check_editable(postmortem: PostMortem) -> None:
    """State check of every edit (the caller holds the row lock): only drafts change. In
    review the reviewer reads what was submitted; published is the record."""
    if postmortem.status == Status.PUBLISHED:
        raise PostmortemError(
            _("a published post-mortem is read-only (action items stay editable)")
        )
    if postmortem.status == Status.IN_REVIEW:
        raise PostmortemError(IN_REVIEW_READ_ONLY)


def missing_sections(postmortem: PostMortem) -> list[str]:
    """What a post-mortem still lacks to be published, every item at once (empty: complete)."""
    missing = []
    if not postmortem.impact.strip():
        missing.append(str(_("impact is empty")))
    if not postmortem.what_went_wrong.strip():
        missing.append(str(_("what went wrong is empty")))
    if not postmortem.whys.filter(is_root_cause=True).exists():
        missing.append(str(_("no answer of the 5-Why tree is marked as a root cause")))
    if not postmortem.no_action_needed and not postmortem.items.exists():
        missing.append(
            str(_("no action item (add one, or state that no action is needed and why)"))
        )
    return missing


def self_approval_refused(postmortem: PostMortem, user) -> bool:
    """True when ``user`` submitted (or wrote) the post-mortem and the team wants another
    person to approve it."""
    if user is None or postmortem.team.postmortem_self_approval:
        return False
    authors = {postmortem.submitted_by_id, postmortem.created_by_id} - {None}
    return user.pk in authors


def _refuse(verb: str, postmortem: PostMortem, problems: list[str]) -> None:
    if problems:
        raise PostmortemError(
            _("cannot %(verb)s %(title)s: %(problems)s")
            % {
                "verb": verb,
                "title": postmortem.incident.reference,
                "problems": "; ".join(problems),
            }
        )


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
    if "no_action_reason" in changes:
        changes = {**changes, "no_action_reason": (changes["no_action_reason"] or "").strip()}
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
    if postmortem.no_action_needed and not postmortem.no_action_reason:
        raise InvalidInput(
            _("say why no action is needed, or untick “no action needed”"),
        )
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
    # In review nobody can fill a gap, so an incomplete document is not sent there.
    _refuse(_("submit"), postmortem, missing_sections(postmortem))
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
    """A manager approves: in review -> published. Refused, naming every problem at once, while
    a section is missing (``missing_sections``), the incident is open, or the approver is the
    person who submitted it and the team does not allow self-approval."""
    postmortem = _locked(postmortem)
    _transition(
        postmortem,
        allowed=(Status.IN_REVIEW,),
        new_status=Status.PUBLISHED,
        verb="publish",
    )
    problems = missing_sections(postmortem)
    if postmortem.incident.is_open:
        problems.append(
            _("%(incident)s is still open: its recovery time is not known yet")
            % {"incident": postmortem.incident.reference}
        )
    if self_approval_refused(postmortem, actor.user_or_none):
        problems.append(
            _(
                "the reviewer must be someone other than its author (a team admin can allow "
                "self-approval in the post-mortem settings)"
            )
        )
    _refuse(_("publish"), postmortem, problems)
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
