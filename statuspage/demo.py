"""Demo status page and communication templates for ``manage.py seed_demo``. Idempotent:
rows are found by natural keys (page slug, component and template names)."""

from __future__ import annotations

from incidents.models import Service
from statuspage.cache import invalidate_pages
from statuspage.models import CommunicationTemplate, Component, ComponentGroup, StatusPage
from statuspage.services.components import refresh_components_for_service_ids

# German words of the demo page (it speaks English and German; statuspage.languages).
DEMO_GERMAN = {
    "Assistants": "Assistenten",
    "Platform": "Plattform",
    "Website chat": ("Chat auf der Website", "Der Verkaufsassistent auf unserer Website."),
    "Support hotline": ("Support-Hotline", "Der Sprachassistent an der Hotline."),
    "Answers from our knowledge base": (
        "Antworten aus unserer Wissensdatenbank",
        "Wie die Assistenten Antworten finden.",
    ),
}

DEMO_COMPONENTS = [
    # (group, name, description, service slugs)
    ("Assistants", "Website chat", "The sales assistant on our website.", ["sales-avatar"]),
    ("Assistants", "Support hotline", "The voice assistant on the hotline.", ["support-voice"]),
    ("Platform", "Answers from our knowledge base", "How assistants find answers.",
     ["knowledge-search"]),
]  # fmt: skip

DEMO_TEMPLATES = [
    {
        "name": "Model provider rate-limited",
        "match_labels": {"cause": "rate_limit*"},
        "min_severity": 3,
        "title": "Slower answers from {service}",
        "body": "Our AI model provider is limiting how many requests we can send, so {components} "
        "may answer slowly or ask you to try again. Started at {start_time}. Workaround: "
        "{workaround}. Next update by {next_update}.",
        "workaround": "if an answer does not come, wait a minute and ask again",
        "degradation": "I am answering more slowly than usual right now; please bear with me.",
        "de": {
            "title": "Langsamere Antworten von {service}",
            "body": "Unser KI-Modellanbieter begrenzt, wie viele Anfragen wir senden können; "
            "{components} antwortet daher langsamer oder bittet Sie, es noch einmal zu "
            "versuchen. Seit {start_time}. Abhilfe: {workaround}. Nächste Aktualisierung bis "
            "{next_update}.",
            "workaround": "wenn keine Antwort kommt, warten Sie eine Minute und fragen Sie erneut",
            "degradation_message": "Ich antworte gerade langsamer als sonst; bitte haben Sie "
            "etwas Geduld.",
        },
    },
    {
        "name": "Model provider down",
        "match_labels": {"cause": "provider_down"},
        "min_severity": 4,
        "title": "{service} cannot answer right now",
        "body": "Our AI model provider is not responding, so {components} cannot answer "
        "since {start_time}. We are switching to a backup. Workaround: {workaround}. "
        "Next update by {next_update}.",
        "workaround": "call us or write to support, a person will answer",
        "degradation": "I cannot answer properly right now; please contact our team directly.",
        "de": {
            "title": "{service} kann gerade nicht antworten",
            "body": "Unser KI-Modellanbieter antwortet nicht; {components} kann deshalb seit "
            "{start_time} nicht antworten. Wir wechseln auf einen Ersatz. Abhilfe: "
            "{workaround}. Nächste Aktualisierung bis {next_update}.",
            "workaround": "rufen Sie uns an oder schreiben Sie dem Support, ein Mensch antwortet",
            "degradation_message": "Ich kann gerade nicht richtig antworten; bitte wenden Sie "
            "sich direkt an unser Team.",
        },
    },
    {
        "name": "Answers degraded",
        "match_labels": {"cause": "quality*"},
        "title": "Less accurate answers from {service}",
        "body": "Some answers from {components} may be incomplete or wrong since {start_time}. "
        "Please double-check important information. Next update by {next_update}.",
        "workaround": "check important facts with our team",
        "degradation": "My answers may be less accurate right now; please double-check "
        "important details with our team.",
        "de": {
            "title": "Ungenauere Antworten von {service}",
            "body": "Manche Antworten von {components} können seit {start_time} unvollständig "
            "oder falsch sein. Bitte prüfen Sie wichtige Angaben. Nächste Aktualisierung bis "
            "{next_update}.",
            "workaround": "prüfen Sie wichtige Angaben mit unserem Team",
            "degradation_message": "Meine Antworten können gerade ungenauer sein; bitte prüfen "
            "Sie wichtige Details mit unserem Team.",
        },
    },
    {
        "name": "Elevated latency",
        "match_labels": {"alertname": "HighLatency"},
        "title": "Slow responses from {service}",
        "body": "{components} is responding slowly since {start_time}. Your requests still "
        "work. Next update by {next_update}.",
        "workaround": "",
        "degradation": "I am a bit slower than usual right now; thank you for your patience.",
        "de": {
            "title": "Langsame Antworten von {service}",
            "body": "{components} antwortet seit {start_time} langsam. Ihre Anfragen "
            "funktionieren weiterhin. Nächste Aktualisierung bis {next_update}.",
            "degradation_message": "Ich bin gerade etwas langsamer als sonst; danke für Ihre "
            "Geduld.",
        },
    },
    {
        "name": "Cost-protection mode",
        "match_labels": {"cause": "budget*"},
        "title": "{service} in reduced mode",
        "body": "To keep the service running, {components} is using a smaller model since "
        "{start_time}; answers may be shorter. Next update by {next_update}.",
        "workaround": "ask shorter questions, one at a time",
        "degradation": "I am in a reduced mode right now and may give shorter answers.",
        "de": {
            "title": "{service} im eingeschränkten Modus",
            "body": "Damit der Dienst weiterläuft, nutzt {components} seit {start_time} ein "
            "kleineres Modell; Antworten können kürzer ausfallen. Nächste Aktualisierung bis "
            "{next_update}.",
            "workaround": "stellen Sie kürzere Fragen, eine nach der anderen",
            "degradation_message": "Ich bin gerade in einem eingeschränkten Modus und antworte "
            "vielleicht kürzer.",
        },
    },
]


