"""Reviewer comments: the one thing added to a post-mortem while it is in review."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from accounts import audit
from accounts.actors import Actor
from config.errors import InvalidInput
from postmortems.models import PostMortem, ReviewComment, Status
from postmortems.services.errors import PostmortemError

MAX_COMMENT_LENGTH = 5000


@transaction.atomic
def add_review_comment(*, postmortem: PostMortem, actor: Actor, body: str) -> ReviewComment:
    """Comment on a draft or a post-mortem in review; a published one is the closed record."""
    body = (body or "").strip()
    if not body:
        raise InvalidInput(_("a comment needs some text"))
    if len(body) > MAX_COMMENT_LENGTH:
        raise InvalidInput(
            _("a comment may be at most %(n)d characters") % {"n": MAX_COMMENT_LENGTH}
        )
    postmortem = PostMortem.objects.select_for_update().get(pk=postmortem.pk)
    if postmortem.status == Status.PUBLISHED:
        raise PostmortemError(_("a published post-mortem takes no more review comments"))
    comment = ReviewComment.objects.create(
        postmortem=postmortem,
        author=actor.user_or_none,
        author_name=str(actor)[:150],
        body=body,
        during=postmortem.status,
    )
    audit.record(
        action="postmortem.commented",
        actor=actor,
        team=postmortem.team_id,
        target=f"post-mortem {postmortem.pk}: {postmortem.title}",
        data={"postmortem_id": postmortem.pk, "comment_id": comment.pk},
    )
    return comment
