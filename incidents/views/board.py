from __future__ import annotations

from dataclasses import replace

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Max, Min, Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import reswap, retarget, trigger_client_event

from accounts.models import Membership, Role, Team, User
from accounts.permissions import Action, team_ids_of
from config.pages import teams_where
from incidents import bulk
from incidents.actors import Actor
from incidents.board import board_page, board_version, filter_incidents, header_counts
from incidents.forms import BoardFilterForm, BulkActionForm, form_problems
from incidents.models import OPEN_STATUSES, Incident, Service, Status
from incidents.service_facts import facts_for
from incidents.templatetags.severity import severity_label
from incidents.views.common import bad_request, wants_fragment

PAGE_SIZE = 25


def responder_team_ids(user) -> set[int]:
    """Teams where the user may act on incidents, in one query (the board shows many teams)."""
    if user.is_superuser:
        return set(team_ids_of(user))
    return set(
        Membership.objects.filter(user=user, role__gte=Role.RESPONDER).values_list(
            "team_id", flat=True
        )
    )


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return redirect("incident-board")


@login_required
@require_GET
@vary_on_headers("HX-Request")
def board(request: HttpRequest) -> HttpResponse:
    """The incident board. One URL serves the page, the filtered fragment and the live poll.

    The poll (htmx, every second) carries the version it was rendered at in ``v``; when nothing
    changed it answers 204 after one indexed query and htmx keeps the page as it is.
    """
    form = BoardFilterForm(request.GET)
    if not form.is_valid():
        return bad_request(request, f"Invalid board filter: {form_problems(form)}")
    filters = form.filters()
    team_ids = team_ids_of(request.user)
    if "team" not in request.GET and len(team_ids) > 1 and request.session.get("team_id"):
        # The team chosen in the switcher is the board's default; "all" widens it again.
        chosen = Team.objects.filter(pk=request.session["team_id"], pk__in=team_ids)
        filters = replace(filters, team=chosen.values_list("slug", flat=True).first() or "")
    version = board_version(team_ids)
    if wants_fragment(request) and request.GET.get("v") == version:
        return HttpResponse(status=204)

    respond_team_ids = responder_team_ids(request.user)
    visible = Incident.objects.filter(team_id__in=team_ids)
    counts = header_counts(
        filter_incidents(visible, filters, with_status=False),
        count_resolved=filters.status in ("all", "resolved"),
    )
    page = board_page(
        visible.select_related("service", "team", "assignee"),
        filters,
        counts,
        number=request.GET.get("page"),
        per_page=PAGE_SIZE,
    )

    poll_query = request.GET.copy()
    poll_query.pop("v", None)
    query = poll_query.copy()
    query.pop("page", None)
    status_query = query.copy()
    status_query.pop("status", None)
    severity_query = query.copy()
    severity_query.pop("severity", None)
    context = {
        "nav": "incidents",
        "form": form,
        "filters": filters,
        "counts": counts,
        "page": page,
        "version": version,
        "poll_query": poll_query.urlencode(),
        "query": query.urlencode(),
        "status_query": status_query.urlencode(),
        "severity_query": severity_query.urlencode(),
        "respond_team_ids": respond_team_ids,
        "now": timezone.now(),
    }
    if wants_fragment(request):
        return render(request, "incidents/board.html#board", context)
    context["services"] = Service.objects.filter(team_id__in=team_ids).select_related("team")
    context["assignees"] = assignable_users(respond_team_ids)
    context["bulk_next"] = request.get_full_path()
    return render(request, "incidents/board.html", context)


def assignable_users(team_ids) -> list:
    """Who the bulk bar offers as assignee: the responders of the teams the user responds in
    (the service still refuses one outside a given incident's team)."""
    if not team_ids:
        return []
    return list(
        User.objects.filter(
            pk__in=Membership.objects.filter(team_id__in=team_ids, role__gte=Role.RESPONDER).values(
                "user_id"
            )
        ).order_by("username")
    )


def _board_url(request: HttpRequest) -> str:
    """Where a plain bulk post goes back to: the board the user was on, with its filters."""
    wanted = request.POST.get("next", "")
    board_url = reverse("incident-board")
    if wanted.startswith(board_url) and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return board_url


