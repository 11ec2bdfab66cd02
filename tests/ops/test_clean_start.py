"""A clean `make run`-style start is quiet (issue 17).

The Procfile's web, worker and beat run for about half a minute in the embedded mode (SQLite,
filesystem broker, a fresh VIGIL_DATA_DIR) after the same migrate and demo seed as `make run`.
(On a quiet machine the whole test takes about a minute, most of it migrating SQLite.)
Nothing they print may be a warning, an error or a traceback, and every file they write lives
in the data dir: the working directory and $HOME stay as they were.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
BOOT_SECONDS = 120
RUN_SECONDS = 20
PROBLEM = re.compile(r"\b(WARNING|ERROR|CRITICAL)\b|Traceback|Warning:|No hostname was supplied")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _environment(tmp_path: Path, port: int) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": str(home),
        "PYTHONPATH": str(REPO),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "VIGIL_DATA_DIR": str(tmp_path / "data"),
        "VIGIL_BASE_URL": f"http://127.0.0.1:{port}",
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "WORKER_CONCURRENCY": "1",
        "PROBE_ALLOWED_NETWORKS": "127.0.0.1/32",
        "VIGIL_DEMO_PASSWORD": "vigil-demo",
    }


def _manage(env: dict, cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(REPO / "manage.py"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def _get(url: str) -> int | None:
    """The status code, or None when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 (loopback)
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def test_clean_start_logs_no_warning_and_writes_only_into_the_data_dir(tmp_path):
    cwd = tmp_path / "checkout"
    cwd.mkdir()
    (cwd / "Procfile").write_text((REPO / "Procfile").read_text())
    (cwd / ".venv").symlink_to(Path(sys.prefix))
    port = _free_port()
    env = _environment(tmp_path, port)
    data = Path(env["VIGIL_DATA_DIR"])
    before = sorted(p.name for p in cwd.iterdir())

    setup_output = _manage(env, cwd, "migrate", "--noinput") + _manage(
        env, cwd, "seed_demo", "--if-empty"
    )
    assert not PROBLEM.search(setup_output), setup_output

    log_file = tmp_path / "run.log"
    with log_file.open("w") as log:
        honcho = subprocess.Popen(
            [str(cwd / ".venv" / "bin" / "honcho"), "start", "-f", "Procfile"],
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        # Up to two minutes for the web to answer (a loaded CI machine), then RUN_SECONDS of
        # ordinary running: beat ticks, the worker escalates the demo incidents and mails.
        served, deadline = None, time.monotonic() + BOOT_SECONDS
        while served != 200 and time.monotonic() < deadline and honcho.poll() is None:
            served = _get(f"http://127.0.0.1:{port}/healthz")
            time.sleep(0.5)
        deadline = time.monotonic() + RUN_SECONDS
        while time.monotonic() < deadline and honcho.poll() is None:
            time.sleep(1)
        # A page that does not exist is answered by the styled 404, not a warning.
        missing_page = _get(f"http://127.0.0.1:{port}/no-such-page/")
    finally:
        os.killpg(honcho.pid, signal.SIGTERM)
        try:
            honcho.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(honcho.pid, signal.SIGKILL)
            honcho.wait(timeout=10)

    output = log_file.read_text(errors="replace")
    problems = [line for line in output.splitlines() if PROBLEM.search(line)]
    assert problems == [], "\n".join(problems[:40])
    assert served == 200, output[-3000:]
    assert missing_page == 404  # the styled page, and no "Not Found" warning
    assert "Content-Transfer-Encoding" not in output  # mail goes to files, not the console

    # Everything the processes wrote is in the data dir.
    assert sorted(p.name for p in cwd.iterdir()) == before
    assert list(Path(env["HOME"]).iterdir()) == []
    assert list(data.glob("celerybeat-schedule*"))
    assert (data / "broker" / "queue").is_dir()
    with sqlite3.connect(data / "vigil.sqlite3") as db:
        written = [
            row[0]
            for row in db.execute(
                "SELECT written_to FROM oncall_notification WHERE status = 'sent' AND kind = 'email'"
            )
        ]
    for path in written:
        assert Path(path).is_relative_to(data / "mail") and Path(path).is_file()
