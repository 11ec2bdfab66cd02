"""Chunked request bodies (Transfer-Encoding: chunked, no Content-Length) on the webhooks, through
real servers: Django's test client never chunks. Under gunicorn (which de-chunks and marks the
stream's end) the body is read and size-limited; under a server that does not (Django's own
live server), the delivery is refused with 411. Never read as an empty body."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

from incidents.models import InboundEvent, Incident
from tests.ingest.factories import make_integration

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


def chunked_post(host: str, port: int, path: str, pieces: list[bytes]) -> tuple[int, bytes]:
    """POST ``pieces`` as chunks over a raw socket; returns (status, body)."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ).encode()
    body = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(head + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def pieces_of(document: dict, size: int = 7) -> list[bytes]:
    raw = json.dumps(document).encode()
    return [raw[i : i + size] for i in range(0, len(raw), size)]


def test_django_live_server_refuses_a_chunked_delivery_with_411(live_server, service):
    _, token = make_integration(service, "generic")
    host, port = live_server.thread.host, live_server.thread.port
    status, body = chunked_post(
        host, port, f"/hooks/generic/{token}", pieces_of({"title": "Bot silent"})
    )
    assert status == 411
    assert b"Content-Length" in body
    assert not InboundEvent.objects.exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def gunicorn_server():
    port = _free_port()
    settings_dict = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{settings_dict['USER']}@{settings_dict['HOST']}:"
            f"{settings_dict['PORT'] or 5432}/{settings_dict['NAME']}"
        ),
        "INGEST_APPLY_INLINE": "1",
        "INGEST_MAX_BODY_BYTES": "2048",
        "INGEST_INTEGRATION_CACHE_SECONDS": "0",
        "REDIS_URL": "",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90  # a worker boots Django: slow on a busy machine
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("gunicorn did not start")
                time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_gunicorn_reads_a_chunked_delivery_and_the_incident_opens(gunicorn_server, service):
    _, token = make_integration(service, "generic")
    document = {"title": "Bot silent", "dedup_key": "bot", "severity": 4}
    status, body = chunked_post(
        "127.0.0.1", gunicorn_server, f"/hooks/generic/{token}", pieces_of(document)
    )
    assert status == 202, body
    event = InboundEvent.objects.get()
    assert json.loads(event.raw_body) == document
    assert Incident.objects.get().title == "Bot silent"


def test_gunicorn_refuses_a_chunked_delivery_over_the_size_limit_with_413(gunicorn_server, service):
    _, token = make_integration(service, "generic")
    document = {"title": "Bot silent", "description": "x" * 4000}
    status, _ = chunked_post(
        "127.0.0.1", gunicorn_server, f"/hooks/generic/{token}", pieces_of(document, 500)
    )
    assert status == 413
    assert not InboundEvent.objects.exists()
