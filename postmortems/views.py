from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from accounts.models import Team
from accounts.permissions import Action, can, team_ids_of
from config.errors import Forbidden, InvalidInput
from incidents.access import get_incident_for_user
from incidents.actors import Actor
from incidents.knowledge import search_knowledge
from postmortems import services
from postmortems.access import get_factor, get_item, get_postmortem_for_user, get_why, require
from postmortems.blameless import check_postmortem, names_of_team
from postmortems.export import postmortem_markdown
from postmortems.facts import measure
from postmortems.forms import (
    ActionItemForm,
    ActionItemStatusForm,
    FactorForm,
    NewWhyForm,
    PostMortemForm,
    ReviewCommentForm,
    WhyForm,
)
from postmortems.models import PROSE_FIELDS, TAXONOMY, ItemStatus, PostMortem, Status
from postmortems.reports import review_report

PAGE_SIZE = 50

# Refusals are raised, never built here: a weak role (Forbidden via access.require), an object
# not found (Http404), bad input (InvalidInput) or the post-mortem's state (PostmortemError,
# 409). config.web.DomainErrorMiddleware answers them: into #flash for htmx, a problem page
# otherwise.


def _detail_context(request: HttpRequest, postmortem: PostMortem) -> dict:
    user = request.user
    whys = list(postmortem.whys.order_by("position", "id"))
    factors = list(postmortem.factors.all())
    items = list(postmortem.items.select_related("owner"))
    editable = services.may_edit(postmortem, user)
    ctx = {
        "nav": "postmortems",
        "postmortem": postmortem,
        "incident": postmortem.incident,
        "facts": measure(postmortem),
        "tree": services.why_tree(postmortem, whys),
        "has_root_cause": any(n.is_root_cause for n in whys),
        "factors": factors,
        "taxonomy": [(c.label, choices) for c, choices in TAXONOMY.items()],
        "items": items,
        "responders": list(postmortem.responders.all()),
        "findings": check_postmortem(postmortem, names_of_team(postmortem.team_id)),
        "editable": editable,
        "can_respond": can(user, postmortem.team_id, Action.RESPOND),
        "can_configure": can(user, postmortem.team_id, Action.CONFIGURE),
        "item_form": ActionItemForm(team_id=postmortem.team_id),
        "factor_form": FactorForm(),
        "item_statuses": ItemStatus.choices,
        "missing": services.missing_sections(postmortem),
        "comments": list(postmortem.comments.all()),
        "can_comment": postmortem.status != Status.PUBLISHED
        and can(user, postmortem.team_id, Action.RESPOND),
        "approval_blocked": postmortem.status == Status.IN_REVIEW
        and services.self_approval_refused(postmortem, user),
        "can_administer": can(user, postmortem.team_id, Action.ADMINISTER),
    }
    if editable:
        form = PostMortemForm(instance=postmortem)
        check_url = reverse("postmortems:blameless-check", args=[postmortem.pk])
        for name in PROSE_FIELDS:
            # Re-run the blameless check on the unsaved text while the author types.
            form.fields[name].widget.attrs.update(
                {
                    "hx-post": check_url,
                    "hx-trigger": "input changed delay:800ms",
                    "hx-target": "#blameless",
                    "hx-swap": "outerHTML",
                    "hx-include": "closest form",
                }
            )
        ctx["form"] = form
    return ctx


def _detail(request, postmortem, *, fragment: str | None = None, status: int = 200):
    postmortem = get_postmortem_for_user(request.user, postmortem.pk)  # fresh state
    ctx = _detail_context(request, postmortem)
    if request.htmx and fragment:
        response = render(request, f"postmortems/detail.html#{fragment}", ctx, status=status)
        return trigger_client_event(response, "postmortemChanged", {"id": postmortem.pk})
    if status != 200:
        return render(request, "postmortems/detail.html", ctx, status=status)
    return redirect("postmortems:detail", pk=postmortem.pk)


def _valid(form) -> dict:
    if not form.is_valid():
        problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
        raise InvalidInput(f"invalid input: {problems}")
    return form.cleaned_data


def _require_edit(request, postmortem: PostMortem) -> None:
    """The role the post-mortem's state asks for (responder for drafts, manager in review)."""
    require(request.user, postmortem.team_id, services.edit_action(postmortem))


# --- lists, search, review ----------------------------------------------------------------


@login_required
@require_GET
def postmortem_list(request: HttpRequest) -> HttpResponse:
    postmortems = (
        PostMortem.objects.visible_to(request.user)
        .select_related("incident__service")
        # Sorting narrow rows: the text, snapshots and search document stay on disk.
        .only("title", "status", "created_at", "incident__severity", "incident__service__name")
    )
    status = request.GET.get("status", "")
    if status in Status.values:
        postmortems = postmortems.filter(status=status)
    page = Paginator(postmortems, PAGE_SIZE).get_page(request.GET.get("page"))
    ctx = {
        "nav": "postmortems",
        "page": page,
        "status": status,
        "statuses": Status.choices,
        "is_manager": any(
            can(request.user, t, Action.CONFIGURE) for t in team_ids_of(request.user)
        ),
    }
    return render(request, "postmortems/list.html", ctx)


