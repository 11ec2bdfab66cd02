"""Run the test OpenID Connect provider as a real server process on 127.0.0.1.

    python -m tests.sso.provider CONFIG.json

CONFIG names the database file, the client (id, secret, redirect URI, post-logout URI) and
the people with their passwords and groups. The process migrates, creates them, binds a free
port, prints ``PORT <n>`` and serves until killed.
"""

import json
import os
import sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def main(config_path: str) -> None:
    with open(config_path) as f:
        config = json.load(f)
    os.environ["SSO_PROVIDER_DB"] = config["database"]
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.sso.provider_settings"
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.management import call_command
    from oauth2_provider.models import Application

    call_command("migrate", verbosity=0, interactive=False)
    for person in config["people"]:
        user = User.objects.create_user(
            person["username"], email=person["email"], password=person["password"],
            first_name=person.get("first_name", ""), last_name=person.get("last_name", ""),
        )  # fmt: skip
        for name in person["groups"]:
            user.groups.add(Group.objects.get_or_create(name=name)[0])
    client = config["client"]
    Application.objects.create(
        name="Vigil",
        client_id=client["id"],
        client_secret=client["secret"],
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=client["redirect_uri"],
        post_logout_redirect_uris=client["post_logout_redirect_uri"],
        algorithm=Application.RS256_ALGORITHM,
        skip_authorization=True,
    )
    server = make_server(
        "127.0.0.1", 0, WSGIHandler(), server_class=ThreadingServer, handler_class=QuietHandler
    )
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1])
