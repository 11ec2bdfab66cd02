from __future__ import annotations

from dataclasses import replace

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Max, Min, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from accounts.models import Membership, Role, Team
from accounts.permissions import Action, team_ids_of
from config.pages import teams_where
from incidents.board import board_page, board_version, filter_incidents, header_counts
from incidents.forms import BoardFilterForm, form_problems
from incidents.models import OPEN_STATUSES, Incident, Service
from incidents.service_facts import facts_for
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
        "respond_team_ids": responder_team_ids(request.user),
        "now": timezone.now(),
    }
    if wants_fragment(request):
        return render(request, "incidents/board.html#board", context)
    context["services"] = Service.objects.filter(team_id__in=team_ids).select_related("team")
    return render(request, "incidents/board.html", context)


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
