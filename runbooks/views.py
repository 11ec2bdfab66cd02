from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from accounts.permissions import Action, can, team_ids_of
from config.errors import Forbidden, InvalidInput
from incidents.access import get_incident_for_user
from incidents.actors import Actor
from incidents.markdown import markdown_problem, render_markdown
from runbooks import services
from runbooks.access import (
    get_run_for_user,
    get_runbook_for_user,
    require,
    teams_user_may_configure,
)
from runbooks.forms import RunbookForm, StepFormSet, runbook_input, steps_initial
from runbooks.models import AttachReason, Runbook, RunbookRevision
from runbooks.panel import runbook_panel_context

PAGE_SIZE = 50

# Refusals are raised, never built here: a role refused (Forbidden via access.require), an
# object not found (Http404 / services.UnknownRunbook), bad input (InvalidInput) or a state
# conflict (services.RunbookConflict). config.web.DomainErrorMiddleware answers them: into
# #flash for htmx (so a panel is never replaced by an error page), a problem page otherwise.


@login_required
@require_GET
def runbook_list(request: HttpRequest) -> HttpResponse:
    visible = Runbook.objects.filter(team_id__in=team_ids_of(request.user))
    runbooks = visible.select_related("team").defer("body", "search_document")
    query = request.GET.get("q", "").strip()
    if query:
        runbooks = runbooks.filter(Q(title__icontains=query) | Q(body__icontains=query))
    overdue_only = request.GET.get("overdue") == "1"
    if overdue_only:
        runbooks = runbooks.review_overdue()
    page = Paginator(runbooks.order_by("title", "id"), PAGE_SIZE).get_page(request.GET.get("page"))
    ctx = {
        "nav": "runbooks",
        "page": page,
        "query": query,
        "overdue_only": overdue_only,
        "overdue_count": visible.review_overdue().count(),
        "can_create": bool(teams_user_may_configure(request.user)),
        "now": timezone.now(),
    }
    template = "runbooks/list.html#results" if request.htmx else "runbooks/list.html"
    return render(request, template, ctx)


@login_required
@require_GET
def runbook_detail(request: HttpRequest, pk: int) -> HttpResponse:
    runbook = get_runbook_for_user(request.user, pk)
    ctx = {
        "nav": "runbooks",
        "runbook": runbook,
        "steps": list(runbook.steps.all()),
        "services": list(runbook.services.all()),
        "revisions": list(runbook.revisions.select_related("author")[:5]),
        "can_configure": can(request.user, runbook.team_id, Action.CONFIGURE),
        "recent_runs": list(runbook.runs.select_related("incident").order_by("-attached_at")[:10]),
    }
    return render(request, "runbooks/detail.html", ctx)


def _edit_response(request, *, runbook, team_id, form, formset, status=200):
    ctx = {
        "nav": "runbooks",
        "runbook": runbook,
        "form": form,
        "formset": formset,
        "teams": teams_user_may_configure(request.user) if runbook is None else [],
        "team_id": team_id,
        "preview": render_markdown(form["body"].value() or ""),
    }
    return render(request, "runbooks/edit.html", ctx, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def runbook_create(request: HttpRequest) -> HttpResponse:
    teams = teams_user_may_configure(request.user)
    if not teams:
        raise Forbidden("Only managers create runbooks.")
    try:
        team_id = int(request.POST.get("team") or request.GET.get("team") or teams[0].pk)
    except ValueError:
        raise InvalidInput("team must be a number") from None
    team = next((t for t in teams if t.pk == team_id), None)
    if team is None:
        raise Http404("No such team")
    if request.method == "POST":
        form = RunbookForm(request.POST, team_id=team.pk)
        formset = StepFormSet(request.POST, prefix="steps")
        if form.is_valid() and formset.is_valid():
            try:
                runbook = services.create_runbook(
                    team=team, data=runbook_input(form, formset), actor=Actor.of_request(request)
                )
            except services.RunbookError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"Runbook “{runbook.title}” created.")
                return redirect("runbooks:detail", pk=runbook.pk)
        return _edit_response(
            request, runbook=None, team_id=team.pk, form=form, formset=formset, status=400
        )
    form = RunbookForm(team_id=team.pk)
    formset = StepFormSet(prefix="steps")
    return _edit_response(request, runbook=None, team_id=team.pk, form=form, formset=formset)


@login_required
@require_http_methods(["GET", "POST"])
def runbook_edit(request: HttpRequest, pk: int) -> HttpResponse:
    runbook = get_runbook_for_user(request.user, pk)
    require(request.user, runbook.team_id, Action.CONFIGURE)
    if request.method == "POST":
        form = RunbookForm(request.POST, team_id=runbook.team_id)
        formset = StepFormSet(request.POST, prefix="steps")
        if form.is_valid() and formset.is_valid():
            try:
                services.update_runbook(
                    runbook=runbook,
                    data=runbook_input(form, formset),
                    actor=Actor.of_request(request),
                    note=request.POST.get("note", ""),
                )
            except services.RunbookError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, "Runbook saved.")
                return redirect("runbooks:detail", pk=runbook.pk)
        return _edit_response(
            request,
            runbook=runbook,
            team_id=runbook.team_id,
            form=form,
            formset=formset,
            status=400,
        )
    form = RunbookForm(initial=RunbookForm.initial_for(runbook), team_id=runbook.team_id)
    formset = StepFormSet(initial=steps_initial(runbook), prefix="steps")
    return _edit_response(
        request, runbook=runbook, team_id=runbook.team_id, form=form, formset=formset
    )


