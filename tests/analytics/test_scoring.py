"""Incident scoring: the worked examples of docs/analytics.md, and the one-click decision in
the incident room with its timeline entries."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from analytics.models import Decision, ImpactAssessment
from analytics.scoring import ImpactInputs, score
from incidents import services as incident_services
from incidents.actors import Actor
from tests.factories import ServiceFactory


def inputs(**values) -> ImpactInputs:
    base = {"users_affected_percent": 100, "revenue_per_hour": Decimal(1200), "data_loss": False,
            "failover_tier": 0, "duration": timedelta(minutes=20), "customer_facing": True}  # fmt: skip
    return ImpactInputs(**{**base, **values})


@pytest.mark.parametrize(
    ("example", "values", "points", "severity"),
    [
        ("sales avatar silent for everyone, 20 min", {}, 58, 4),
        ("3 h in, on the tertiary endpoint, data lost",
         {"duration": timedelta(hours=3), "failover_tier": 2, "data_loss": True}, 82, 5),
        ("internal report bot slow for 10 % of staff",
         {"users_affected_percent": 10, "revenue_per_hour": Decimal(50),
          "duration": timedelta(minutes=5), "customer_facing": False}, 4, 1),
        ("chat degraded for 30 % of customers, 45 min",
         {"users_affected_percent": 30, "revenue_per_hour": Decimal(600),
          "duration": timedelta(minutes=45)}, 29, 2),
        ("voice bot down for half the users, 5,000 EUR/h, on the secondary",
         {"users_affected_percent": 50, "revenue_per_hour": Decimal(5000), "failover_tier": 1},
         49, 3),
    ],
)  # fmt: skip
def test_documented_examples(example, values, points, severity):
    result = score(inputs(**values))
    assert (result.points, result.severity) == (points, severity), example


def test_out_of_range_inputs_are_refused():
    with pytest.raises(ValueError):
        score(inputs(users_affected_percent=101))
    with pytest.raises(ValueError):
        score(inputs(failover_tier=4))


@pytest.fixture
def incident(db, team, service):
    incident, _ = incident_services.open_incident(
        service=service, title="Avatar silent", severity=2, actor=Actor.system("test")
    )
    return incident


def test_room_shows_the_live_suggestion(client, responder, incident):
    client.force_login(responder)
    body = client.get(reverse("incident-room", args=[incident.pk])).content.decode()
    # 50 % assumed at open (18) + 600 EUR/h (5) + customer-facing (10) = 33 -> severity 3.
    assert "Impact score 33: suggests severity 3" in body


def test_accept_in_one_click_changes_severity_and_records_who(client, responder, incident):
    client.force_login(responder)
    response = client.post(
        reverse("analytics:score", args=[incident.pk]),
        {"users_affected_percent": "100", "failover_tier": "0", "customer_facing": "1",
         "decision": "accept"},
        HTTP_HX_REQUEST="true",
    )  # fmt: skip
    assert response.status_code == 200 and "incidentChanged" in response["HX-Trigger"]
    incident.refresh_from_db()
    assert incident.severity == 4  # 35 + 5 + 10 = 50 -> 4
    kinds = list(incident.timeline.order_by("id").values_list("kind", flat=True))
    assert kinds[-2:] == ["severity_suggested", "severity_changed"]
    changed = incident.timeline.get(kind="severity_changed")
    assert changed.actor_user == responder and "impact score" in changed.message
    assert ImpactAssessment.objects.get().decision == Decision.ACCEPTED


def test_override_keeps_severity_and_says_who(client, responder, incident):
    client.force_login(responder)
    response = client.post(
        reverse("analytics:score", args=[incident.pk]),
        {"users_affected_percent": "100", "failover_tier": "3", "customer_facing": "1",
         "data_loss": "1", "decision": "keep", "note": "only the staging avatar"},
    )  # fmt: skip
    assert response.status_code == 303
    incident.refresh_from_db()
    assert incident.severity == 2
    entry = incident.timeline.get(kind="severity_suggestion_overridden")
    assert "kept severity 2 against the suggested 5" in entry.message
    assert entry.actor_user == responder
    assert ImpactAssessment.objects.get().decision == Decision.OVERRIDDEN


def test_scoring_refusals(client, responder, viewer, outsider, incident):
    url = reverse("analytics:score", args=[incident.pk])
    body = {"users_affected_percent": "100", "failover_tier": "0", "decision": "accept"}
    client.force_login(viewer)
    assert client.post(url, body).status_code == 403
    client.force_login(outsider)
    assert client.post(url, body).status_code == 404
    client.force_login(responder)
    assert client.get(url).status_code == 405
    assert client.post(url, {**body, "users_affected_percent": "150"}).status_code == 400
    assert client.post(url, {**body, "failover_tier": "x"}).status_code == 400
    assert client.post(url, {**body, "decision": "maybe"}).status_code == 400
    assert not ImpactAssessment.objects.exists()


def test_a_second_decision_on_the_same_suggestion_is_409(db, incident, responder):
    from analytics import services
    from config.errors import Conflict

    assessment = services.assess_impact(incident=incident, actor=Actor.of_user(responder),
                                        users_affected_percent=10)  # fmt: skip
    services.override_suggestion(assessment=assessment, actor=Actor.of_user(responder))
    with pytest.raises(Conflict):
        services.accept_suggestion(assessment=assessment, actor=Actor.of_user(responder))


def test_duration_so_far_moves_the_suggestion(db):
    service = ServiceFactory(downtime_cost_per_hour=0)
    early = score(inputs(revenue_per_hour=service.downtime_cost_per_hour,
                         duration=timedelta(minutes=1)))  # fmt: skip
    late = score(inputs(revenue_per_hour=service.downtime_cost_per_hour,
                        duration=timezone.now() - (timezone.now() - timedelta(hours=5))))  # fmt: skip
    assert late.points - early.points == 10