@login_required
@require_GET
def knowledge_search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:200]
    hits = search_knowledge(request.user, query) if query else []
    ctx = {"nav": "postmortems", "query": query, "hits": hits}
    template = "postmortems/search.html#results" if request.htmx else "postmortems/search.html"
    return render(request, template, ctx)


@login_required
@require_GET
def manager_review(request: HttpRequest) -> HttpResponse:
    managed = [t for t in team_ids_of(request.user) if can(request.user, t, Action.CONFIGURE)]
    if not managed:
        raise Forbidden("The review page is for managers.")
    ctx = {"nav": "postmortems", "report": review_report(managed)}
    return render(request, "postmortems/review.html", ctx)


# --- one post-mortem ----------------------------------------------------------------------


@login_required
@require_POST
def postmortem_create(request: HttpRequest, incident_pk: int) -> HttpResponse:
    incident = get_incident_for_user(request.user, incident_pk)
    require(request.user, incident.team_id, Action.RESPOND)
    postmortem, created = services.create_draft(incident=incident, actor=Actor.of_request(request))
    if created:
        messages.success(request, "Post-mortem drafted from the incident.")
    return redirect("postmortems:detail", pk=postmortem.pk)


@login_required
@require_GET
def postmortem_detail(request: HttpRequest, pk: int) -> HttpResponse:
    postmortem = get_postmortem_for_user(request.user, pk)
    return render(request, "postmortems/detail.html", _detail_context(request, postmortem))


@login_required
@require_POST
def postmortem_edit(request: HttpRequest, pk: int) -> HttpResponse:
    postmortem = get_postmortem_for_user(request.user, pk)
    _require_edit(request, postmortem)
    form = PostMortemForm(request.POST, instance=PostMortem.objects.get(pk=postmortem.pk))
    data = _valid(form)
    changes = {name: data[name] for name in services.EDITABLE_FIELDS}
    services.update_postmortem(
        postmortem=postmortem, actor=Actor.of_request(request), changes=changes
    )
    messages.success(request, "Saved.")
    return redirect("postmortems:detail", pk=postmortem.pk)


def _workflow(request, pk, verb: str, action: Action):
    postmortem = get_postmortem_for_user(request.user, pk)
    require(request.user, postmortem.team_id, action)
    actor = Actor.of_request(request)
    if verb == "submit":
        services.submit_for_review(postmortem=postmortem, actor=actor)
    elif verb == "publish":
        services.publish(postmortem=postmortem, actor=actor)
    else:
        services.return_to_draft(
            postmortem=postmortem, actor=actor, note=request.POST.get("note", "")
        )
    done = {
        "submit": "Submitted for review.",
        "publish": "Published.",
        "return": "Returned to draft.",
    }
    messages.success(request, done[verb])
    return redirect("postmortems:detail", pk=postmortem.pk)


@login_required
@require_POST
def postmortem_submit(request: HttpRequest, pk: int) -> HttpResponse:
    return _workflow(request, pk, "submit", Action.RESPOND)


@login_required
@require_POST
def postmortem_publish(request: HttpRequest, pk: int) -> HttpResponse:
    return _workflow(request, pk, "publish", Action.CONFIGURE)


@login_required
@require_POST
def postmortem_return(request: HttpRequest, pk: int) -> HttpResponse:
    return _workflow(request, pk, "return", Action.CONFIGURE)


@login_required
@require_POST
def blameless_check(request: HttpRequest, pk: int) -> HttpResponse:
    """Checks the text being typed (not yet saved) for blame; changes nothing."""
    postmortem = get_postmortem_for_user(request.user, pk)
    draft = PostMortem(
        pk=postmortem.pk,
        **{
            name: request.POST.get(name, getattr(postmortem, name))[:100_000]
            for name in PROSE_FIELDS
        },
    )
    findings = check_postmortem(draft, names_of_team(postmortem.team_id))
    return render(request, "postmortems/detail.html#blameless", {"findings": findings})


@login_required
@require_POST
def comment_add(request: HttpRequest, pk: int) -> HttpResponse:
    """A reviewer comment: allowed in draft and in review (when the text itself is frozen)."""
    postmortem = get_postmortem_for_user(request.user, pk)
    require(request.user, postmortem.team_id, Action.RESPOND)
    data = _valid(ReviewCommentForm(request.POST))
    services.add_review_comment(
        postmortem=postmortem, actor=Actor.of_request(request), body=data["body"]
    )
    if not request.htmx:
        messages.success(request, _("Comment added."))
    return _detail(request, postmortem, fragment="comments")


# --- team settings --------------------------------------------------------------------------


