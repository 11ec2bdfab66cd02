import ipaddress
import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.env import (
    ImproperEnvironment,
    env_bool,
    env_float,
    env_int,
    env_list,
    env_networks,
    env_str,
)

ROOT = Path(__file__).resolve().parents[2]


def test_env_str_default_and_strip():
    assert env_str("X", "d", environ={}) == "d"
    assert env_str("X", environ={"X": "  value "}) == "value"


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("true", True), ("Yes", True), ("on", True),
                                               ("0", False), ("false", False), ("no", False), ("", False)])  # fmt: skip
def test_env_bool_parses_common_spellings(raw, expected):
    assert env_bool("X", environ={"X": raw}) is expected


def test_env_bool_rejects_garbage_naming_the_variable():
    with pytest.raises(ImproperEnvironment, match="DEBUG='maybe' is not a boolean"):
        env_bool("DEBUG", environ={"DEBUG": "maybe"})


def test_env_int_parses_defaults_and_rejects():
    assert env_int("N", 5, environ={}) == 5
    assert env_int("N", 5, environ={"N": " 42 "}) == 42
    with pytest.raises(ImproperEnvironment, match="N='4x' is not an integer"):
        env_int("N", 5, environ={"N": "4x"})
    with pytest.raises(ImproperEnvironment, match="below the minimum 1"):
        env_int("N", 5, minimum=1, environ={"N": "0"})


def test_env_float_and_list():
    assert env_float("F", 1.5, environ={"F": "2.25"}) == 2.25
    with pytest.raises(ImproperEnvironment):
        env_float("F", 1.5, environ={"F": "fast"})
    assert env_list("L", ["a"], environ={}) == ["a"]
    assert env_list("L", environ={"L": "a, b,,c "}) == ["a", "b", "c"]


def test_env_networks():
    assert env_networks("N", environ={"N": "127.0.0.1, 10.0.0.0/8"}) == [
        ipaddress.ip_network("127.0.0.1/32"),
        ipaddress.ip_network("10.0.0.0/8"),
    ]
    with pytest.raises(ImproperEnvironment, match="'localhost' is not an IP network"):
        env_networks("N", environ={"N": "localhost"})


def _settings_in_subprocess(env: dict, expression: str) -> str:
    code = f"import django; django.setup(); from django.conf import settings; print({expression})"
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")
    }
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_embedded_default_is_sqlite_and_filesystem_broker(tmp_path):
    out = _settings_in_subprocess(
        {"VIGIL_DATA_DIR": str(tmp_path)},
        "settings.DATABASES['default']['ENGINE'], settings.CELERY_BROKER_URL",
    )
    assert out == "django.db.backends.sqlite3 filesystem://localhost/"
    assert (tmp_path / "secret_key").exists()
    assert (tmp_path / "broker" / "queue").is_dir()


def test_database_and_redis_urls_switch_to_production_backends(tmp_path):
    out = _settings_in_subprocess(
        {
            "VIGIL_DATA_DIR": str(tmp_path),
            "DATABASE_URL": "postgres://u:p@db.internal:5433/vigil",
            "REDIS_URL": "redis://cache:6379/2",
        },
        "settings.DATABASES['default']['ENGINE'], settings.DATABASES['default']['PORT'], "
        "settings.CELERY_BROKER_URL, settings.CACHES['default']['BACKEND']",
    )
    assert out == (
        "django.db.backends.postgresql 5433 redis://cache:6379/2 django.core.cache.backends.redis.RedisCache"
    )


def test_production_settings_pass_check_deploy(tmp_path):
    env = {
        "VIGIL_DATA_DIR": str(tmp_path),
        "DEBUG": "0",
        "VIGIL_HTTPS": "1",
        "SECRET_KEY": "k" * 20 + "Zq8#x!T2vP@9wL$4mN&6rB*3yH^7uJ(0" + "s" * 20,
        "ALLOWED_HOSTS": "vigil.example.com",
    }
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env={**clean, **env},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_bad_setting_stops_the_process_naming_it(tmp_path):
    clean = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    done = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**clean, "VIGIL_DATA_DIR": str(tmp_path), "DEBUG": "perhaps"},
    )  # fmt: skip
    assert done.returncode != 0
    assert "DEBUG='perhaps' is not a boolean" in done.stderr
