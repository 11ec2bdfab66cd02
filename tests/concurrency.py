"""Races for real: the same call from several threads at once, each with its own connection."""

from __future__ import annotations

import threading

from django.db import connection


def run_concurrently(fn, times: int = 5) -> list:
    """Start ``times`` threads behind one barrier, each calling ``fn`` in its own database
    connection (and so its own transaction); return their results. Fails the test if any raised."""
    barrier = threading.Barrier(times)
    results, errors = [], []

    def worker():
        try:
            barrier.wait()
            results.append(fn())
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    return results
