"""Re-exports: the factories live in tests/factories.py (one per concept)."""

from incidents.actors import Actor
from postmortems.models import WhyNode
from tests.factories import T0, draft_for, resolved_incident


def complete(postmortem, user, *, root_cause: bool = True, action_item: bool = True):
    """Fill what publishing needs: impact, what went wrong, a root cause, an action item.
    Returns the root-cause node."""
    from postmortems.services import add_action_item, add_why, edit_why, update_postmortem

    actor = Actor.of_user(user)
    update_postmortem(
        postmortem=postmortem,
        actor=actor,
        changes={"impact": "Chat users got no answer.", "what_went_wrong": "No quota alert."},
    )
    node: WhyNode = add_why(
        postmortem=postmortem, actor=actor, question="Why did it stop?", answer="Quota ran out."
    )
    if root_cause:
        node = edit_why(
            node=node,
            actor=actor,
            question=node.question,
            answer=node.answer,
            is_root_cause=True,
        )
    if action_item:
        add_action_item(postmortem=postmortem, actor=actor, title="Alert at 80 % of the quota")
    postmortem.refresh_from_db()
    return node


__all__ = ["T0", "complete", "draft_for", "resolved_incident"]
