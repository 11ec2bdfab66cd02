"""Game-day pages: the list with the quarterly reminder, scheduling, the drill report."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import Team
from accounts.permissions import Action, can, team_ids_of
from config.errors import Forbidden
from config.web import see_other, wants_fragment
from drills import report as drill_reports
from drills import services
from drills.access import get_drill_for_user
from drills.forms import ScheduleDrillForm
from drills.models import Drill
from incidents.actors import Actor


def _require(user, team_id: int, action: Action) -> None:
    if not can(user, team_id, action):
        raise Forbidden(
            _("Your role in this team does not allow this (%(role)s or above needed).")
            % {"role": action.value.label}
        )


@login_required
def drill_list(request: HttpRequest) -> HttpResponse:
    team_ids = team_ids_of(request.user)
    drills = list(
        Drill.objects.filter(team_id__in=team_ids)
        .select_related("service", "team", "incident")
        .order_by("-starts_at", "-pk")[:100]
    )
    now = timezone.now()
    due = [
        team
        for team in Team.objects.filter(pk__in=team_ids).order_by("name")
        if services.drill_due_this_quarter(team_id=team.pk, now=now)
    ]
    managed = [pk for pk in team_ids if can(request.user, pk, Action.CONFIGURE)]
    return render(
        request,
        "drills/list.html",
        {"nav": "drills", "drills": drills, "due_teams": due, "may_schedule": bool(managed)},
    )


@login_required
@require_http_methods(["GET", "POST"])
def drill_new(request: HttpRequest) -> HttpResponse:
    team_ids = [pk for pk in team_ids_of(request.user) if can(request.user, pk, Action.CONFIGURE)]
    if not team_ids:
        raise PermissionDenied(_("Scheduling a drill needs the manager role in a team."))
    form = ScheduleDrillForm(request.POST or None, team_ids=team_ids)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            actor = Actor.of_request(request)
            with transaction.atomic():  # a drill that cannot start (409) is not left scheduled
                drill = _schedule(data, actor)
            return see_other(reverse("drills:detail", args=[drill.pk]))
        status = 400
    return render(request, "drills/new.html", {"nav": "drills", "form": form}, status=status)


def _schedule(data: dict, actor: Actor) -> Drill:
    drill = services.schedule_drill(
        service=data["service"],
        name=data["name"],
        scenario=data["scenario"],
        starts_at=data["starts_at"] or timezone.now(),
        duration_minutes=data["duration_minutes"],
        probe=data["probe"],
        heartbeat=data["heartbeat"],
        alert=data["alert"],
        latency_ms=data["latency_ms"],
        actor=actor,
    )
    if data["start_now"] and data["starts_at"] is None:
        drill = services.start_drill(drill=drill, actor=actor)
    return drill


def _detail_context(request: HttpRequest, drill: Drill) -> dict:
    return {
        "nav": "drills",
        "drill": drill,
        "report": drill_reports.drill_report(drill),
        "may_run": can(request.user, drill.team_id, Action.RESPOND),
        "may_configure": can(request.user, drill.team_id, Action.CONFIGURE),
    }


@login_required
def drill_detail(request: HttpRequest, pk: int) -> HttpResponse:
    drill = get_drill_for_user(request.user, pk)
    context = _detail_context(request, drill)
    if wants_fragment(request):
        return render(request, "drills/detail.html#drill", context)
    return render(request, "drills/detail.html", context)


def _after_write(request: HttpRequest, drill: Drill) -> HttpResponse:
    if request.htmx:
        drill = get_drill_for_user(request.user, drill.pk)
        return render(request, "drills/detail.html#drill", _detail_context(request, drill))
    return see_other(reverse("drills:detail", args=[drill.pk]))


@login_required
@require_POST
def drill_start(request: HttpRequest, pk: int) -> HttpResponse:
    drill = get_drill_for_user(request.user, pk)
    _require(request.user, drill.team_id, Action.RESPOND)
    drill = services.start_drill(drill=drill, actor=Actor.of_request(request))
    return _after_write(request, drill)


@login_required
@require_POST
def drill_abort(request: HttpRequest, pk: int) -> HttpResponse:
    drill = get_drill_for_user(request.user, pk)
    _require(request.user, drill.team_id, Action.RESPOND)
    drill = services.abort_drill(drill=drill, actor=Actor.of_request(request))
    return _after_write(request, drill)


@login_required
@require_POST
def drill_findings(request: HttpRequest, pk: int) -> HttpResponse:
    drill = get_drill_for_user(request.user, pk)
    _require(request.user, drill.team_id, Action.RESPOND)
    drill = services.save_findings(
        drill=drill, findings=request.POST.get("findings", ""), actor=Actor.of_request(request)
    )
    return _after_write(request, drill)


@login_required
@require_POST
def drill_action_items(request: HttpRequest, pk: int) -> HttpResponse:
    drill = get_drill_for_user(request.user, pk)
    _require(request.user, drill.team_id, Action.RESPOND)
    missed = drill_reports.drill_report(drill)["went_wrong"]
    postmortem, _created = services.findings_to_action_items(
        drill=drill, actor=Actor.of_request(request), extra=missed
    )
    return see_other(reverse("postmortems:detail", args=[postmortem.pk]))
