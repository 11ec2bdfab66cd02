"""Sections other apps add to a service's page, without the core importing them.

An app registers a section in its AppConfig.ready()::

    from incidents.service_sections import ServiceSection, register_service_section

    register_service_section(ServiceSection(
        key="model-endpoints", title="Model endpoints", order=60,
        template="llm/_service_section.html", get_context=endpoints_section_context))

``get_context(service, user)`` returns the template's context (``service``, ``request`` and
``can_configure`` are added) or None to hide the section. It runs once per page view, so it
should cost a small constant number of queries. The core's own sections (open incidents,
integrations) use the same registry with orders 10 and 20; monitoring uses 30, on-call 15,
runbooks and post-mortems 40 and 50.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceSection:
    key: str
    title: str
    template: str
    get_context: Callable[..., dict | None]  # (service, user) -> dict | None
    order: int = 50


_sections: dict[str, ServiceSection] = {}


def register_service_section(section: ServiceSection) -> None:
    _sections[section.key] = section


def sections_for(service, user) -> list[tuple[ServiceSection, dict]]:
    shown = []
    for section in sorted(_sections.values(), key=lambda s: (s.order, s.key)):
        context = section.get_context(service, user)
        if context is not None:
            shown.append((section, context))
    return shown
