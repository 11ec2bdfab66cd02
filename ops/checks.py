"""``manage.py check --deploy``: what breaks when Vigil runs on more than one machine.

Web processes and workers on several hosts share their work through PostgreSQL, the broker
and the cache (docs/scaling.md). Two things left at their embedded defaults would make each
host quietly different, and neither fails at start, so the deploy checks name them.
"""

from __future__ import annotations

from django.conf import settings
from django.core import checks


def _secret_key_generated_here() -> bool:
    key_file = settings.DATA_DIR / "secret_key"
    try:
        return key_file.read_text().strip() == settings.SECRET_KEY
    except OSError:
        return False


@checks.register(checks.Tags.security, deploy=True)
def check_shared_across_hosts(app_configs=None, **kwargs) -> list:
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        return []  # the embedded SQLite mode is one machine by design
    problems = []
    if _secret_key_generated_here():
        problems.append(
            checks.Warning(
                "SECRET_KEY was generated on this machine: every web host and worker must share "
                "one, or sessions and signed acknowledge links fail on the other hosts",
                hint="set SECRET_KEY in the environment of every process",
                id="vigil.ops.W001",
            )
        )
    if not settings.REDIS_URL:
        problems.append(
            checks.Warning(
                "REDIS_URL is empty: the cache is a folder on this machine, so rate limits, "
                "login throttles, the ingest kick, self-watch and back-pressure are per host",
                hint="set REDIS_URL on every process, also when CELERY_BROKER_URL is RabbitMQ",
                id="vigil.ops.W002",
            )
        )
    return problems
