"""Broker selection: filesystem, Redis or RabbitMQ from one URL, each with its safe options."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config import broker

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("url", "transport"),
    [
        ("filesystem://", "filesystem"),
        ("redis://cache:6379/0", "redis"),
        ("rediss://cache:6380/0", "redis"),
        ("amqp://vigil:secret@rabbit:5672/vigil", "amqp"),
        ("amqps://vigil:secret@rabbit:5671//", "amqp"),
        ("pyamqp://guest@localhost//", "amqp"),
        ("memory://", "other"),
    ],
)
def test_transport_is_read_from_the_url_scheme(url, transport):
    assert broker.transport_of(url) == transport


def test_rabbitmq_publishes_with_confirms_and_redis_keeps_its_visibility_timeout(tmp_path):
    assert broker.transport_options("amqp://rabbit//", broker_dir=tmp_path) == {
        "confirm_publish": True
    }
    assert broker.transport_options("redis://cache/0", broker_dir=tmp_path) == {
        "visibility_timeout": 3600
    }
    embedded = broker.transport_options("filesystem://", broker_dir=tmp_path)
    assert embedded["control_folder"] == str(tmp_path / "control")
    assert broker.transport_options("memory://", broker_dir=tmp_path) == {}


def test_quorum_queues_only_on_rabbitmq_and_unknown_types_refused():
    assert broker.queue_arguments("amqp://rabbit//", "quorum") == {"x-queue-type": "quorum"}
    assert broker.queue_arguments("amqp://rabbit//", "classic") is None
    assert broker.queue_arguments("redis://cache/0", "quorum") is None
    with pytest.raises(ValueError, match="RABBITMQ_QUEUE_TYPE='mirrored'"):
        broker.queue_arguments("amqp://rabbit//", "mirrored")


def test_redact_hides_the_password_only():
    assert broker.redact("amqp://vigil:s3cret@rabbit:5672/v") == "amqp://vigil:***@rabbit:5672/v"
    assert broker.redact("redis://cache:6379/0") == "redis://cache:6379/0"


def _celery_conf(env: dict) -> str:
    code = (
        "import django; django.setup(); from config.celery import app; c = app.conf; "
        "print(c.broker_url, c.broker_transport_options, c.task_acks_late, "
        "c.task_reject_on_worker_lost, c.worker_prefetch_multiplier, "
        "c.worker_cancel_long_running_tasks_on_connection_loss, "
        "[(q.name, q.durable, q.exchange.durable, q.routing_key, q.queue_arguments) "
        "for q in c.task_queues])"
    )
    clean = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL")}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_amqp_broker_url_gives_durable_queues_confirms_and_late_acks(tmp_path):
    out = _celery_conf(
        {
            "VIGIL_DATA_DIR": str(tmp_path),
            "CELERY_BROKER_URL": "amqp://vigil:secret@rabbit:5672/vigil",
            "RABBITMQ_QUEUE_TYPE": "quorum",
        }
    )
    assert out.startswith(
        "amqp://vigil:secret@rabbit:5672/vigil {'confirm_publish': True} True True 1 True "
    )
    for name in ("ingest", "probes", "notify", "default"):
        assert f"('{name}', True, True, '{name}', {{'x-queue-type': 'quorum'}})" in out


def test_empty_broker_url_falls_back_to_redis_then_to_the_embedded_transport(tmp_path):
    out = _celery_conf({"VIGIL_DATA_DIR": str(tmp_path), "CELERY_BROKER_URL": ""})
    assert out.startswith("filesystem://localhost/ {'control_folder'")
    assert "False [(" in out  # no cancel-on-connection-loss off RabbitMQ
    out = _celery_conf(
        {"VIGIL_DATA_DIR": str(tmp_path), "CELERY_BROKER_URL": "", "REDIS_URL": "redis://c:6379/1"}
    )
    assert out.startswith("redis://c:6379/1 {'visibility_timeout': 3600}")
