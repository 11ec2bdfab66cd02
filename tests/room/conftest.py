"""Fixtures of the incident-room tests (issue 17): merge, links, snooze, alerts panel, times."""

from __future__ import annotations

import json

import pytest
from django.test import Client


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def responder_client(responder) -> Client:
    return _client_for(responder)


@pytest.fixture
def viewer_client(viewer) -> Client:
    return _client_for(viewer)


@pytest.fixture
def outsider_client(outsider) -> Client:
    return _client_for(outsider)


@pytest.fixture
def generic(service, settings):
    from tests.ingest.factories import make_integration

    settings.INGEST_APPLY_INLINE = True
    return make_integration(service, "generic")


@pytest.fixture
def post_json(client):
    def post(path: str, document):
        return client.post(path, data=json.dumps(document), content_type="application/json")

    return post


HTMX = {"HTTP_HX_REQUEST": "true"}
