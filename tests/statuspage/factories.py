"""Factories of status pages and their parts."""

from __future__ import annotations

import factory
from django.utils import timezone

from statuspage.models import (
    CommunicationTemplate,
    Component,
    StatusPage,
    Subscriber,
    SubscriberKind,
)
from tests.factories import TeamFactory


class StatusPageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StatusPage

    team = factory.SubFactory(TeamFactory)
    slug = factory.Sequence(lambda n: f"page-{n}")
    title = factory.Sequence(lambda n: f"Acme status {n}")
    time_zone = "UTC"


class ComponentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Component
        skip_postgeneration_save = True

    page = factory.SubFactory(StatusPageFactory)
    name = factory.Sequence(lambda n: f"Component {n}")

    @factory.post_generation
    def services(self, create, extracted, **kwargs):
        if create and extracted:
            self.services.set(extracted)


class TemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CommunicationTemplate
        skip_postgeneration_save = True

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"Template {n}")
    title = "Trouble with {service}"
    body = "We are looking into {components} since {start_time}. Next update by {next_update}."

    @factory.post_generation
    def services(self, create, extracted, **kwargs):
        if create and extracted:
            self.services.set(extracted)


class SubscriberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subscriber

    page = factory.SubFactory(StatusPageFactory)
    kind = SubscriberKind.EMAIL
    target = factory.Sequence(lambda n: f"reader{n}@example.org")
    confirmed_at = factory.LazyFunction(timezone.now)
