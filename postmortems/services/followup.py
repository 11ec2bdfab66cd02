"""Contributing factors and action items. Action items stay editable after publication."""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.utils import timezone

from accounts.actors import Actor
from accounts.permissions import Action, can
from postmortems.models import (
    CATEGORY_OF,
    ActionItem,
    ContributingFactor,
    ItemStatus,
    PostMortem,
    Priority,
    Status,
)
from postmortems.search import refresh_search_document
from postmortems.services.errors import PostmortemError
from postmortems.services.workflow import IN_REVIEW_READ_ONLY, check_editable


@transaction.atomic
def add_factor(
    *, postmortem: PostMortem, actor: Actor, factor: str, description: str = ""
) -> ContributingFactor:
    postmortem = PostMortem.objects.select_for_update().get(pk=postmortem.pk)
    check_editable(postmortem)
    if factor not in CATEGORY_OF:
        raise PostmortemError(f"unknown contributing factor {factor!r}")
    created = ContributingFactor.objects.create(
        postmortem=postmortem,
        category=CATEGORY_OF[factor],
        factor=factor,
        description=(description or "").strip(),
    )
    refresh_search_document(postmortem.pk)
    return created


@transaction.atomic
def remove_factor(*, factor: ContributingFactor, actor: Actor) -> None:
    postmortem = PostMortem.objects.select_for_update().get(pk=factor.postmortem_id)
    check_editable(postmortem)
    factor.delete()
    refresh_search_document(postmortem.pk)


def _check_owner(postmortem: PostMortem, owner) -> None:
    if owner is not None and not can(owner, postmortem.team_id, Action.VIEW):
        raise PostmortemError(f"{owner} is not a member of team {postmortem.team}")


def _check_priority(priority: int) -> int:
    if priority not in Priority.values:
        raise PostmortemError("priority must be 1 (urgent) to 4 (low)")
    return int(priority)


@transaction.atomic
def add_action_item(
    *,
    postmortem: PostMortem,
    actor: Actor,
    title: str,
    owner=None,
    due_date: date | None = None,
    priority: int = Priority.MEDIUM,
    link: str = "",
) -> ActionItem:
    title = (title or "").strip()
    if not title:
        raise PostmortemError("an action item needs a title")
    _check_owner(postmortem, owner)
    # Locked so an item cannot slip in between submit's completeness check and the review.
    postmortem = PostMortem.objects.select_for_update().get(pk=postmortem.pk)
    if postmortem.status == Status.IN_REVIEW:
        raise PostmortemError(IN_REVIEW_READ_ONLY)
    return ActionItem.objects.create(
        postmortem=postmortem,
        title=title[:255],
        owner=owner,
        due_date=due_date,
        priority=_check_priority(priority),
        link=(link or "").strip(),
    )


@transaction.atomic
def update_action_item(*, item: ActionItem, actor: Actor, changes: dict) -> ActionItem:
    item = ActionItem.objects.select_for_update().select_related("postmortem").get(pk=item.pk)
    allowed = {"title", "owner", "due_date", "priority", "status", "link"}
    unknown = set(changes) - allowed
    if unknown:
        raise PostmortemError(f"cannot edit {', '.join(sorted(unknown))}")
    # Progress (the status) is tracked at any time; what the item is stays as reviewed.
    if item.postmortem.status == Status.IN_REVIEW and set(changes) - {"status"}:
        raise PostmortemError(IN_REVIEW_READ_ONLY)
    if "title" in changes and not (changes["title"] or "").strip():
        raise PostmortemError("an action item needs a title")
    if "owner" in changes:
        _check_owner(item.postmortem, changes["owner"])
    if "priority" in changes:
        changes["priority"] = _check_priority(changes["priority"])
    if "status" in changes:
        if changes["status"] not in ItemStatus.values:
            raise PostmortemError(f"unknown status {changes['status']!r}")
        closing = changes["status"] in (ItemStatus.DONE, ItemStatus.WONT_DO)
        item.completed_at = (item.completed_at or timezone.now()) if closing else None
        changes = {**changes, "completed_at": item.completed_at}
    for name, value in changes.items():
        setattr(item, name, value)
    item.save(update_fields=list(changes))
    return item
