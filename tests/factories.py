"""factory-boy factories: one per concept, here (tests/<app>/factories.py modules only re-export
or add concepts of their own app). Plus ``open_incident``, the one way a test opens an incident
through the services."""

from __future__ import annotations

from contextlib import nullcontext

import factory
from django.test import TestCase
from django.utils import timezone

from accounts.models import Membership, Role, Team, User
from incidents.models import Incident, Service, Severity, Status

# --- accounts -----------------------------------------------------------------------------


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("correct horse battery staple")


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.Sequence(lambda n: f"team-{n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    team = factory.SubFactory(TeamFactory)
    role = Role.RESPONDER


# --- incidents ----------------------------------------------------------------------------


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"Service {n}")
    slug = factory.Sequence(lambda n: f"service-{n}")
    rto_minutes = 60
    rpo_minutes = 15
    downtime_cost_per_hour = 600


class IncidentFactory(factory.django.DjangoModelFactory):
    """A bare row for read-side tests. Tests of behaviour open incidents through the services."""

    class Meta:
        model = Incident

    service = factory.SubFactory(ServiceFactory)
    team = factory.SelfAttribute("service.team")
    title = factory.Sequence(lambda n: f"Incident {n}")
    severity = Severity.SIGNIFICANT
    status = Status.TRIGGERED
    triggered_at = factory.LazyFunction(timezone.now)
    last_seen_at = factory.LazyFunction(timezone.now)
    updated_at = factory.LazyFunction(timezone.now)
    resolved_at = factory.LazyAttribute(
        lambda o: timezone.now() if o.status == Status.RESOLVED else None
    )


def open_incident(
    service: Service,
    *,
    title: str = "Sales avatar silent",
    severity: int = 4,
    actor=None,
    run_events: bool = False,
    **kwargs,
) -> Incident:
    """An incident opened through ``incidents.services.open_incident``, as ingestion, the UI
    and the API open them (``IncidentFactory`` makes bare rows for read-side tests only).

    ``run_events=True`` also runs the after-commit callbacks (domain events: escalation starts,
    runbooks attach), as pytest-django's ``django_capture_on_commit_callbacks(execute=True)``
    would. Other keywords (``dedup_key``, ``data``, ``source``...) go to the service.
    """
    from incidents import services
    from incidents.actors import Actor

    capture = TestCase.captureOnCommitCallbacks(execute=True) if run_events else nullcontext()
    with capture:
        incident, _ = services.open_incident(
            service=service,
            title=title,
            severity=severity,
            actor=actor or Actor.system("test"),
            **kwargs,
        )
    return incident
