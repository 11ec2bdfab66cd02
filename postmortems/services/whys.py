"""The 5-Why tree: add a child or a sibling, edit, reorder and delete nodes in place."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F, Max

from accounts.actors import Actor
from postmortems.models import PostMortem, WhyNode
from postmortems.search import refresh_search_document
from postmortems.services.errors import PostmortemError
from postmortems.services.workflow import check_editable

MAX_DEPTH = 20
MAX_NODES = 200


@dataclass
class TreeNode:
    node: WhyNode
    depth: int
    children: list[TreeNode] = field(default_factory=list)


def why_tree(postmortem: PostMortem, nodes: list[WhyNode] | None = None) -> list[TreeNode]:
    """The nodes as a forest, siblings in order, from one query."""
    nodes = nodes if nodes is not None else list(postmortem.whys.order_by("position", "id"))
    by_parent: dict[int | None, list[WhyNode]] = {}
    for node in nodes:
        by_parent.setdefault(node.parent_id, []).append(node)

    def build(parent_id, depth):
        return [
            TreeNode(node=n, depth=depth, children=build(n.pk, depth + 1))
            for n in by_parent.get(parent_id, [])
        ]

    return build(None, 0)


def _depth(node: WhyNode) -> int:
    depth = 0
    while node.parent_id is not None:
        node = WhyNode.objects.only("parent_id").get(pk=node.parent_id)
        depth += 1
    return depth


def _clean_question(question: str) -> str:
    question = (question or "").strip()
    if not question:
        raise PostmortemError("a why needs a question")
    if len(question) > 500:
        raise PostmortemError("a question may be at most 500 characters")
    return question


@transaction.atomic
def add_why(
    *,
    postmortem: PostMortem,
    actor: Actor,
    question: str,
    answer: str = "",
    parent: WhyNode | None = None,
    sibling_of: WhyNode | None = None,
) -> WhyNode:
    """Add a node as the last child of ``parent``, right after ``sibling_of``, or as a new root."""
    postmortem = PostMortem.objects.select_for_update().get(pk=postmortem.pk)
    check_editable(postmortem)
    question = _clean_question(question)
    if postmortem.whys.count() >= MAX_NODES:
        raise PostmortemError(f"a 5-Why tree holds at most {MAX_NODES} nodes")
    for other in (parent, sibling_of):
        if other is not None and other.postmortem_id != postmortem.pk:
            raise PostmortemError("that node belongs to another post-mortem")
    if sibling_of is not None:
        parent_id = sibling_of.parent_id
        siblings = WhyNode.objects.filter(postmortem=postmortem, parent_id=parent_id)
        siblings.filter(position__gt=sibling_of.position).update(position=F("position") + 1)
        position = sibling_of.position + 1
    else:
        parent_id = parent.pk if parent is not None else None
        if parent is not None and _depth(parent) + 1 >= MAX_DEPTH:
            raise PostmortemError(f"a 5-Why tree is at most {MAX_DEPTH} levels deep")
        last = WhyNode.objects.filter(postmortem=postmortem, parent_id=parent_id).aggregate(
            m=Max("position")
        )["m"]
        position = 0 if last is None else last + 1
    node = WhyNode.objects.create(
        postmortem=postmortem,
        parent_id=parent_id,
        position=position,
        question=question,
        answer=(answer or "").strip(),
    )
    refresh_search_document(postmortem.pk)
    return node


@transaction.atomic
def edit_why(
    *, node: WhyNode, actor: Actor, question: str, answer: str, is_root_cause: bool
) -> WhyNode:
    postmortem = PostMortem.objects.select_for_update().get(pk=node.postmortem_id)
    check_editable(postmortem)
    node = WhyNode.objects.get(pk=node.pk)
    node.question = _clean_question(question)
    node.answer = (answer or "").strip()
    node.is_root_cause = bool(is_root_cause)
    node.save(update_fields=["question", "answer", "is_root_cause"])
    refresh_search_document(postmortem.pk)
    return node


@transaction.atomic
def move_why(*, node: WhyNode, actor: Actor, direction: str) -> WhyNode:
    """Swap the node with its previous ("up") or next ("down") sibling."""
    if direction not in ("up", "down"):
        raise PostmortemError("direction must be up or down")
    postmortem = PostMortem.objects.select_for_update().get(pk=node.postmortem_id)
    check_editable(postmortem)
    siblings = list(
        WhyNode.objects.filter(postmortem=postmortem, parent_id=node.parent_id).order_by(
            "position", "id"
        )
    )
    index = next(i for i, s in enumerate(siblings) if s.pk == node.pk)
    target = index - 1 if direction == "up" else index + 1
    if not 0 <= target < len(siblings):
        return siblings[index]
    siblings[index], siblings[target] = siblings[target], siblings[index]
    # Renumber densely: positions may have had gaps or ties.
    for position, sibling in enumerate(siblings):
        if sibling.position != position:
            sibling.position = position
            sibling.save(update_fields=["position"])
    return siblings[target]


@transaction.atomic
def delete_why(*, node: WhyNode, actor: Actor) -> None:
    """Delete the node and its whole subtree."""
    postmortem = PostMortem.objects.select_for_update().get(pk=node.postmortem_id)
    check_editable(postmortem)
    WhyNode.objects.filter(pk=node.pk).delete()
    refresh_search_document(postmortem.pk)
