"""Fixtures of the API tests: tokens and Bearer clients for the roles of tests/conftest.py."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.tokens import create_token
from incidents.actors import Actor


@pytest.fixture(autouse=True)
def _api_test_settings(settings):
    # Throttling has its own tests; elsewhere it would only make test order matter.
    settings.API_THROTTLE_RATE = ""
    # Every test makes users; PBKDF2 at full strength made user creation most of the run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def make_client(db):
    """``make_client(user, read_only=False)`` -> an APIClient sending a fresh Bearer token."""

    def make(user, *, read_only: bool = False, expires_in_days: int | None = None) -> APIClient:
        issued = create_token(
            user=user,
            actor=Actor.of_user(user),
            name="test",
            read_only=read_only,
            expires_in_days=expires_in_days,
        )
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.plaintext}")
        client.token = issued.token
        client.plaintext = issued.plaintext
        return client

    return make


@pytest.fixture
def anon():
    return APIClient()
