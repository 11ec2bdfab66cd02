from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from accounts.models import Membership, Role, Team
from incidents import services
from incidents.actors import Actor
from incidents.errors import IncidentError
from incidents.forms import DeclareIncidentForm
from incidents.models import Service, Severity
from incidents.views.common import see_other


def _declarable_services(user):
    """Services of the teams where the user may respond (declaring is a responder's act)."""
    if user.is_superuser:
        teams = Team.objects.all()
    else:
        teams = Team.objects.filter(
            pk__in=Membership.objects.filter(user=user, role__gte=Role.RESPONDER).values("team_id")
        )
    return (
        Service.objects.active()
        .filter(team__in=teams)
        .select_related("team")
        .order_by("team__name", "name")
    )


@login_required
@require_http_methods(["GET", "POST"])
def declare_incident(request: HttpRequest) -> HttpResponse:
    services_qs = _declarable_services(request.user)
    form = DeclareIncidentForm(request.POST or None, services=services_qs)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                incident, _ = services.open_incident(
                    service=data["service"],
                    title=data["title"],
                    severity=data["severity"],
                    summary=data["summary"],
                    actor=Actor.of_request(request),
                )
            except IncidentError as exc:
                form.add_error(None, str(exc))
            else:
                return see_other(reverse("incident-room", args=[incident.pk]))
        status = 400
    return render(
        request,
        "incidents/declare.html",
        {
            "nav": "incidents",
            "form": form,
            "severities": list(reversed(Severity)),
            "has_services": services_qs.exists(),
        },
        status=status,
    )
