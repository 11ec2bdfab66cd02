"""factory-boy factories. Each app's tests add theirs here, grouped by app."""

from __future__ import annotations

import factory
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
