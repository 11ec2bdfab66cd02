"""What strangers may see of a page: a snapshot built only from the page's own public rows.

The snapshot is a plain structure (cached as a whole); the HTML page, summary.json, the feed
and the badges are rendered from it. It never reads an incident's title, summary, alerts,
labels, people or anything else internal: a public incident's name and its updates are
written for the public (by a person or a template), and incident rows are read only for their
times and severity (uptime bars).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.safestring import mark_safe
from django.utils.translation import get_language_info, gettext_noop
from django.utils.translation import gettext as _

from incidents.models import Incident
from statuspage.languages import catalog_language, pick
from statuspage.models import (
    STATUS_RANK,
    Component,
    ComponentStatus,
    MaintenanceStatus,
    MaintenanceWindow,
    PublicIncident,
    PublicUpdate,
    StatusPage,
    UpdateStatus,
)
from statuspage.services.templates import page_zone

UPTIME_DAYS = 90
PAST_INCIDENT_DAYS = 14
FEED_ENTRIES = 50
# Incidents at or above this severity count as downtime on the uptime bars.
DOWNTIME_SEVERITY = 3

INDICATORS = {
    ComponentStatus.OPERATIONAL: ("none", gettext_noop("All Systems Operational")),
    ComponentStatus.UNDER_MAINTENANCE: ("none", gettext_noop("Service Under Maintenance")),
    ComponentStatus.DEGRADED_PERFORMANCE: ("minor", gettext_noop("Minor Service Outage")),
    ComponentStatus.PARTIAL_OUTAGE: ("major", gettext_noop("Partial System Outage")),
    ComponentStatus.MAJOR_OUTAGE: ("critical", gettext_noop("Major System Outage")),
}


def page_url(page: StatusPage) -> str:
    return f"{settings.BASE_URL}/status/{page.slug}/"


def _merge(intervals: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[list[datetime]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def _day_index(moment: datetime, first: date, zone) -> int:
    return (moment.astimezone(zone).date() - first).days


def uptime_days(
    intervals: list[tuple[datetime, datetime, int]], *, today: date, zone, now: datetime
) -> list[dict]:
    """One entry per day (oldest first): share of the day up, worst severity that day.

    Linear in days + intervals: each interval is spread over the few days it touches.
    """
    first = today - timedelta(days=UPTIME_DAYS - 1)
    starts = [
        datetime.combine(first + timedelta(days=i), datetime.min.time(), tzinfo=zone)
        for i in range(UPTIME_DAYS + 1)
    ]
    ends = [min(starts[i + 1], now) for i in range(UPTIME_DAYS)]
    down = [0.0] * UPTIME_DAYS
    worst = [0] * UPTIME_DAYS

    def touched(start: datetime, end: datetime):
        for i in range(max(0, _day_index(start, first, zone)),
                       min(UPTIME_DAYS - 1, _day_index(end, first, zone)) + 1):  # fmt: skip
            overlap = (min(end, ends[i]) - max(start, starts[i])).total_seconds()
            if overlap > 0 or start == end:
                yield i, max(0.0, overlap)

    for start, end, severity in intervals:
        for i, _overlap in touched(start, end):
            worst[i] = max(worst[i], severity)
    for start, end in _merge([(s, e) for s, e, sev in intervals if sev >= DOWNTIME_SEVERITY]):
        for i, overlap in touched(start, end):
            down[i] += overlap
    days = []
    for i in range(UPTIME_DAYS):
        length = (ends[i] - starts[i]).total_seconds()
        if length <= 0:
            continue
        level = worst[i]
        days.append(
            {
                "date": first + timedelta(days=i),
                "uptime": round((1 - down[i] / length) * 100, 2),
                "level": "major" if level >= 4 else "partial" if level == 3 else
                         "minor" if level else "ok",
                "down_minutes": round(down[i] / 60),
            }
        )  # fmt: skip
    return days


def bars_html(days: list[dict]) -> str:
    """The 90 bars of a component; every value is ours (a fixed word, a date, a number)."""
    return mark_safe(  # noqa: S308
        "".join(
            f'<li class="day-{d["level"]}" title="{d["date"].isoformat()}: {d["uptime"]} %"></li>'
            for d in days
        )
    )


def _incident_intervals(service_ids: set[int], since: datetime, now: datetime):
    rows = (
        Incident.objects.filter(service_id__in=service_ids, is_drill=False)
        .exclude(resolved_at__lt=since)
        .filter(triggered_at__lt=now)
        .values_list("service_id", "triggered_at", "resolved_at", "severity")
    )
    by_service: dict[int, list] = {}
    for service_id, started, resolved, severity in rows:
        by_service.setdefault(service_id, []).append(
            (max(started, since), resolved or now, severity)
        )
    return by_service


def _update_dict(update: PublicUpdate, component_names: list[str]) -> dict:
    return {
        "id": update.pk,
        "status": update.status,
        "status_label": str(update.get_status_display()),
        "body": update.body,
        "translations": update.translations or {},
        "created_at": update.posted_at,
        "display_at": update.posted_at,
        "affected_components": component_names,
    }


def _incident_dict(public: PublicIncident, page: StatusPage, components: dict) -> dict:
    names = [components[c.pk]["name"] for c in public.components.all() if c.pk in components]
    updates = sorted(
        (u for u in public.updates.all() if u.posted_at is not None),
        key=lambda u: (u.posted_at, u.pk),
        reverse=True,
    )
    return {
        "id": public.pk,
        "name": public.name,
        "translations": public.translations or {},
        "status": public.status,
        "status_label": str(public.get_status_display()),
        "impact": public.impact,
        "created_at": public.published_at,
        "updated_at": public.updated_at,
        "resolved_at": public.resolved_at,
        "shortlink": f"{page_url(page)}#incident-{public.pk}",
        "updates": [_update_dict(u, names) for u in updates],
        "component_ids": [c.pk for c in public.components.all()],
    }


def _maintenance_dict(window: MaintenanceWindow, page: StatusPage) -> dict:
    return {
        "id": window.pk,
        "name": window.title,
        "body": window.body,
        "translations": window.translations or {},
        "status": window.status,
        "status_label": str(window.get_status_display()),
        "scheduled_for": window.starts_at,
        "scheduled_until": window.ends_at,
        "created_at": window.created_at,
        "updated_at": window.updated_at,
        "shortlink": f"{page_url(page)}#maintenance-{window.pk}",
        "component_ids": [c.pk for c in window.components.all()],
    }


def build_snapshot(page: StatusPage, *, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    zone = page_zone(page)
    today = now.astimezone(zone).date()
    components = list(
        Component.objects.filter(page=page)
        .select_related("group")
        .prefetch_related("services")
        .order_by("group__position", "group_id", "position", "pk")
    )
    windows = list(
        MaintenanceWindow.objects.filter(page=page)
        .exclude(status=MaintenanceStatus.COMPLETED)
        .prefetch_related("components")
        .order_by("starts_at", "pk")
    )
    in_maintenance = {
        c.pk
        for w in windows
        if w.status == MaintenanceStatus.IN_PROGRESS and w.ends_at > now
        for c in w.components.all()
    }
    since = datetime.combine(
        today - timedelta(days=UPTIME_DAYS - 1), datetime.min.time(), tzinfo=zone
    )
    service_ids = {s.pk for c in components for s in c.services.all()}
    intervals = _incident_intervals(service_ids, since, now)

    component_dicts: dict[int, dict] = {}
    groups: dict[int | None, dict] = {}
    for component in components:
        status = component.status_at(now, in_maintenance=component.pk in in_maintenance)
        component_intervals = [i for s in component.services.all() for i in intervals.get(s.pk, [])]
        days = uptime_days(component_intervals, today=today, zone=zone, now=now)
        total = sum(d["uptime"] for d in days) / len(days) if days else 100.0
        entry = {
            "id": component.pk,
            "name": component.name,
            "description": component.description,
            "translations": component.translations or {},
            "status": status,
            "status_label": str(ComponentStatus(status).label),
            "position": component.position,
            "group_id": component.group_id,
            "only_show_if_degraded": component.only_show_if_degraded,
            "updated_at": component.status_changed_at,
            "uptime_days": days,
            "uptime_percent": round(total, 2),
            # 90 bars per component: built here once per change, not in the template loop.
            "bars_html": bars_html(days),
        }
        component_dicts[component.pk] = entry
        group_key = component.group_id
        if group_key not in groups:
            groups[group_key] = {
                "id": component.group_id,
                "name": component.group.name if component.group else "",
                "translations": component.group.translations if component.group else {},
                "position": component.group.position if component.group else -1,
                "components": [],
                "updated_at": component.status_changed_at,
            }
        groups[group_key]["components"].append(entry)
        groups[group_key]["updated_at"] = max(
            groups[group_key]["updated_at"], component.status_changed_at
        )

    worst = max(
        (c["status"] for c in component_dicts.values()),
        key=lambda s: STATUS_RANK[s],
        default=ComponentStatus.OPERATIONAL,
    )
    indicator, description = INDICATORS[ComponentStatus(worst)]

    publics = list(
        PublicIncident.objects.filter(page=page, published_at__isnull=False)
        .filter(
            Q(resolved_at__isnull=True)
            | Q(resolved_at__gte=now - timedelta(days=PAST_INCIDENT_DAYS))
        )
        .prefetch_related("updates", "components")
        .order_by("-published_at", "-pk")
    )
    incidents = [_incident_dict(p, page, component_dicts) for p in publics]
    updated_at = max(
        [page.updated_at]
        + [c["updated_at"] for c in component_dicts.values()]
        + [i["updated_at"] for i in incidents]
        + [w.updated_at for w in windows]
    )
    return {
        "page": {
            "id": page.slug,
            "slug": page.slug,
            "name": page.title,
            "url": page_url(page),
            "time_zone": page.time_zone,
            "updated_at": updated_at,
            "logo_url": page.logo_url,
            "support_url": page.support_url,
            "accent_colour": page.accent_colour,
            "languages": list(page.languages or [page.default_language]),
            "default_language": page.default_language,
        },
        "status": {"indicator": indicator, "description": description},
        "worst": worst,
        "groups": sorted(groups.values(), key=lambda g: (g["position"], g["id"] or 0)),
        "components": list(component_dicts.values()),
        "active_incidents": [i for i in incidents if i["resolved_at"] is None],
        "past_incidents": [i for i in incidents if i["resolved_at"] is not None],
        "maintenances": [_maintenance_dict(w, page) for w in windows],
        "generated_at": now,
    }


def feed_entries(page: StatusPage) -> list[dict]:
    """The newest posted updates of the page, for the Atom feed."""
    updates = (
        PublicUpdate.objects.filter(public_incident__page=page, posted_at__isnull=False)
        .select_related("public_incident")
        .order_by("-posted_at", "-pk")[:FEED_ENTRIES]
    )
    return [
        {
            "id": u.pk,
            "incident_id": u.public_incident_id,
            "incident_name": u.public_incident.name,
            "incident_translations": u.public_incident.translations or {},
            "translations": u.translations or {},
            "status": u.status,
            "status_label": str(u.get_status_display()),
            "body": u.body,
            "posted_at": u.posted_at,
        }
        for u in updates
    ]


def language_name(code: str) -> str:
    """The language's own name ("Deutsch"), or its code when Django does not know it."""
    try:
        return get_language_info(code)["name_local"]
    except KeyError:
        return code


