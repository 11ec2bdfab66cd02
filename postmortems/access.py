"""Fetching post-mortem objects for a user: another team's object is a 404, a weak role a 403."""

from django.http import Http404

from accounts.permissions import Action, can, team_ids_of
from config.errors import Forbidden
from postmortems.models import ActionItem, ContributingFactor, PostMortem, WhyNode


def require(user, team_id: int, action: Action) -> None:
    if not can(user, team_id, action):
        raise Forbidden(f"Your role in this team does not allow this ({action.name.lower()}).")


def get_postmortem_for_user(user, pk) -> PostMortem:
    try:
        return PostMortem.objects.select_related("incident__service", "team").get(
            pk=int(pk), team_id__in=team_ids_of(user)
        )
    except (PostMortem.DoesNotExist, ValueError, TypeError):
        raise Http404("No such post-mortem") from None


def _child(model, postmortem: PostMortem, pk, what: str):
    try:
        return model.objects.get(pk=int(pk), postmortem=postmortem)
    except (model.DoesNotExist, ValueError, TypeError):
        raise Http404(f"No such {what}") from None


def get_why(postmortem: PostMortem, pk) -> WhyNode:
    return _child(WhyNode, postmortem, pk, "5-Why node")


def get_factor(postmortem: PostMortem, pk) -> ContributingFactor:
    return _child(ContributingFactor, postmortem, pk, "contributing factor")


def get_item(postmortem: PostMortem, pk) -> ActionItem:
    return _child(ActionItem, postmortem, pk, "action item")
