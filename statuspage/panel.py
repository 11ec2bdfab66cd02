"""The "Status page" panel of the incident room: what the public sees about this incident,
the draft waiting for approval, and a form to post the next update."""

from __future__ import annotations

from accounts.permissions import Action, can
from statuspage.models import PublicIncident, StatusPage, UpdateStatus


def statuspage_panel_context(incident, user) -> dict | None:
    pages = list(StatusPage.objects.filter(team_id=incident.team_id).order_by("title", "pk"))
    if not pages or incident.is_drill:
        return None
    publics = list(
        PublicIncident.objects.filter(incident=incident)
        .select_related("page")
        .prefetch_related("updates")
        .order_by("page__title", "pk")
    )
    shown = []
    for public in publics:
        updates = sorted(public.updates.all(), key=lambda u: (u.created_at, u.pk), reverse=True)
        shown.append(
            {
                "public": public,
                "draft": next((u for u in updates if u.posted_at is None), None),
                "posted": [u for u in updates if u.posted_at is not None][:5],
            }
        )
    relevant = [p for p in pages if p.pk in {x["public"].page_id for x in shown}] or pages
    next_status = UpdateStatus.IDENTIFIED if shown else UpdateStatus.INVESTIGATING
    return {
        "status_pages": pages,
        "default_page": relevant[0],
        "publics": shown,
        "statuses": list(UpdateStatus),
        "next_status": next_status,
        "can_respond": can(user, incident.team_id, Action.RESPOND),
    }
