"""Login, logout and the login throttle (per account and per client address)."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import AuditLog
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple"


@pytest.fixture
def throttle(settings):
    settings.LOGIN_THROTTLE_ACCOUNT_FAILURES = 3
    settings.LOGIN_THROTTLE_IP_FAILURES = 5
    settings.LOGIN_THROTTLE_WINDOW_SECONDS = 600
    return settings


def _login(client, username, password, ip="203.0.113.5"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_login_rotates_the_session_and_is_audited(responder):
    client = Client()
    client.get("/login/")
    client.session.save()
    before = client.session.session_key
    response = _login(client, responder.username, PASSWORD)
    assert response.status_code == 302
    assert client.session.session_key != before
    assert AuditLog.objects.filter(action="login", actor=responder).exists()
    assert client.get("/incidents/").status_code == 200


def test_logout_is_a_post_and_ends_the_session(responder_client):
    assert responder_client.post("/logout/").status_code == 302
    assert responder_client.get("/incidents/").status_code == 302


def test_account_is_throttled_after_repeated_failures(throttle, responder):
    client = Client()
    for _ in range(3):
        assert _login(client, responder.username, "wrong").status_code == 200
    response = _login(client, responder.username, PASSWORD, ip="203.0.113.99")
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 600
    assert b"Too many failed attempts" in response.content
    assert "_auth_user_id" not in client.session


def test_address_is_throttled_across_accounts(throttle, responder):
    client = Client()
    for n in range(5):
        _login(client, f"guess{n}", "wrong")
    blocked = _login(client, responder.username, PASSWORD)
    assert blocked.status_code == 429 and "Retry-After" in blocked
    # Another address may still log in to the same account.
    assert _login(Client(), responder.username, PASSWORD, ip="198.51.100.1").status_code == 302


def test_success_clears_the_account_count(throttle, responder):
    client = Client()
    for _ in range(2):
        _login(client, responder.username, "wrong")
    assert _login(client, responder.username, PASSWORD).status_code == 302
    other = Client()
    for _ in range(2):
        assert _login(other, responder.username, "wrong", ip="198.51.100.2").status_code == 200
    assert _login(other, responder.username, PASSWORD, ip="198.51.100.2").status_code == 302


def test_throttle_uses_the_forwarded_client_address_only_from_trusted_proxies(throttle):
    import ipaddress

    throttle.TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.0/8")]
    user = UserFactory()
    client = Client()
    for n in range(5):
        client.post(
            "/login/",
            {"username": f"x{n}", "password": "wrong"},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR="192.0.2.77",
        )
    # Another client behind the same proxy is not blocked by the first one's failures.
    response = client.post(
        "/login/",
        {"username": user.username, "password": PASSWORD},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="192.0.2.78",
    )
    assert response.status_code == 302
