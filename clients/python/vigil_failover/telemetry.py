"""Telemetry in background batches: a bounded queue, one thread, never blocking the caller.

``report`` appends an event to a bounded queue without a lock or a wake-up; when the queue is
full (Vigil slow or unreachable for long) the event is dropped and ``dropped`` counts it. The
sender thread posts batches of up to ``batch_size`` events (or what arrived within
``flush_interval``) to
``POST /api/v1/telemetry``; a batch Vigil cannot take (unreachable, 5xx) is dropped and counted,
never retried forever, so memory stays bounded.
"""

from __future__ import annotations

import logging
import threading
from collections import deque

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
        self.max_queue = max(1, max_queue)
        # A deque, not a queue.Queue: appending takes no lock and wakes no thread, so a model
        # call pays next to nothing for its event. The sender wakes every flush_interval, or
        # once a full batch is waiting.
        self._events: deque[dict] = deque()
        self.sent = 0
        self.dropped = 0
        self.rejected = 0
        self._lock = threading.Lock()
        self._settled = threading.Condition(self._lock)
        self._busy = False  # the sender holds events it took off the deque
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vigil-telemetry", daemon=True)
        self._thread.start()

    def report(self, event: dict) -> None:
        """Queue one event; never blocks. A full queue drops it (counted in ``dropped``)."""
        queued = len(self._events)
        if queued >= self.max_queue:
            with self._lock:
                self.dropped += 1
            return
        self._events.append(event)
        if queued + 1 == self.batch_size:
            self._wake.set()

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

    def _drain(self) -> None:
        """Send everything queued, in batches of at most batch_size."""
        while True:
            with self._settled:
                if not self._events:
                    self._busy = False
                    self._settled.notify_all()
                    return
                self._busy = True
            batch = []
            while self._events and len(batch) < self.batch_size:
                batch.append(self._events.popleft())
            self._send(batch)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            try:
                self._drain()
            except Exception:  # noqa: BLE001 - the sender must outlive any one batch
                log.exception("telemetry sender failed; continuing")
                with self._settled:
                    self._busy = False
                    self._settled.notify_all()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far was sent or dropped (for shutdown and tests)."""
        self._wake.set()
        with self._settled:
            return self._settled.wait_for(
                lambda: not self._events and not self._busy, timeout=timeout
            )

    def close(self, timeout: float = 5.0) -> None:
        self.flush(timeout)
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=timeout)
