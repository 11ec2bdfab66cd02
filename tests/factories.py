"""factory-boy factories and builders: one per concept, all here, grouped by app.

tests/<app>/factories.py modules only re-export these (old import paths keep working); add a
new concept here, never a second definition there. ``open_incident`` is the one way a test
opens an incident through the services; ``IncidentFactory`` makes bare rows for read tests."""

from __future__ import annotations

import datetime
from contextlib import nullcontext

import factory
from django.test import TestCase
from django.utils import timezone
from freezegun import freeze_time

from accounts.models import Membership, Role, Team, User
from incidents import services as incident_services
from incidents.actors import Actor
from incidents.ingest.services import create_integration
from incidents.models import Incident, Service, Severity, Status
from monitoring.models import Heartbeat, Probe
from oncall.models import (
    AutomatedAction,
    Channel,
    ChannelKind,
    ContactMethod,
    EscalationLevel,
    EscalationPolicy,
    Override,
    Rotation,
    RotationMember,
    ServiceEscalation,
)
from postmortems.services import create_draft
from runbooks.services import RunbookInput, StepInput, create_runbook

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
    capture = TestCase.captureOnCommitCallbacks(execute=True) if run_events else nullcontext()
    with capture:
        incident, _ = incident_services.open_incident(
            service=service,
            title=title,
            severity=severity,
            actor=actor or Actor.system("test"),
            **kwargs,
        )
    return incident


# --- ingestion ----------------------------------------------------------------------------


def make_integration(service, kind: str, **kwargs):
    kwargs.setdefault("name", f"{kind} {service.pk}-{kwargs.get('suffix', '')}")
    kwargs.pop("suffix", None)
    extra = {k: kwargs.pop(k) for k in ("default_severity", "timestamp_header") if k in kwargs}
    integration, token = create_integration(
        service=service, kind=kind, actor=Actor.system("tests"), **kwargs
    )
    if extra:
        for key, value in extra.items():
            setattr(integration, key, value)
        integration.save(update_fields=list(extra))
    return integration, token


# --- monitoring ---------------------------------------------------------------------------


class ProbeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Probe

    service = factory.SubFactory(ServiceFactory)
    name = factory.Sequence(lambda n: f"probe-{n}")
    url = "http://127.0.0.1:9/health"
    timeout_seconds = 2.0
    interval_seconds = 60
    next_due_at = factory.LazyFunction(timezone.now)


class HeartbeatFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Heartbeat

    service = factory.SubFactory(ServiceFactory)
    name = factory.Sequence(lambda n: f"nightly-backup-{n}")
    period_seconds = 3600
    grace_seconds = 600


# --- oncall -------------------------------------------------------------------------------


class RotationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Rotation

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"Rotation {n}")
    time_zone = "Europe/Berlin"
    shift_hours = 24
    handoff_time = datetime.time(9, 0)
    start_date = datetime.date(2024, 1, 1)


class RotationMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RotationMember

    rotation = factory.SubFactory(RotationFactory)
    user = factory.SubFactory(UserFactory)
    position = factory.Sequence(lambda n: n)


class OverrideFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Override

    rotation = factory.SubFactory(RotationFactory)
    user = factory.SubFactory(UserFactory)


class EscalationPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EscalationPolicy

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"Policy {n}")
    repeat_last_level = 0


class EscalationLevelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EscalationLevel
        skip_postgeneration_save = True

    policy = factory.SubFactory(EscalationPolicyFactory)
    number = 1
    timeout_minutes = 5

    @factory.post_generation
    def users(self, create, extracted, **kwargs):
        if create and extracted:
            self.users.set(extracted)

    @factory.post_generation
    def channels(self, create, extracted, **kwargs):
        if create and extracted:
            self.channels.set(extracted)


class AutomatedActionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AutomatedAction

    level = factory.SubFactory(EscalationLevelFactory)
    name = factory.Sequence(lambda n: f"restart-{n}")
    url = "http://127.0.0.1:9/"
    body_template = {"action": "restart", "incident": "$reference", "title": "$title"}
    secret = "action-secret-0123456789abcdef"


class ChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Channel

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"channel-{n}")
    kind = ChannelKind.WEBHOOK
    target = "http://127.0.0.1:9/"
    secret = "channel-secret-0123456789abcdef"


class ContactMethodFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContactMethod

    user = factory.SubFactory(UserFactory)
    kind = ChannelKind.EMAIL
    target = factory.LazyAttribute(lambda o: o.user.email)


class ServiceEscalationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceEscalation


# --- runbooks (made through the services, as behaviour tests should) -----------------------


def make_runbook(team, by=None, *, services=(), steps=None, **fields) -> object:
    fields.setdefault("title", "High latency on the chat avatar")
    fields.setdefault("body", "Check the provider status page first.")
    data = RunbookInput(
        service_ids=[s.pk for s in services],
        steps=steps if steps is not None else [StepInput(title="Look at the dashboard")],
        **fields,
    )
    return create_runbook(
        team=team,
        data=data,
        actor=Actor.of_user(by) if by is not None else Actor.system("tests"),
    )


def step(title: str, **kwargs) -> StepInput:
    return StepInput(title=title, **kwargs)


# --- post-mortems: incidents walked through the real services at known times ---------------

T0 = datetime.datetime.fromisoformat("2026-03-02T10:00:00+00:00")


def resolved_incident(service, user, *, severity=4, ack=5, mitigate=20, resolve=90, **kwargs):
    """Open at T0, acknowledge/mitigate/resolve after the given minutes (None skips a step)."""
    actor = Actor.of_user(user)
    with freeze_time(T0):
        incident, _ = incident_services.open_incident(
            service=service,
            title=kwargs.pop("title", "Sales avatar silent"),
            severity=severity,
            actor=Actor.integration("alertmanager"),
            **kwargs,
        )
    for minutes, verb in ((ack, "acknowledge"), (mitigate, "mitigate"), (resolve, "resolve")):
        if minutes is not None:
            with freeze_time(T0 + datetime.timedelta(minutes=minutes)):
                incident = getattr(incident_services, verb)(incident=incident, actor=actor)
    incident.refresh_from_db()
    return incident


def draft_for(service, user, **kwargs):
    incident = resolved_incident(service, user, **kwargs)
    postmortem, _ = create_draft(incident=incident, actor=Actor.of_user(user))
    return postmortem