@login_required
def team_settings(request: HttpRequest) -> HttpResponse:
    """The post-mortem rules of each team the user belongs to; admins change them."""
    teams = list(Team.objects.filter(pk__in=team_ids_of(request.user)).order_by("name"))
    if request.method == "POST":
        team = next((t for t in teams if str(t.pk) == request.POST.get("team", "")), None)
        if team is None:
            raise Http404("No such team")
        require(request.user, team.pk, Action.ADMINISTER)
        services.set_self_approval(
            team=team,
            actor=Actor.of_request(request),
            allowed=request.POST.get("self_approval") == "on",
        )
        messages.success(request, _("Post-mortem settings of %(team)s saved.") % {"team": team})
        return redirect("postmortems:settings")
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET", "POST"])
    rows = [(team, can(request.user, team.pk, Action.ADMINISTER)) for team in teams]
    return render(request, "postmortems/settings.html", {"nav": "postmortems", "rows": rows})


# --- 5 whys -------------------------------------------------------------------------------


def _why_write(request, pk, write) -> HttpResponse:
    postmortem = get_postmortem_for_user(request.user, pk)
    _require_edit(request, postmortem)
    write(postmortem, Actor.of_request(request))
    return _detail(request, postmortem, fragment="whys_response")


@login_required
@require_POST
def why_add(request: HttpRequest, pk: int) -> HttpResponse:
    def write(postmortem, actor):
        data = _valid(NewWhyForm(request.POST))
        parent = get_why(postmortem, data["parent"]) if data["parent"] else None
        sibling = get_why(postmortem, data["sibling_of"]) if data["sibling_of"] else None
        services.add_why(
            postmortem=postmortem,
            actor=actor,
            question=data["question"],
            answer=data["answer"],
            parent=parent,
            sibling_of=sibling,
        )

    return _why_write(request, pk, write)


@login_required
@require_POST
def why_edit(request: HttpRequest, pk: int, node_pk: int) -> HttpResponse:
    def write(postmortem, actor):
        node = get_why(postmortem, node_pk)
        services.edit_why(node=node, actor=actor, **_valid(WhyForm(request.POST)))

    return _why_write(request, pk, write)


@login_required
@require_POST
def why_move(request: HttpRequest, pk: int, node_pk: int) -> HttpResponse:
    def write(postmortem, actor):
        node = get_why(postmortem, node_pk)
        services.move_why(node=node, actor=actor, direction=request.POST.get("direction", ""))

    return _why_write(request, pk, write)


@login_required
@require_POST
def why_delete(request: HttpRequest, pk: int, node_pk: int) -> HttpResponse:
    def write(postmortem, actor):
        services.delete_why(node=get_why(postmortem, node_pk), actor=actor)

    return _why_write(request, pk, write)


# --- contributing factors and action items ------------------------------------------------


@login_required
@require_POST
def factor_add(request: HttpRequest, pk: int) -> HttpResponse:
    postmortem = get_postmortem_for_user(request.user, pk)
    _require_edit(request, postmortem)
    data = _valid(FactorForm(request.POST))
    services.add_factor(postmortem=postmortem, actor=Actor.of_request(request), **data)
    return _detail(request, postmortem, fragment="factors")


@login_required
@require_POST
def factor_delete(request: HttpRequest, pk: int, factor_pk: int) -> HttpResponse:
    postmortem = get_postmortem_for_user(request.user, pk)
    _require_edit(request, postmortem)
    factor = get_factor(postmortem, factor_pk)
    services.remove_factor(factor=factor, actor=Actor.of_request(request))
    return _detail(request, postmortem, fragment="factors")


@login_required
@require_POST
def item_add(request: HttpRequest, pk: int) -> HttpResponse:
    postmortem = get_postmortem_for_user(request.user, pk)
    require(request.user, postmortem.team_id, Action.RESPOND)
    data = _valid(ActionItemForm(request.POST, team_id=postmortem.team_id))
    services.add_action_item(postmortem=postmortem, actor=Actor.of_request(request), **data)
    return _detail(request, postmortem, fragment="items")


@login_required
@require_POST
def item_status(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    postmortem = get_postmortem_for_user(request.user, pk)
    require(request.user, postmortem.team_id, Action.RESPOND)
    item = get_item(postmortem, item_pk)
    data = _valid(ActionItemStatusForm(request.POST))
    services.update_action_item(item=item, actor=Actor.of_request(request), changes=dict(data))
    return _detail(request, postmortem, fragment="items")


# --- export -------------------------------------------------------------------------------


@login_required
@require_GET
def export_markdown(request: HttpRequest, pk: int) -> HttpResponse:
    postmortem = get_postmortem_for_user(request.user, pk)
    text = postmortem_markdown(
        postmortem,
        measure(postmortem),
        services.why_tree(postmortem),
        list(postmortem.factors.all()),
        list(postmortem.items.select_related("owner")),
    )
    response = HttpResponse(text, content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="postmortem-{postmortem.incident.reference}.md"'
    )
    return response


@login_required
@require_GET
def printable(request: HttpRequest, pk: int) -> HttpResponse:
    postmortem = get_postmortem_for_user(request.user, pk)
    ctx = _detail_context(request, postmortem)
    ctx["editable"] = False
    return render(request, "postmortems/print.html", ctx)
