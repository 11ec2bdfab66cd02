"""The Celery broker: which transport a URL names, and the options that make each one safe.

Three transports are supported, all carrying the same four queues (config/celery.py):

- ``filesystem://`` (the embedded default): folders under VIGIL_DATA_DIR, one machine only.
- ``redis://`` / ``rediss://``: the default whenever REDIS_URL is set. A message a worker took
  and did not acknowledge comes back after the visibility timeout.
- ``amqp://`` / ``amqps://`` / ``pyamqp://`` (RabbitMQ): durable queues and exchanges,
  persistent messages, and publisher confirms, so ``delay()`` returns only once RabbitMQ has
  taken the message. A message a worker took and did not acknowledge comes back as soon as
  that worker's connection closes.

Plain functions of the URL, with no Django import: settings.py and the tests both use them.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from kombu import Exchange, Queue

QUEUES = ("ingest", "probes", "notify", "default")
AMQP_SCHEMES = ("amqp", "amqps", "pyamqp")
REDIS_SCHEMES = ("redis", "rediss")


def transport_of(url: str) -> str:
    """``"filesystem"``, ``"redis"``, ``"amqp"``, or ``"other"`` (memory://, sqla+..., kept
    working with kombu's own defaults)."""
    scheme = urlsplit(url).scheme.lower()
    if scheme == "filesystem":
        return "filesystem"
    if scheme in REDIS_SCHEMES:
        return "redis"
    if scheme in AMQP_SCHEMES:
        return "amqp"
    return "other"


def transport_options(url: str, *, broker_dir: Path) -> dict:
    """``CELERY_BROKER_TRANSPORT_OPTIONS`` for the broker at ``url``."""
    transport = transport_of(url)
    if transport == "filesystem":
        return {
            # kombu keeps its exchange table in ./control by default, i.e. in the checkout.
            "control_folder": str(broker_dir / "control"),
            "data_folder_in": str(broker_dir / "queue"),
            "data_folder_out": str(broker_dir / "queue"),
            "processed_folder": str(broker_dir / "processed"),
            "store_processed": False,
        }
    if transport == "redis":
        # Long ETAs are unsafe on Redis (a task past the visibility timeout runs again), so no
        # task waits in the broker for long: due times live in the database, sweeps pick them up.
        return {"visibility_timeout": 3600}
    if transport == "other":
        return {}
    # RabbitMQ: the publish waits for the broker's confirm, so a message the broker could not
    # take raises in the caller (which falls back to the sweep) instead of vanishing.
    return {"confirm_publish": True}


QUEUE_TYPES = ("classic", "quorum")


def queue_arguments(url: str, queue_type: str) -> dict | None:
    """Arguments the four queues are declared with: on RabbitMQ, ``x-queue-type`` when quorum
    queues (replicated over a RabbitMQ cluster) are asked for; nothing elsewhere."""
    if queue_type not in QUEUE_TYPES:
        raise ValueError(f"RABBITMQ_QUEUE_TYPE={queue_type!r}: use one of {', '.join(QUEUE_TYPES)}")
    if transport_of(url) != "amqp" or queue_type == "classic":
        return None
    return {"x-queue-type": queue_type}


def declare_queues(url: str, queue_type: str) -> list[Queue]:
    """The four queues, each with its own direct exchange and routing key (with the defaults
    they would all share the "default" key and a task routed to "probes" could land in any of
    them). On RabbitMQ queues and exchanges are durable: they outlive a broker restart, with the
    persistent messages in them. Redis and the filesystem transport ignore the flags."""
    arguments = queue_arguments(url, queue_type)
    return [
        Queue(
            name,
            Exchange(name, type="direct", durable=True),
            routing_key=name,
            durable=True,
            queue_arguments=arguments,
        )
        for name in QUEUES
    ]


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()
