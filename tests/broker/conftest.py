"""A real RabbitMQ for the broker tests: a throwaway vhost on RABBITMQ_URL's server.

Skipped, with the reason, only where no RabbitMQ answers and CI is not set; under CI=true
(`.ci/run` starts Debian's rabbitmq-server) an absent broker fails the tests instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from urllib.parse import quote, unquote, urlsplit

import pytest

DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672//"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _unavailable(reason: str):
    if _in_ci():
        pytest.fail(f"CI=true needs RabbitMQ (scripts/ensure-rabbitmq): {reason}")
    pytest.skip(reason)


def _rabbitmqctl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture(scope="session")
def rabbitmq_server() -> str:
    from kombu import Connection

    url = os.environ.get("RABBITMQ_URL") or DEFAULT_URL
    try:
        with Connection(url, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        _unavailable(f"needs RabbitMQ at {url} (set RABBITMQ_URL; CI does): {exc}")
    if shutil.which("rabbitmqctl") is None:
        _unavailable("needs rabbitmqctl on this machine to give the test a vhost of its own")
    return url


@pytest.fixture
def rabbitmq_url(rabbitmq_server):
    """An ``amqp://`` URL of a fresh vhost, deleted afterwards: nothing another Vigil or another
    test run has queued is seen, and nothing of ours is left behind."""
    parts = urlsplit(rabbitmq_server)
    vhost = f"vigil-test-{uuid.uuid4().hex[:12]}"
    user = unquote(parts.username or "guest")
    made = _rabbitmqctl("add_vhost", vhost)
    if made.returncode:
        _unavailable(f"rabbitmqctl add_vhost failed: {made.stderr.strip()}")
    _rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
    yield parts._replace(path="/" + quote(vhost, safe="")).geturl()
    _rabbitmqctl("delete_vhost", vhost)


def list_vhost(vhost_url: str, what: str, *columns: str) -> list[list[str]]:
    """Rows of ``rabbitmqctl list_<what> -p <vhost> <columns>`` (tab-separated by rabbitmqctl)."""
    vhost = unquote(urlsplit(vhost_url).path[1:])
    done = _rabbitmqctl(f"list_{what}", "-p", vhost, "--no-table-headers", *columns)
    assert done.returncode == 0, done.stderr
    return [line.split("\t") for line in done.stdout.splitlines() if line.strip()]
