"""Telemetry in background batches: a bounded queue, one thread, never blocking the caller.

``report`` puts an event on a bounded queue without waiting; when the queue is full (Vigil slow
or unreachable for long) the event is dropped and ``dropped`` counts it. The sender thread posts
batches of up to ``batch_size`` events (or what arrived within ``flush_interval``) to
``POST /api/v1/telemetry``; a batch Vigil cannot take (unreachable, 5xx) is dropped and counted,
never retried forever, so memory stays bounded.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

from vigil_failover.vigil import VigilUnreachable, request_json

log = logging.getLogger("vigil_failover")


class TelemetryReporter:
    def __init__(
        self,
        *,
        vigil_url: str,
        token: str,
        batch_size: int = 100,
        flush_interval: float = 1.0,
        max_queue: int = 10_000,
        timeout: float = 2.0,
    ) -> None:
        self.url = vigil_url.rstrip("/") + "/api/v1/telemetry"
        self.token = token
        self.batch_size = max(1, min(batch_size, 1000))
        self.flush_interval = flush_interval
        self.timeout = timeout
        self.queue: queue.Queue = queue.Queue(maxsize=max_queue)
        self.sent = 0
        self.dropped = 0
        self.rejected = 0
        self._lock = threading.Lock()
        # Events queued or in flight; flush() waits for it to reach zero.
        self._pending = 0
        self._settled = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vigil-telemetry", daemon=True)
        self._thread.start()

    def report(self, event: dict) -> None:
        """Queue one event; never blocks. A full queue drops it (counted in ``dropped``)."""
        with self._lock:
            self._pending += 1
        try:
            self.queue.put_nowait(event)
        except queue.Full:
            with self._lock:
                self.dropped += 1
                self._pending -= 1

    def _take_batch(self) -> list[dict]:
        try:
            first = self.queue.get(timeout=self.flush_interval)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.flush_interval
        while len(batch) < self.batch_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                batch.append(self.queue.get(timeout=min(remaining, 0.05)))
            except queue.Empty:
                if self.queue.empty():
                    break
        return batch

    def _send(self, batch: list[dict]) -> None:
        try:
            status, body, _ = request_json(
                "POST", self.url, token=self.token, body={"events": batch}, timeout=self.timeout
            )
        except VigilUnreachable as exc:
            with self._lock:
                self.dropped += len(batch)
            log.warning("Vigil unreachable, %d telemetry events dropped: %s", len(batch), exc)
            return
        with self._lock:
            if status == 202 and isinstance(body, dict):
                self.sent += body.get("accepted", 0)
                self.rejected += len(body.get("rejected", []))
            else:
                self.dropped += len(batch)
                log.warning("Vigil refused a telemetry batch (HTTP %s): %s", status, body)

    def _run(self) -> None:
        while not self._stop.is_set():
            batch = self._take_batch()
            if not batch:
                continue
            try:
                self._send(batch)
            finally:
                with self._settled:
                    self._pending -= len(batch)
                    self._settled.notify_all()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far was sent or dropped (for shutdown and tests)."""
        with self._settled:
            return self._settled.wait_for(lambda: self._pending == 0, timeout=timeout)

    def close(self, timeout: float = 5.0) -> None:
        self.flush(timeout)
        self._stop.set()
        self._thread.join(timeout=timeout)
