from __future__ import annotations

import pytest
from django.test import Client

from tests.monitoring.conftest import loopback_allowed, target  # noqa: F401 (fixtures)

HTMX = {"HTTP_HX_REQUEST": "true"}


def client_for(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def as_user():
    return client_for


def assert_write_is_guarded(url: str, *, viewer, outsider, data: dict | None = None) -> None:
    """The house rules for a mutating URL: GET 405; anonymous to the login page; another team's
    member 404; a viewer 403 -- each for a plain and an htmx request."""
    data = data or {}
    assert client_for(viewer).get(url).status_code == 405, f"GET {url}"
    for extra in ({}, HTMX):
        anonymous = client_for().post(url, data, **extra)
        assert anonymous.status_code == 302 and "/login/" in anonymous["Location"], url
        assert client_for(outsider).post(url, data, **extra).status_code == 404, url
        refused = client_for(viewer).post(url, data, **extra)
        assert refused.status_code == 403, f"viewer POST {url} ({extra})"
        if extra:
            assert refused["HX-Retarget"] == "#flash"


@pytest.fixture
def guarded():
    return assert_write_is_guarded
