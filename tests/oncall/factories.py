"""Factories of the oncall app's rows."""

from __future__ import annotations

import datetime

import factory

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
from tests.factories import TeamFactory, UserFactory


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
