"""summary.json in Statuspage's shape, the Atom feed and SVG badges, from a page snapshot."""

from __future__ import annotations

from datetime import datetime
from xml.sax.saxutils import escape

from django.utils.feedgenerator import Atom1Feed

from statuspage.models import STATUS_RANK, ComponentStatus


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _component(entry: dict) -> dict:
    return {
        "id": str(entry["id"]),
        "name": entry["name"],
        "status": entry["status"],
        "created_at": _iso(entry["updated_at"]),
        "updated_at": _iso(entry["updated_at"]),
        "position": entry["position"],
        "description": entry["description"] or None,
        "showcase": True,
        "start_date": None,
        "group_id": f"g{entry['group_id']}" if entry["group_id"] else None,
        "page_id": None,
        "group": False,
        "only_show_if_degraded": entry["only_show_if_degraded"],
    }


def _components_by_id(snapshot: dict) -> dict:
    return {c["id"]: c for c in snapshot["components"]}


def _incident(entry: dict, page_id: str, components: dict) -> dict:
    affected = [_component(components[i]) for i in entry["component_ids"] if i in components]
    return {
        "id": str(entry["id"]),
        "name": entry["name"],
        "status": entry["status"],
        "impact": entry["impact"],
        "created_at": _iso(entry["created_at"]),
        "updated_at": _iso(entry["updated_at"]),
        "monitoring_at": None,
        "resolved_at": _iso(entry["resolved_at"]),
        "shortlink": entry["shortlink"],
        "started_at": _iso(entry["created_at"]),
        "page_id": page_id,
        "incident_updates": [
            {
                "id": str(u["id"]),
                "status": u["status"],
                "body": u["body"],
                "incident_id": str(entry["id"]),
                "created_at": _iso(u["created_at"]),
                "updated_at": _iso(u["created_at"]),
                "display_at": _iso(u["display_at"]),
                "affected_components": [
                    {"code": str(c["id"]), "name": c["name"], "new_status": c["status"]}
                    for c in (components[i] for i in entry["component_ids"] if i in components)
                ],
            }
            for u in entry["updates"]
        ],
        "components": affected,
    }


def _maintenance(entry: dict, page_id: str, components: dict) -> dict:
    return {
        "id": str(entry["id"]),
        "name": entry["name"],
        "status": entry["status"],
        "impact": "maintenance",
        "created_at": _iso(entry["created_at"]),
        "updated_at": _iso(entry["updated_at"]),
        "monitoring_at": None,
        "resolved_at": None,
        "shortlink": entry["shortlink"],
        "started_at": _iso(entry["scheduled_for"]),
        "page_id": page_id,
        "scheduled_for": _iso(entry["scheduled_for"]),
        "scheduled_until": _iso(entry["scheduled_until"]),
        "incident_updates": (
            [
                {
                    "id": f"m{entry['id']}",
                    "status": entry["status"],
                    "body": entry["body"],
                    "incident_id": str(entry["id"]),
                    "created_at": _iso(entry["created_at"]),
                    "updated_at": _iso(entry["updated_at"]),
                    "display_at": _iso(entry["created_at"]),
                    "affected_components": [],
                }
            ]
            if entry["body"]
            else []
        ),
        "components": [
            _component(components[i]) for i in entry["component_ids"] if i in components
        ],
    }


def summary_document(snapshot: dict) -> dict:
    """Statuspage's api/v2/summary.json: page, status, components (groups are components with
    ``group: true`` listing their members), unresolved incidents, scheduled maintenances."""
    page = snapshot["page"]
    components = _components_by_id(snapshot)
    listed = []
    for group in snapshot["groups"]:
        if group["id"]:
            worst = max(
                (c["status"] for c in group["components"]),
                key=lambda s: STATUS_RANK[s],
                default=ComponentStatus.OPERATIONAL,
            )
            listed.append(
                {
                    "id": f"g{group['id']}",
                    "name": group["name"],
                    "status": worst,
                    "created_at": _iso(group["updated_at"]),
                    "updated_at": _iso(group["updated_at"]),
                    "position": group["position"],
                    "description": None,
                    "showcase": False,
                    "start_date": None,
                    "group_id": None,
                    "page_id": page["id"],
                    "group": True,
                    "only_show_if_degraded": False,
                    "components": [str(c["id"]) for c in group["components"]],
                }
            )
        listed += [_component(c) | {"page_id": page["id"]} for c in group["components"]]
    return {
        "page": {
            "id": page["id"],
            "name": page["name"],
            "url": page["url"],
            "time_zone": page["time_zone"],
            "updated_at": _iso(page["updated_at"]),
        },
        "status": dict(snapshot["status"]),
        "components": listed,
        "incidents": [_incident(i, page["id"], components) for i in snapshot["active_incidents"]],
        "scheduled_maintenances": [
            _maintenance(m, page["id"], components) for m in snapshot["maintenances"]
        ],
    }


class PlainTextAtomFeed(Atom1Feed):
    """Atom whose entry summaries are plain text (``type="text"``): update bodies are written
    as text, and a reader must show "<b>" as typed, never interpret it."""

    def add_item_elements(self, handler, item):
        description, item["description"] = item["description"], None
        super().add_item_elements(handler, item)
        if description is not None:
            handler.addQuickElement("summary", description, {"type": "text"})


def atom_feed(snapshot: dict, entries: list[dict]) -> bytes:
    page = snapshot["page"]
    feed = PlainTextAtomFeed(
        title=page["name"],
        link=page["url"],
        description=snapshot["status"]["description"],
        feed_url=page["url"] + "feed.atom",
        id=page["url"],
        language="en",
        author_name=page["name"],
    )
    for entry in entries:
        link = f"{page['url']}#incident-{entry['incident_id']}"
        feed.add_item(
            title=f"{entry['incident_name']}: {entry['status_label']}",
            link=link,
            description=entry["body"],
            unique_id=f"{page['url']}updates/{entry['id']}",
            pubdate=entry["posted_at"],
            updateddate=entry["posted_at"],
        )
    return feed.writeString("utf-8").encode()


_BADGE_COLOURS = {
    ComponentStatus.OPERATIONAL: "#2e7d32",
    ComponentStatus.UNDER_MAINTENANCE: "#1565c0",
    ComponentStatus.DEGRADED_PERFORMANCE: "#b26a00",
    ComponentStatus.PARTIAL_OUTAGE: "#c2410c",
    ComponentStatus.MAJOR_OUTAGE: "#b71c1c",
}


def badge_svg(component: dict) -> str:
    """A shields-style badge: the component's name and its state, text escaped."""
    label = component["name"][:40]
    value = component["status_label"]
    left = 8 + 7 * len(label)
    right = 8 + 7 * len(value)
    colour = _BADGE_COLOURS[ComponentStatus(component["status"])]
    label_x, value_x = left / 2, left + right / 2
    title = escape(f"{label}: {value}")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + right}" height="20" '
        f'role="img" aria-label="{escape(title, {chr(34): "&quot;"})}">'
        f"<title>{title}</title>"
        f'<rect width="{left}" height="20" fill="#555"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{colour}"/>'
        f'<g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif" '
        f'font-size="11"><text x="{label_x}" y="14">{escape(label)}</text>'
        f'<text x="{value_x}" y="14">{escape(value)}</text></g></svg>'
    )
