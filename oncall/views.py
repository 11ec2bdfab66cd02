"""On-call pages: who is on call now (per team), the acknowledge link, iCal feeds."""

from __future__ import annotations

import hmac
from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from accounts.audit import client_ip
from accounts.models import Team
from accounts.permissions import Action, can, team_ids_of
from oncall.acklinks import AckLinkError, acknowledge_by_link, resolve_ack_link
from oncall.models import (
    Channel,
    ContactMethod,
    EscalationPolicy,
    EscalationState,
    EscalationStatus,
    Notification,
    Rotation,
)
from oncall.rotations import next_handoff, rotation_ical, shifts_between, who_is_on_call


def _current_team(request: HttpRequest) -> Team | None:
    """The team chosen in the switcher (as the nav shows it), else the user's first team."""
    ids = team_ids_of(request.user)
    chosen = request.session.get("team_id")
    team_id = chosen if chosen in ids else (ids[0] if ids else None)
    return Team.objects.filter(pk=team_id).first() if team_id else None


@login_required
@require_GET
def on_call_now(request: HttpRequest) -> HttpResponse:
    team = _current_team(request)
    now = timezone.now()
    rotations = []
    policies = []
    escalations = []
    if team is not None:
        for rotation in Rotation.objects.filter(team=team).prefetch_related("members__user"):
            rotations.append(
                {
                    "rotation": rotation,
                    "on_call": who_is_on_call(rotation, now),
                    "next_handoff": next_handoff(rotation, now),
                    "upcoming": shifts_between(rotation, now, now + timedelta(days=7))[:8],
                }
            )
        policies = list(
            EscalationPolicy.objects.filter(team=team).prefetch_related(
                "levels", "services__service"
            )
        )
        escalations = list(
            EscalationState.objects.filter(
                incident__team=team,
                status__in=[EscalationStatus.ACTIVE, EscalationStatus.EXHAUSTED],
            )
            .select_related("incident", "incident__service")
            .order_by("next_due_at")[:50]
        )
    channels = list(Channel.objects.filter(team=team, is_active=True)) if team else []
    context = {
        "channels": channels,
        "contact_methods": list(ContactMethod.objects.filter(user=request.user, is_active=True)),
        "can_configure": team is not None and can(request.user, team, Action.CONFIGURE),
        "nav": "oncall",
        "team": team,
        "now": now,
        "rotations": rotations,
        "policies": policies,
        "escalations": escalations,
    }
    return render(request, "oncall/on_call_now.html", context)


@require_http_methods(["GET", "POST"])
def acknowledge_link(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows what would be acknowledged and a button; only the POST changes anything."""
    try:
        if request.method == "POST":
            outcome = acknowledge_by_link(token=token, ip=client_ip(request))
            return render(
                request,
                "oncall/ack_done.html",
                {
                    "incident": outcome.incident,
                    "message": outcome.message,
                    "ok": outcome.acknowledged,
                },
            )
        link = resolve_ack_link(token)
    except AckLinkError as exc:
        return render(request, "oncall/ack_error.html", {"message": str(exc)}, status=exc.status)
    return render(request, "oncall/ack_confirm.html", {"link": link, "incident": link.incident})


@require_GET
def rotation_calendar(request: HttpRequest, pk: int) -> HttpResponse:
    """iCal feed. Calendar apps cannot log in, so the feed URL carries the rotation's secret;
    a logged-in member of the team may fetch it without."""
    rotation = Rotation.objects.filter(pk=pk).first()
    if rotation is None:
        raise Http404("No such rotation")
    given = request.GET.get("token", "")
    by_token = bool(given) and hmac.compare_digest(given, rotation.ical_token)
    if not by_token and rotation.team_id not in team_ids_of(request.user):
        raise Http404("No such rotation")
    response = HttpResponse(rotation_ical(rotation), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="rotation-{rotation.pk}.ics"'
    return response


@login_required
@require_GET
def notification_mail(request: HttpRequest, pk: int) -> HttpResponse:
    """The message the development mail backend wrote for a delivery, as plain text.

    Only files inside EMAIL_FILE_PATH are served, and only to members of the incident's team.
    """
    from pathlib import Path

    from django.conf import settings

    notification = (
        Notification.objects.filter(pk=pk, incident__team_id__in=team_ids_of(request.user))
        .exclude(written_to="")
        .first()
    )
    if notification is None:
        raise Http404("No such message")
    root = Path(settings.EMAIL_FILE_PATH).resolve()
    path = Path(notification.written_to).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise Http404("The message file is gone")
    text = path.read_text(encoding="utf-8", errors="replace")[:1_000_000]
    return HttpResponse(text, content_type="text/plain; charset=utf-8")