def seed_demo_statuspage(*, team, author) -> str:
    added = []
    page, created = StatusPage.objects.get_or_create(
        slug="demo",
        defaults={
            "team": team,
            "title": "Demo Assistants Status",
            "is_public": True,
            "time_zone": "Europe/Berlin",
            "support_url": "https://example.com/support",
            "languages": ["en", "de"],
        },
    )
    if created:
        added.append("status page /status/demo/")
    services = {s.slug: s for s in Service.objects.filter(team=team)}
    for position, (group_name, name, description, slugs) in enumerate(DEMO_COMPONENTS):
        group, _ = ComponentGroup.objects.get_or_create(
            page=page,
            name=group_name,
            defaults={
                "position": 0 if group_name == "Assistants" else 1,
                "translations": {"de": {"name": DEMO_GERMAN[group_name]}},
            },
        )
        german_name, german_description = DEMO_GERMAN[name]
        component, made = Component.objects.get_or_create(
            page=page,
            name=name,
            defaults={
                "group": group,
                "description": description,
                "position": position,
                "translations": {"de": {"name": german_name, "description": german_description}},
            },
        )
        if made:
            component.services.set([services[s] for s in slugs if s in services])
            added.append(f"component {name}")
    refresh_components_for_service_ids(service_ids=[s.pk for s in services.values()])
    for spec in DEMO_TEMPLATES:
        _, made = CommunicationTemplate.objects.get_or_create(
            team=team,
            name=spec["name"],
            defaults={
                "match_labels": spec["match_labels"],
                "min_severity": spec.get("min_severity", 1),
                "title": spec["title"],
                "body": spec["body"],
                "workaround": spec["workaround"],
                "degradation_message": spec["degradation"],
                "translations": {"de": spec["de"]},
            },
        )
        if made:
            added.append(f"template {spec['name']}")
    # Incidents the demo opened before this page existed get their first public update now,
    # as they would have had the page been there (idempotent: one per page and incident).
    from incidents.models import Incident
    from statuspage.services.updates import draft_first_updates

    for incident_id in (
        Incident.objects.open().filter(team=team, is_drill=False).values_list("pk", flat=True)
    ):
        if draft_first_updates(incident_id=incident_id):
            added.append(f"first public update for incident {incident_id}")
    invalidate_pages([page.slug])
    return ", ".join(added)
