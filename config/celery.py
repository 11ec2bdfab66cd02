"""Celery application: autodiscovered tasks, named queues, periodic tasks declared by apps.

Each Django app that needs a periodic task declares it on its AppConfig as
``periodic_tasks = {"name": ("dotted.task.name", seconds)}``; they are collected here, so no
central schedule has to know every app. Every periodic task is safe to run twice (two beats,
or a beat restarted mid-tick, do no harm).
"""

import os
import warnings

from celery import Celery
from celery.exceptions import SecurityWarning

from config import broker, logs

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# The embedded mode (`make run`, no broker configured) is development, often in a container that
# runs as root: the worker's "running with superuser privileges" warning would greet every start.
# Production (a real broker) keeps it.
if (os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL") or "filesystem:").startswith(
    "filesystem:"
):
    warnings.filterwarnings("ignore", category=SecurityWarning)

app = Celery("vigil")
app.config_from_object("django.conf:settings", namespace="CELERY")
# The four queues (config/broker.py) are declared by settings.CELERY_TASK_QUEUES: durable,
# each with its own exchange and routing key.
QUEUES = broker.QUEUES
app.conf.task_routes = {
    "incidents.tasks.*": {"queue": "ingest"},
    "monitoring.tasks.*": {"queue": "probes"},
    "oncall.tasks.*": {"queue": "notify"},
}
app.autodiscover_tasks()
# Request ids travel into tasks; workers and beat log like the web (config/logs.py).
logs.connect_celery_signals()


@app.on_after_finalize.connect
def _register_periodic_tasks(sender: Celery, **kwargs) -> None:
    from django.apps import apps

    for config in apps.get_app_configs():
        for name, (task_name, seconds) in getattr(config, "periodic_tasks", {}).items():
            sender.add_periodic_task(seconds, sender.signature(task_name), name=name)