@login_required
@require_POST
def board_bulk(request: HttpRequest) -> HttpResponse:
    """Acknowledge, resolve (one note) or assign the checked incidents of the board.

    Each incident goes through its service on its own (incidents.bulk): refusals are reported
    in the one summary and the rest are done. A plain form post goes back to the board with the
    summary as a message; htmx gets the summary in #flash and the board refreshes on
    incidentChanged.
    """
    form = BulkActionForm(request.POST)
    if not form.is_valid():
        return _bulk_answer(
            request, _("Nothing done: %s.") % form_problems(form), level="error", status=400
        )
    data = form.cleaned_data
    actor = Actor.of_request(request)
    found = {
        incident.pk: incident
        for incident in Incident.objects.filter(
            pk__in=data["incident"], team_id__in=team_ids_of(request.user)
        ).select_related("team")
    }
    incidents = list(found.values())
    verb = data["action"]
    if verb == "acknowledge":
        outcome = bulk.acknowledge_incidents(incidents=incidents, actor=actor)
    elif verb == "resolve":
        outcome = bulk.resolve_incidents(incidents=incidents, actor=actor, note=data["note"])
    else:
        assignee = _bulk_assignee(request, data["assignee"])
        if assignee is False:
            return _bulk_answer(
                request,
                _("Nothing done: choose whom to assign them to."),
                level="error",
                status=400,
            )
        outcome = bulk.assign_incidents(incidents=incidents, assignee=assignee, actor=actor)
    # An id of another team (or of nothing) is reported like any other refusal, as not found.
    for pk in data["incident"]:
        if pk not in found:
            outcome.refused.append(
                (f"INC-{pk}", _("INC-%(pk)d was not found in your teams") % {"pk": pk})
            )
    level = "success" if not outcome.refused else ("warning" if outcome.done else "error")
    response = _bulk_answer(request, outcome.summary, level=level, status=200)
    if request.htmx:
        response = trigger_client_event(
            response,
            "incidentChanged",
            {"action": f"bulk-{verb}", "ids": [i.pk for i in outcome.done]},
        )
        response = trigger_client_event(
            response, "bulkDone", {"done": [i.pk for i in outcome.done]}
        )
    return response


def _bulk_assignee(request: HttpRequest, value: str):
    """The user chosen in the bulk bar: "me", "none" (unassign), or a responder of one of the
    requester's teams; False when the choice is missing or names nobody they may pick."""
    if value == "me":
        return request.user
    if value == "none":
        return None
    if not (value.isascii() and value.isdigit()):
        return False
    chosen = assignable_users(responder_team_ids(request.user))
    return next((user for user in chosen if user.pk == int(value)), False)


def _bulk_answer(request: HttpRequest, message: str, *, level: str, status: int) -> HttpResponse:
    if request.htmx:
        response = render(
            request,
            "incidents/_bulk_result.html",
            {"message": message, "level": level},
            status=status,
        )
        return reswap(retarget(response, "#flash"), "innerHTML")
    getattr(messages, level)(request, message)
    response = redirect(_board_url(request))
    response.status_code = 303
    return response


@login_required
@require_GET
def attention(request: HttpRequest) -> JsonResponse:
    """The triggered incidents of the user's teams, newest first, for the tab title and the
    opt-in browser notifications (static/js/attention.js) on the board and in rooms.

    Two reads of the (team, status, triggered_at) index: the count and the newest 20.
    """
    triggered = Incident.objects.filter(
        team_id__in=team_ids_of(request.user), status=Status.TRIGGERED
    )
    newest = triggered.select_related("service").order_by("-triggered_at", "-id")[:20]
    return JsonResponse(
        {
            "triggered": triggered.count(),
            "incidents": [
                {
                    "id": incident.pk,
                    "reference": incident.reference,
                    "title": incident.title,
                    "severity": incident.severity,
                    "severity_label": severity_label(incident.severity),
                    "service": incident.service.name,
                    "url": reverse("incident-room", args=[incident.pk]),
                }
                for incident in newest
            ],
        }
    )


def service_state(worst_open_severity: int | None) -> tuple[str, str]:
    """Statuspage's component states, derived from the worst open incident."""
    if worst_open_severity is None:
        return "operational", "operational"
    if worst_open_severity >= 4:
        return "major_outage", "major outage"
    if worst_open_severity == 3:
        return "partial_outage", "partial outage"
    return "degraded_performance", "degraded performance"


@login_required
@require_GET
def services_overview(request: HttpRequest) -> HttpResponse:
    open_filter = Q(incidents__status__in=OPEN_STATUSES)
    show_archived = request.GET.get("archived") == "1"
    listed = Service.objects.all() if show_archived else Service.objects.active()
    services = (
        listed.filter(team_id__in=team_ids_of(request.user))
        .select_related("team")
        .annotate(
            open_count=Count("incidents", filter=open_filter),
            worst_severity=Max("incidents__severity", filter=open_filter),
            open_since=Min("incidents__triggered_at", filter=open_filter),
        )
        .order_by("team__name", "name")
    )
    services = list(services)
    facts = facts_for(service.pk for service in services)
    rows = []
    for service in services:
        state, label = service_state(service.worst_severity)
        rows.append(
            {"service": service, "state": state, "state_label": label, "facts": facts[service.pk]}
        )
    return render(
        request,
        "incidents/services.html",
        {
            "nav": "services",
            "rows": rows,
            "now": timezone.now(),
            "show_archived": show_archived,
            "can_add": teams_where(request.user, Action.CONFIGURE).exists(),
        },
    )
