from __future__ import annotations

import pytest
from django.test import Client

from tests.ui.factories import open_incident


@pytest.fixture
def incident(service):
    return open_incident(service)


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


HTMX = {"HTTP_HX_REQUEST": "true"}
