"""Fixtures of the oncall tests: loopback allowed for outbound calls, eager Celery, a local
webhook receiver, a local SMTP server and a complete four-level policy."""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from accounts.models import Role
from tests import factories
from tests.factories import MembershipFactory, TeamFactory, UserFactory
from tests.oncall.factories import (
    AutomatedActionFactory,
    EscalationLevelFactory,
    EscalationPolicyFactory,
    RotationFactory,
    RotationMemberFactory,
    ServiceEscalationFactory,
)


@pytest.fixture(autouse=True)
def _oncall_settings(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = [ipaddress.ip_network("127.0.0.0/8")]
    settings.OUTBOUND_TIMEOUT_SECONDS = 5.0
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.ONCALL_RETRY_BASE_SECONDS = 30
    settings.ONCALL_DELIVERY_MAX_ATTEMPTS = 5
    settings.BASE_URL = "https://vigil.example"
    # Factory users get hashed passwords; PBKDF2 would cost seconds per test on a busy machine.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _eager_celery():
    """Deliveries enqueued after commit run at once, in the test's thread, without a broker."""
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


class Receiver:
    """A webhook receiver on 127.0.0.1 answering with the given statuses in turn (then 200)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.statuses: list[int] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "body": body}
                    )
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"nope")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def json(self, index: int = -1) -> dict:
        return json.loads(self.requests[index]["body"])

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def smtp_server():
    """A real SMTP server on 127.0.0.1 (aiosmtpd), collecting what it receives."""
    from aiosmtpd.controller import Controller

    class Collect:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append(envelope)
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = Collect()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    controller.collected = handler.messages
    yield controller
    controller.stop()


@pytest.fixture
def ladder(team, service, receiver):
    """A complete policy for ``service``: L1 signed action, L2 rotation, L3 specialist team,
    L4 a manager; timeouts 5, 10, 15 and 30 minutes."""
    engineer = MembershipFactory(team=team, role=Role.RESPONDER).user
    rotation = RotationFactory(team=team, start_date=datetime.date(2020, 1, 6), shift_hours=168)
    RotationMemberFactory(rotation=rotation, user=engineer, position=0)
    specialists = TeamFactory(name="Model specialists")
    specialist = MembershipFactory(team=specialists, role=Role.RESPONDER).user
    MembershipFactory(team=specialists, role=Role.VIEWER)  # viewers are not paged
    boss = UserFactory(username="boss")
    policy = EscalationPolicyFactory(team=team, name="Default")
    l1 = EscalationLevelFactory(policy=policy, number=1, timeout_minutes=5)
    action = AutomatedActionFactory(level=l1, name="restart-avatar", url=receiver.url("/restart"))
    l2 = EscalationLevelFactory(policy=policy, number=2, timeout_minutes=10, rotation=rotation)
    l3 = EscalationLevelFactory(
        policy=policy, number=3, timeout_minutes=15, target_team=specialists
    )
    l4 = EscalationLevelFactory(policy=policy, number=4, timeout_minutes=30, users=[boss])
    ServiceEscalationFactory(service=service, policy=policy)
    return type(
        "Ladder",
        (),
        dict(
            policy=policy, levels={1: l1, 2: l2, 3: l3, 4: l4}, action=action, rotation=rotation,
            engineer=engineer, specialist=specialist, boss=boss, specialists=specialists,
        ),
    )  # fmt: skip


@pytest.fixture
def open_incident(db):
    """Open an incident through the core, running its after-commit events (escalation starts)."""

    def opener(service, severity=3, **kwargs):
        return factories.open_incident(service, severity=severity, run_events=True, **kwargs)

    return opener


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run a block and the after-commit callbacks it registered (events, enqueued deliveries)."""

    def run(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return run
