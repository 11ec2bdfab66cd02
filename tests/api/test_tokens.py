from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from freezegun import freeze_time
from rest_framework.test import APIClient

from accounts.models import ApiToken, AuditLog
from accounts.tokens import create_token, find_active_token, revoke_token
from incidents.actors import Actor

pytestmark = pytest.mark.django_db


def bearer(plaintext):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    return client


def test_token_is_typed_and_stored_only_as_prefix_and_hmac(responder):
    issued = create_token(user=responder, actor=Actor.of_user(responder), name="ci")
    assert issued.plaintext.startswith("vgl_")
    token = ApiToken.objects.get()
    assert issued.plaintext.startswith(token.prefix + "_")
    assert len(issued.plaintext) > 50
    assert token.digest != issued.plaintext and len(token.digest) == 64
    assert issued.plaintext[len(token.prefix) :] not in token.digest


@pytest.mark.postgres
def test_plaintext_is_in_no_text_column_of_any_table(responder, make_client, team, service):
    client = make_client(responder)
    # Use it (last_used_at, audit rows) and revoke another, so every code path wrote its rows.
    assert client.get("/api/v1/incidents/").status_code == 200
    other = create_token(user=responder, actor=Actor.of_user(responder), name="second")
    revoke_token(token=other.token, actor=Actor.of_user(responder))
    secrets = [client.plaintext, client.plaintext.split("_", 2)[2], other.plaintext]
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT table_name, column_name FROM information_schema.columns
               WHERE table_schema = 'public'
                 AND data_type IN ('text', 'character varying', 'jsonb', 'json')"""
        )
        columns = cursor.fetchall()
        assert len(columns) > 20
        for table, column in columns:
            for secret in secrets:
                cursor.execute(
                    f'SELECT count(*) FROM "{table}" WHERE "{column}"::text LIKE %s',
                    [f"%{secret}%"],
                )
                assert cursor.fetchone()[0] == 0, f"token found in {table}.{column}"


def test_valid_token_authenticates_as_its_user(responder, make_client):
    client = make_client(responder)
    body = client.get("/api/v1/me/").json()
    assert body["username"] == responder.username
    assert body["token"]["prefix"] == client.token.prefix
    assert body["token"]["read_only"] is False


@pytest.mark.parametrize(
    "header",
    [
        "Bearer vgl_000000000000_nottherightsecret",
        "Bearer garbage",
        "Bearer",
        "Bearer a b",
        "Bearer vgl_zzzzzzzzzzzz_x",
    ],
)
def test_bad_tokens_answer_401_in_the_error_shape(responder, header):
    create_token(user=responder, actor=Actor.of_user(responder), name="ci")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/v1/incidents/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["error"]["code"] == "authentication_failed"


def test_tampered_secret_with_right_prefix_is_refused(responder):
    issued = create_token(user=responder, actor=Actor.of_user(responder), name="ci")
    tampered = issued.plaintext[:-1] + ("A" if issued.plaintext[-1] != "A" else "B")
    assert bearer(tampered).get("/api/v1/me/").status_code == 401
    assert bearer(issued.plaintext).get("/api/v1/me/").status_code == 200


def test_anonymous_gets_401(anon):
    response = anon.get("/api/v1/incidents/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_revoked_token_fails_on_the_next_request_and_is_audited(responder, make_client):
    client = make_client(responder)
    assert client.get("/api/v1/me/").status_code == 200
    revoke_token(token=client.token, actor=Actor.of_user(responder))
    assert client.get("/api/v1/me/").status_code == 401
    row = AuditLog.objects.get(action="api_token.revoked")
    assert row.actor == responder and client.token.prefix in row.target


def test_expired_token_is_refused(responder, make_client):
    client = make_client(responder, expires_in_days=1)
    assert client.get("/api/v1/me/").status_code == 200
    with freeze_time(timezone.now() + timedelta(days=1, seconds=1)):
        assert client.get("/api/v1/me/").status_code == 401


def test_token_of_inactive_user_is_refused(responder, make_client):
    client = make_client(responder)
    responder.is_active = False
    responder.save(update_fields=["is_active"])
    assert client.get("/api/v1/me/").status_code == 401


def test_last_used_is_written_at_most_once_a_minute(responder, make_client):
    client = make_client(responder)
    start = timezone.now()
    with freeze_time(start):
        client.get("/api/v1/me/")
    client.token.refresh_from_db()
    assert client.token.last_used_at == start
    with freeze_time(start + timedelta(seconds=30)):
        client.get("/api/v1/me/")
    client.token.refresh_from_db()
    assert client.token.last_used_at == start
    with freeze_time(start + timedelta(seconds=61)):
        client.get("/api/v1/me/")
    client.token.refresh_from_db()
    assert client.token.last_used_at == start + timedelta(seconds=61)


def test_old_secret_key_in_fallbacks_keeps_tokens_valid(responder, settings):
    issued = create_token(user=responder, actor=Actor.of_user(responder), name="ci")
    old = settings.SECRET_KEY
    settings.SECRET_KEY = "a-new-key-" + "x" * 50
    assert find_active_token(issued.plaintext) is None
    settings.SECRET_KEY_FALLBACKS = [old]
    assert find_active_token(issued.plaintext) is not None


def test_create_is_audited_without_the_secret(responder):
    issued = create_token(
        user=responder,
        actor=Actor.of_user(responder),
        name="ci",
        read_only=True,
        expires_in_days=30,
    )
    row = AuditLog.objects.get(action="api_token.created")
    assert row.actor == responder
    assert row.data["read_only"] is True and row.data["expires_at"]
    assert issued.plaintext not in str(row.data) + row.target


def test_command_prints_the_token_once(responder):
    out, err = StringIO(), StringIO()
    call_command(
        "create_api_token",
        responder.username,
        "--read-only",
        "--expires",
        "7",
        "--name",
        "grafana",
        stdout=out,
        stderr=err,
    )
    plaintext = out.getvalue().strip()
    token = find_active_token(plaintext)
    assert token.user == responder and token.read_only and token.name == "grafana"
    assert token.expires_at > timezone.now() + timedelta(days=6)
    assert "cannot be shown again" in err.getvalue()
    assert bearer(plaintext).get("/api/v1/me/").json()["token"]["read_only"] is True


def test_command_refuses_unknown_user_and_bad_expiry(responder):
    with pytest.raises(CommandError, match="no user"):
        call_command("create_api_token", "nobody", stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match="expiry"):
        call_command(
            "create_api_token",
            responder.username,
            "--expires",
            "0",
            stdout=StringIO(),
            stderr=StringIO(),
        )
    assert not ApiToken.objects.exists()


# --- the page ------------------------------------------------------------------------------


def test_token_page_creates_shows_once_and_revokes(client, responder):
    client.force_login(responder)
    response = client.post(
        "/account/tokens/", {"name": "chatops bot", "expires": "30", "read_only": "on"}
    )
    assert response.status_code == 200
    token = ApiToken.objects.get(user=responder)
    assert token.read_only and token.expires_at is not None
    html = response.content.decode()
    plaintext = html.split('class="token-plaintext" value="')[1].split('"')[0]
    assert find_active_token(plaintext) == token
    assert response["Cache-Control"] == "no-store"
    # Shown once: the list page never shows it again.
    again = client.get("/account/tokens/").content.decode()
    assert plaintext not in again and token.prefix in again
    # Revoke.
    response = client.post(f"/account/tokens/{token.pk}/revoke/")
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditLog.objects.filter(action="api_token.revoked", actor=responder).exists()
    assert AuditLog.objects.get(action="api_token.created").ip_address == "127.0.0.1"


def test_token_page_refuses_a_nameless_token(client, responder):
    client.force_login(responder)
    response = client.post("/account/tokens/", {"name": "  ", "expires": ""})
    assert response.status_code == 400
    assert "needs a name" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_revoking_someone_elses_token_is_404_and_get_is_405(client, responder, outsider):
    issued = create_token(user=outsider, actor=Actor.of_user(outsider), name="theirs")
    client.force_login(responder)
    assert client.get(f"/account/tokens/{issued.token.pk}/revoke/").status_code == 405
    assert client.post(f"/account/tokens/{issued.token.pk}/revoke/").status_code == 404
    issued.token.refresh_from_db()
    assert issued.token.revoked_at is None


def test_token_page_needs_login(client):
    response = client.get("/account/tokens/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_read_only_token_is_refused_on_writes_of_every_app(make_client, manager, team):
    # oncall's viewsets bring their own permission classes; the refusal happens before them.
    client = make_client(manager, read_only=True)
    response = client.post(
        "/api/v1/oncall/policies/", {"team": team.pk, "name": "Night"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "This API token is read-only."
    assert client.get("/api/v1/oncall/policies/").status_code == 200
    writable = make_client(manager)
    created = writable.post(
        "/api/v1/oncall/policies/", {"team": team.pk, "name": "Night"}, format="json"
    )
    assert created.status_code == 201
