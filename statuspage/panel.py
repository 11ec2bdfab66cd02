"""The "Status page" panel of the incident room: what the public sees about this incident,
the draft waiting for approval, and a form to post the next update."""

from __future__ import annotations

from accounts.permissions import Action, can
from statuspage.models import PublicIncident, StatusPage, UpdateStatus
from statuspage.public import language_name


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
        draft = next((u for u in updates if u.posted_at is None), None)
        other_languages = (public.page.languages or [])[1:]
        shown.append(
            {
                "public": public,
                "draft": draft,
                # The draft's words in the page's other languages, editable before approval.
                "draft_translations": [
                    (
                        code,
                        language_name(code),
                        (draft.translations or {}).get(code, {}).get("body", ""),
                    )
                    for code in other_languages
                ]
                if draft
                else [],
                "posted": [u for u in updates if u.posted_at is not None][:5],
            }
        )
    relevant = [p for p in pages if p.pk in {x["public"].page_id for x in shown}] or pages
    next_status = UpdateStatus.IDENTIFIED if shown else UpdateStatus.INVESTIGATING
    extra_languages = []
    for page in pages:
        for code in (page.languages or [])[1:]:
            if code not in extra_languages:
                extra_languages.append(code)
    return {
        "status_pages": pages,
        # Optional words in the pages' other languages (a page uses those it speaks).
        "extra_languages": [(code, language_name(code)) for code in extra_languages],
        "default_page": relevant[0],
        "publics": shown,
        "statuses": list(UpdateStatus),
        "next_status": next_status,
        "can_respond": can(user, incident.team_id, Action.RESPOND),
    }
