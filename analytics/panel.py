"""The incident room's impact-score panel: a live suggestion from the latest inputs.

At open nobody knows how many users are hit, so until someone says otherwise the score assumes
half of them (``INITIAL_USERS_PERCENT``), customer-facing, no data lost, the primary endpoint.
The duration part grows as the incident goes on, so the suggestion evolves with it.
"""

from __future__ import annotations

from django.utils import timezone

from accounts.permissions import Action, can
from analytics.models import ImpactAssessment
from analytics.scoring import FAILOVER_LABELS, ImpactInputs, score

INITIAL_USERS_PERCENT = 50


def score_panel_context(incident, user) -> dict | None:
    latest = (
        ImpactAssessment.objects.filter(incident=incident).order_by("-created_at", "-id").first()
    )
    values = {
        "users_affected_percent": latest.users_affected_percent
        if latest
        else INITIAL_USERS_PERCENT,
        "data_loss": latest.data_loss if latest else False,
        "failover_tier": latest.failover_tier if latest else 0,
        "customer_facing": latest.customer_facing if latest else True,
    }
    end = incident.resolved_at or timezone.now()
    live = score(
        ImpactInputs(
            revenue_per_hour=incident.service.downtime_cost_per_hour,
            duration=end - incident.triggered_at,
            **values,
        )
    )
    return {
        "score": live,
        "values": values,
        "latest": latest,
        "tiers": sorted(FAILOVER_LABELS.items()),
        "may_respond": can(user, incident.team_id, Action.RESPOND) and incident.is_open,
    }
