"""Communication templates: placeholders checked at save time, matching, filling.

Placeholders are ``{name}`` with a name from ``PLACEHOLDERS``. Filling is one pass over the text
(a filled value is never scanned again, so a service named ``{workaround}`` stays literal) and
the result is plain text: every page and feed escapes it when rendering.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from zoneinfo import ZoneInfo

from django.utils import translation
from django.utils.translation import gettext as _

from incidents.models import Incident
from statuspage.errors import InvalidStatusInput
from statuspage.languages import catalog_language, clean_translations, pick
from statuspage.models import CommunicationTemplate, StatusPage

PLACEHOLDERS = ("service", "start_time", "components", "workaround", "next_update")
# The texts of a template that exist per language, with their lengths.
TEMPLATE_TEXTS = {"title": 200, "body": 5000, "workaround": 500, "degradation_message": 500}
_PLACEHOLDER = re.compile(r"\{([^{}\n]{0,64})\}")
# Labels that name a contributing cause, most specific first.
CAUSE_LABELS = ("cause", "contributing_cause")


def unknown_placeholders(text: str) -> list[str]:
    found = [m.group(1) for m in _PLACEHOLDER.finditer(text or "")]
    return sorted({name for name in found if name.strip() not in PLACEHOLDERS})


def check_placeholders(**texts: str) -> None:
    """Raise a 400 naming every unknown placeholder, per field."""
    problems = []
    for field, text in texts.items():
        unknown = unknown_placeholders(text)
        if unknown:
            names = ", ".join("{" + name + "}" for name in unknown)
            problems.append(f"{field}: unknown placeholder {names}")
    if problems:
        allowed = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
        raise InvalidStatusInput("; ".join(problems) + f" (allowed: {allowed})")


def clean_template_translations(value) -> dict[str, dict[str, str]]:
    """Translations of a template: known texts only, each checked for placeholders."""
    cleaned = clean_translations(value, TEMPLATE_TEXTS)
    for language, texts in cleaned.items():
        check_placeholders(**{f"translations.{language}.{k}": v for k, v in texts.items()})
    return cleaned


def fill(text: str, values: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1).strip(), m.group(0)), text or "")


def page_zone(page: StatusPage) -> ZoneInfo:
    try:
        return ZoneInfo(page.time_zone)
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def placeholder_values(
    *,
    page: StatusPage,
    incident: Incident,
    component_names: list[str],
    template: CommunicationTemplate | None,
    now: datetime,
    language: str | None = None,
) -> dict[str, str]:
    """The placeholder values; in ``language`` (a page language) where they are words."""
    zone = page_zone(page)
    minutes = template.next_update_minutes if template else 30
    workaround = template.workaround if template else ""
    if template is not None and language and language != page.default_language:
        workaround = pick(template.translations, language, "workaround", workaround)
    if not workaround:
        with translation.override(catalog_language(language or page.default_language)):
            workaround = _("no workaround is needed on your side")
    return {
        "service": incident.service.name,
        "start_time": incident.triggered_at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z"),
        "components": ", ".join(component_names) or incident.service.name,
        "workaround": workaround,
        "next_update": (now + timedelta(minutes=minutes)).astimezone(zone).strftime("%H:%M %Z"),
    }


# --- matching ---------------------------------------------------------------------------------


def labels_of(incident: Incident) -> dict[str, str]:
    """Labels the matchers see: the incident's alert labels, the scalar values its opening
    carried, and pseudo-labels (service, severity, source)."""
    labels: dict[str, str] = {}
    for alert_labels in incident.alerts.order_by("id").values_list("labels", flat=True)[:100]:
        if isinstance(alert_labels, dict):
            for key, value in alert_labels.items():
                if not isinstance(value, dict | list):
                    labels.setdefault(str(key), str(value))
    opening = incident.timeline.filter(kind="opened").order_by("id").only("data").first()
    data = opening.data if opening is not None and isinstance(opening.data, dict) else {}
    for key in ("labels", "commonLabels", "groupLabels"):
        if isinstance(data.get(key), dict):
            for k, v in data[key].items():
                if not isinstance(v, dict | list):
                    labels.setdefault(str(k), str(v))
    for key, value in data.items():
        if isinstance(value, str | int) and not isinstance(value, bool):
            labels.setdefault(str(key), str(value))
    labels.setdefault("service", incident.service.slug)
    labels.setdefault("severity", str(incident.severity))
    labels.setdefault("source", incident.source)
    return labels


@dataclass(frozen=True)
class Match:
    template: CommunicationTemplate
    score: int


def match_score(
    template: CommunicationTemplate, incident: Incident, labels: dict[str, str]
) -> int | None:
    """How specifically the template fits (number of matcher parts it names), or None."""
    if not template.is_active or template.team_id != incident.team_id:
        return None
    if not template.min_severity <= incident.severity <= template.max_severity:
        return None
    score = 0
    if (template.min_severity, template.max_severity) != (1, 5):
        score += 1
    service_ids = [s.pk for s in template.services.all()]
    if service_ids:
        if incident.service_id not in service_ids:
            return None
        score += 1
    if template.match_cause:
        cause = next((labels[k] for k in CAUSE_LABELS if k in labels), None)
        if cause is None or not fnmatchcase(cause.lower(), template.match_cause.lower()):
            return None
        score += 1
    for name, pattern in (template.match_labels or {}).items():
        if name not in labels or not fnmatchcase(labels[name], str(pattern)):
            return None
        score += 1
    return score


def best_template(incident: Incident) -> CommunicationTemplate | None:
    """The active template of the incident's team that names the most matching parts (ties:
    the oldest), or None."""
    labels = labels_of(incident)
    best: Match | None = None
    candidates = CommunicationTemplate.objects.filter(
        team_id=incident.team_id, is_active=True
    ).prefetch_related("services")
    for template in candidates.order_by("pk"):
        score = match_score(template, incident, labels)
        if score is not None and (best is None or score > best.score):
            best = Match(template, score)
    return best.template if best else None


def validate_matchers(*, match_labels, min_severity: int, max_severity: int) -> None:
    if not isinstance(match_labels, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and len(k) <= 100 and len(v) <= 200
        for k, v in match_labels.items()
    ):
        raise InvalidStatusInput(
            "match_labels must be an object of label name -> pattern strings (<= 200 chars)"
        )
    if len(match_labels) > 20:
        raise InvalidStatusInput("match_labels: at most 20 labels")
    if not (1 <= min_severity <= max_severity <= 5):
        raise InvalidStatusInput(
            f"severity range must satisfy 1 <= min <= max <= 5, got {min_severity}..{max_severity}"
        )