@login_required
@require_POST
def markdown_preview(request: HttpRequest) -> HttpResponse:
    """Renders Markdown for the editor's preview; changes nothing."""
    text = request.POST.get("body", "")
    problem = markdown_problem(text)
    if problem:
        raise InvalidInput(f"Cannot preview: this text {problem}.")
    return render(request, "runbooks/_preview.html", {"preview": render_markdown(text)})


@login_required
@require_POST
def runbook_review(request: HttpRequest, pk: int) -> HttpResponse:
    runbook = get_runbook_for_user(request.user, pk)
    require(request.user, runbook.team_id, Action.CONFIGURE)
    runbook = services.mark_reviewed(runbook=runbook, actor=Actor.of_request(request))
    messages.success(request, f"Reviewed; next review due {runbook.next_review_at:%Y-%m-%d}.")
    return redirect("runbooks:detail", pk=runbook.pk)


@login_required
@require_GET
def runbook_revisions(request: HttpRequest, pk: int) -> HttpResponse:
    runbook = get_runbook_for_user(request.user, pk)
    revisions = list(runbook.revisions.select_related("author"))
    chosen = revisions[0] if revisions else None
    if "number" in request.GET:
        try:
            number = int(request.GET["number"])
        except ValueError:
            raise InvalidInput("number must be a revision number") from None
        chosen = next((r for r in revisions if r.number == number), None)
        if chosen is None:
            raise Http404("No such revision")
    diff = []
    previous = None
    if chosen is not None:
        previous = (
            RunbookRevision.objects.filter(runbook=runbook, number__lt=chosen.number)
            .order_by("-number")
            .first()
        )
        diff = services.revision_diff(
            previous.content if previous else "",
            chosen.content,
        )
    ctx = {
        "nav": "runbooks",
        "runbook": runbook,
        "revisions": revisions,
        "chosen": chosen,
        "previous": previous,
        "diff": diff,
    }
    return render(request, "runbooks/revisions.html", ctx)


# --- inside an incident -------------------------------------------------------------------


def _panel_response(request: HttpRequest, incident) -> HttpResponse:
    ctx = runbook_panel_context(incident, request.user) or {}
    ctx.update({"incident": incident, "request": request})
    if request.htmx:
        response = render(request, "runbooks/_incident_panel.html", ctx)
        return trigger_client_event(response, "incidentChanged", {"incident": incident.pk})
    return redirect("runbooks:incident", incident_pk=incident.pk)


@login_required
@require_GET
def incident_runbooks(request: HttpRequest, incident_pk: int) -> HttpResponse:
    """The runbook checklists of one incident on a page of their own (the room embeds the panel)."""
    incident = get_incident_for_user(request.user, incident_pk)
    ctx = runbook_panel_context(incident, request.user) or {}
    ctx.update({"incident": incident, "nav": "runbooks"})
    return render(request, "runbooks/incident.html", ctx)


@login_required
@require_POST
def incident_attach(request: HttpRequest, incident_pk: int) -> HttpResponse:
    incident = get_incident_for_user(request.user, incident_pk)
    require(request.user, incident.team_id, Action.RESPOND)
    runbook = get_runbook_for_user(request.user, request.POST.get("runbook", ""))
    if runbook.team_id != incident.team_id:
        raise Http404("No such runbook")
    services.attach_runbook(
        incident=incident,
        runbook=runbook,
        reason=AttachReason.MANUAL,
        actor=Actor.of_request(request),
    )
    return _panel_response(request, incident)


@login_required
@require_POST
def step_tick(request: HttpRequest, run_pk: int, step_pk: int) -> HttpResponse:
    run = get_run_for_user(request.user, run_pk)
    require(request.user, run.incident.team_id, Action.RESPOND)
    done = request.POST.get("done", "1")
    if done not in ("0", "1"):
        raise InvalidInput("done must be 1 (tick) or 0 (untick)")
    if done == "1":
        services.tick_step(run=run, step=step_pk, actor=Actor.of_request(request))
    else:
        services.untick_step(run=run, step=step_pk, actor=Actor.of_request(request))
    return _panel_response(request, run.incident)


@login_required
@require_POST
def step_run_action(request: HttpRequest, run_pk: int, step_pk: int) -> HttpResponse:
    run = get_run_for_user(request.user, run_pk)
    require(request.user, run.incident.team_id, Action.RESPOND)
    # Another runbook's step: UnknownRunbook (404); an action in flight: RunbookConflict (409).
    services.request_action(run=run, step=step_pk, actor=Actor.of_request(request))
    if not request.htmx:
        messages.success(request, "Action queued; its result will appear in the timeline.")
    return _panel_response(request, run.incident)
