"""A total deadline per model call, not only a timeout per socket read.

The provider SDKs (``openai``, ``anthropic``) take a timeout that applies to each connect, read
and write on the socket: a server that trickles its answer a byte at a time, each within the
timeout, keeps the call going long past the avatar's threshold. Here the SDK gets an HTTP client
whose network streams bound every read and write by the time left until the call's deadline
(``within(deadline)``), so the call ends with the SDK's own timeout error when the deadline
passes, whatever the server does.

The SDKs' HTTP library (httpx, or the fork a given SDK release ships) exposes the connection
pool's network backend only as an attribute of its transport; ``http_client_for`` installs the
wrapper there and, should a release lay things out differently, returns None: the call then
keeps the SDK's per-read timeout, and ``supported`` says so.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import logging
import time

log = logging.getLogger("vigil_failover")

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "vigil_failover_deadline", default=None
)
# A read or write when the deadline has passed: short enough to fail at once, but still a real
# socket operation, so the SDK raises its own timeout error.
_EXPIRED = 1e-6


@contextlib.contextmanager
def within(deadline: float):
    """Bound the network operations of SDK calls in this block by ``deadline`` (monotonic)."""
    token = _deadline.set(deadline)
    try:
        yield
    finally:
        _deadline.reset(token)


def _bounded(timeout: float | None) -> float | None:
    deadline = _deadline.get()
    if deadline is None:
        return timeout
    left = max(deadline - time.monotonic(), _EXPIRED)
    return left if timeout is None else min(timeout, left)


class _Stream:
    def __init__(self, stream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _bounded(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _bounded(timeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        return _Stream(self._stream.start_tls(ssl_context, server_hostname, _bounded(timeout)))

    def get_extra_info(self, info: str):
        return self._stream.get_extra_info(info)


class _Backend:
    def __init__(self, backend) -> None:
        self._backend = backend

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        return _Stream(
            self._backend.connect_tcp(
                host, port, timeout=_bounded(timeout), local_address=local_address,
                socket_options=socket_options,
            )
        )  # fmt: skip

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        return _Stream(
            self._backend.connect_unix_socket(
                path, timeout=_bounded(timeout), socket_options=socket_options
            )
        )

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


supported = True


def http_client_for(sdk_module, timeout: float):
    """An HTTP client for ``sdk_module`` (``openai`` or ``anthropic``) honouring ``within``,
    or None when this SDK's HTTP library does not offer the hook."""
    global supported
    try:
        default_client = sdk_module.DefaultHttpxClient
        http = importlib.import_module(default_client.__mro__[1].__module__.split(".")[0])
        transport = http.HTTPTransport()
        pool = transport._pool
        backend = pool._network_backend
        if not hasattr(backend, "connect_tcp"):
            raise TypeError("no network backend")
        pool._network_backend = _Backend(backend)
        return default_client(transport=transport, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - keep the per-read timeout, say it once
        if supported:
            log.warning("total call deadline unavailable (%s); the SDK's read timeout applies", exc)
        supported = False
        return None