def localize(snapshot: dict, language: str) -> dict:
    """The snapshot as a reader of ``language`` sees it: texts written in that language where
    there are some (else the default language's), state names and headings from our catalogs.
    Cheap (no database): every language's answer is made from one cached snapshot."""
    default = snapshot["page"]["default_language"]

    def text(entry: dict, name: str, key: str | None = None) -> str:
        value = entry[key or name]
        if language == default:
            return value
        return pick(entry.get("translations"), language, name, value)

    with translation.override(catalog_language(language)):
        components = {
            c["id"]: {
                **c,
                "name": text(c, "name"),
                "description": text(c, "description"),
                "status_label": str(ComponentStatus(c["status"]).label),
            }
            for c in snapshot["components"]
        }
        groups = [
            {
                **g,
                "name": text(g, "name") if g["name"] else "",
                "components": [components[c["id"]] for c in g["components"]],
            }
            for g in snapshot["groups"]
        ]

        def incident(entry: dict) -> dict:
            names = [components[i]["name"] for i in entry["component_ids"] if i in components]
            return {
                **entry,
                "name": text(entry, "name"),
                "status_label": str(UpdateStatus(entry["status"]).label),
                "updates": [
                    {
                        **u,
                        "body": text(u, "body"),
                        "status_label": str(UpdateStatus(u["status"]).label),
                        "affected_components": names,
                    }
                    for u in entry["updates"]
                ],
            }

        indicator, description = INDICATORS[ComponentStatus(snapshot["worst"])]
        return {
            **snapshot,
            "language": language,
            "language_links": [
                (code, language_name(code)) for code in snapshot["page"]["languages"]
            ],
            "status": {"indicator": indicator, "description": _(description)},
            "components": list(components.values()),
            "groups": groups,
            "active_incidents": [incident(i) for i in snapshot["active_incidents"]],
            "past_incidents": [incident(i) for i in snapshot["past_incidents"]],
            "maintenances": [
                {
                    **w,
                    "name": text(w, "title", "name"),
                    "body": text(w, "body"),
                    "status_label": str(MaintenanceStatus(w["status"]).label),
                }
                for w in snapshot["maintenances"]
            ],
        }


def localize_entries(entries: list[dict], language: str, default: str) -> list[dict]:
    """Feed entries in ``language`` (see ``localize``)."""
    if language == default:
        texts = entries
    else:
        texts = [
            {
                **e,
                "incident_name": pick(
                    e["incident_translations"], language, "name", e["incident_name"]
                ),
                "body": pick(e["translations"], language, "body", e["body"]),
            }
            for e in entries
        ]
    with translation.override(catalog_language(language)):
        return [{**e, "status_label": str(UpdateStatus(e["status"]).label)} for e in texts]


def status_words() -> dict[str, str]:
    return {s.value: str(s.label) for s in ComponentStatus} | {
        s.value: str(s.label) for s in UpdateStatus
    }


def describe_overall(worst: str) -> str:
    return _(INDICATORS[ComponentStatus(worst)][1])
