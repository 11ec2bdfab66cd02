"""The recent post-mortems section of a service's page (incidents.service_sections)."""

from __future__ import annotations

from postmortems.models import PostMortem


def postmortems_section(service, user) -> dict:
    return {
        "postmortems": list(
            PostMortem.objects.filter(incident__service=service)
            .select_related("incident")
            .order_by("-created_at", "-id")[:5]
        )
    }
