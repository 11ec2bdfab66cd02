"""Several hosts: the deploy checks name per-host defaults, and host-local facts are shared."""

import time

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from ops import checks
from ops.tasks import LAST_BACKUP_KEY, backup

pytestmark = pytest.mark.django_db


def _postgres(settings):
    settings.DATABASES = {**settings.DATABASES}
    settings.DATABASES["default"] = {
        **settings.DATABASES["default"],
        "ENGINE": "django.db.backends.postgresql",
    }


def test_generated_secret_key_and_per_host_cache_are_named_on_postgres(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    (tmp_path / "secret_key").write_text(settings.SECRET_KEY)
    settings.REDIS_URL = ""
    _postgres(settings)
    found = {problem.id for problem in checks.check_shared_across_hosts()}
    assert found == {"vigil.ops.W001", "vigil.ops.W002"}


def test_configured_key_and_redis_pass(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    (tmp_path / "secret_key").write_text("an old generated key")
    settings.REDIS_URL = "redis://cache:6379/0"
    _postgres(settings)
    assert checks.check_shared_across_hosts() == []


def test_embedded_sqlite_is_one_machine_by_design(settings, tmp_path):
    settings.DATABASES = {"default": {**settings.DATABASES["default"], "ENGINE": "x.sqlite3"}}
    settings.REDIS_URL = ""
    assert checks.check_shared_across_hosts() == []


def test_check_deploy_fails_on_the_warnings(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    (tmp_path / "secret_key").write_text(settings.SECRET_KEY)
    settings.REDIS_URL = ""
    _postgres(settings)
    with pytest.raises(SystemCheckError, match="vigil.ops.W002"):
        call_command("check", "--deploy", "--fail-level", "WARNING", tags=["security"])


def test_backup_made_on_another_host_shows_on_metrics(client, settings, tmp_path, monkeypatch):
    settings.BACKUP_DIR = tmp_path / "nothing-here"  # this host has no backups of its own
    monkeypatch.setattr(
        "ops.backup.create_backup",
        lambda: type("R", (), {"path": tmp_path / "b.dump", "manifest": {"size": 1}})(),
    )
    monkeypatch.setattr("ops.backup.ping_heartbeat", lambda *a: None)
    before = time.time()
    backup()
    assert cache.get(LAST_BACKUP_KEY) >= before
    text = client.get("/metrics").content.decode()
    line = next(
        line
        for line in text.splitlines()
        if line.startswith("vigil_backup_last_success_timestamp_seconds")
    )
    assert float(line.split()[1]) >= before


def test_backup_is_acknowledged_at_start_not_after_a_long_dump():
    assert backup.acks_late is False
