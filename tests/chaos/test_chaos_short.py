"""The CI form of the chaos suite: scripts/chaos.py --short, real processes on loopback.

It starts its own throwaway PostgreSQL cluster and redis-server (never the shared ones),
gunicorn, a Celery worker and beat, then kills and restarts them. It takes a few minutes;
``make chaos`` runs the full-length form and docs/reliability.md records its figures.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.chaos


def _missing() -> str | None:
    if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        return "needs PostgreSQL server binaries (initdb, pg_ctl) for a throwaway cluster"
    if shutil.which("redis-server") is None:
        return "needs redis-server for a private Redis"
    return None


def test_short_chaos_suite_loses_no_page_and_duplicates_nothing():
    reason = _missing()
    if reason:
        pytest.skip(reason)
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "chaos.py"), "--short"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    print(done.stdout)
    verdicts = [line for line in done.stdout.splitlines() if line.startswith(("PASS", "FAIL"))]
    assert len(verdicts) == 6, done.stdout + done.stderr[-4000:]
    assert [line for line in verdicts if line.startswith("FAIL")] == []
    assert done.returncode == 0
