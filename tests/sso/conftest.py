"""A real OpenID Connect provider (django-oauth-toolkit, OIDC on) started as its own server
process on 127.0.0.1 for the whole session, and Vigil's OIDC settings pointing at it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLIENT_ID, CLIENT_SECRET = "vigil-client", "vigil-client-secret-0123456789"
PEOPLE = [
    {"username": "alice", "email": "alice@example.com", "password": "alice-pass",
     "first_name": "Alice", "last_name": "Ops", "groups": ["vigil-sre", "everyone"]},
    {"username": "lena", "email": "lena@example.com", "password": "lena-pass",
     "groups": ["vigil-sre", "vigil-leads"]},
    {"username": "bob", "email": "bob@example.com", "password": "bob-pass",
     "groups": ["marketing", "everyone"]},
]  # fmt: skip


@pytest.fixture(scope="session")
def oidc_provider(live_server, tmp_path_factory):
    folder = tmp_path_factory.mktemp("oidc-provider")
    config = {
        "database": str(folder / "provider.sqlite3"),
        "client": {
            "id": CLIENT_ID,
            "secret": CLIENT_SECRET,
            "redirect_uri": f"{live_server.url}/oidc/callback/",
            "post_logout_redirect_uri": f"{live_server.url}/login/",
        },
        "people": PEOPLE,
    }
    (folder / "config.json").write_text(json.dumps(config))
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.sso.provider", str(folder / "config.json")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()  # blocks until the server is bound (or has died)
        if not line.startswith("PORT "):
            raise RuntimeError(f"the OIDC provider did not start (exit {process.poll()})")
        yield f"http://127.0.0.1:{line.split()[1]}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def sso_settings(settings, oidc_provider, live_server):
    base = f"{oidc_provider}/o"
    settings.BASE_URL = live_server.url
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = f"{base}/authorize/"
    settings.OIDC_OP_TOKEN_ENDPOINT = f"{base}/token/"
    settings.OIDC_OP_USER_ENDPOINT = f"{base}/userinfo/"
    settings.OIDC_OP_JWKS_ENDPOINT = f"{base}/.well-known/jwks.json"
    settings.OIDC_OP_LOGOUT_ENDPOINT = f"{base}/logout/"
    settings.OIDC_GROUP_MAP = "vigil-sre=platform:responder, vigil-leads=platform:manager"
    return settings
