"""The runbooks section of a service's page (incidents.service_sections)."""

from __future__ import annotations

from runbooks.models import Runbook


def runbooks_section(service, user) -> dict:
    return {
        "runbooks": list(
            Runbook.objects.filter(services=service, is_active=True).order_by("title")[:20]
        )
    }
