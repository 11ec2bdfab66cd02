"""Every registered task lands in a queue that exists and that the workers consume."""

import re
import shlex
from pathlib import Path

import pytest
import yaml

from config.celery import QUEUES, app

ROOT = Path(__file__).resolve().parents[2]
# The queue each app's tasks belong to; a new app must be added here on purpose.
EXPECTED = {"incidents": "ingest", "monitoring": "probes", "oncall": "notify"}


def _our_tasks() -> list[str]:
    app.loader.import_default_modules()  # what a worker does at start: autodiscover every app
    names = sorted(name for name in app.tasks if not name.startswith("celery."))
    assert names, "no tasks registered: autodiscovery found nothing"
    return names


def _queues_consumed(command: list[str]) -> set[str]:
    return set(command[command.index("-Q") + 1].split(","))


def test_every_registered_task_routes_to_a_declared_queue_with_its_own_key():
    declared = {queue.name: queue for queue in app.conf.task_queues}
    for name in _our_tasks():
        queue = app.amqp.router.route({}, name)["queue"]
        assert queue.name in declared, f"{name} routes to undeclared queue {queue.name!r}"
        assert queue.routing_key == queue.name, name
        app_label = name.split(".")[0]
        assert queue.name == EXPECTED.get(app_label, "default"), name


@pytest.mark.parametrize("source", ["Procfile", "docker-compose.yml"])
def test_the_workers_consume_every_queue_a_task_routes_to(source):
    text = (ROOT / source).read_text()
    if source == "Procfile":
        line = next(line for line in text.splitlines() if line.startswith("worker:"))
        command = shlex.split(line.split(":", 1)[1])
    else:
        command = yaml.safe_load(text)["services"]["worker"]["command"]
    consumed = _queues_consumed(command)
    routed = {app.amqp.router.route({}, name)["queue"].name for name in _our_tasks()}
    assert routed <= consumed, f"{source}: nobody consumes {routed - consumed}"
    assert consumed == set(QUEUES)


def test_every_periodic_task_names_a_registered_task():
    tasks = set(_our_tasks())
    schedule = app.conf.beat_schedule
    assert schedule
    for entry in schedule.values():
        assert entry["task"] in tasks, entry["task"]
        assert re.fullmatch(r"[a-z_]+\.tasks\.[a-z_]+", entry["task"])
