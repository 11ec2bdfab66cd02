"""A real HTTP target on 127.0.0.1 whose behaviour a test switches at will."""

from __future__ import annotations

import asyncio
import threading
from ipaddress import ip_network

import pytest
from aiohttp import web

from monitoring import checks


class Target:
    """aiohttp.web server in a background thread: healthy, slow, failing, hanging, trickling or gone."""

    def __init__(self) -> None:
        self.mode = "healthy"
        self.slow_seconds = 0.0
        self.body = "ok"
        self.content_type = "text/plain"
        self.hits = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._site = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._call(self._start())

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.hits += 1
        if self.mode == "failing":
            return web.Response(status=500, text="internal error")
        if self.mode == "hanging":
            await asyncio.sleep(3600)
        if self.mode == "slow":
            await asyncio.sleep(self.slow_seconds)
        if self.mode == "trickling":
            response = web.StreamResponse(headers={"Content-Type": "text/plain"})
            await response.prepare(request)
            while True:  # one byte every 100 ms, forever
                await response.write(b".")
                await asyncio.sleep(0.1)
        if self.mode == "redirecting":  # /hops/N redirects to /hops/N-1 ... /hops/0 answers
            hops = int(request.match_info["tail"].rsplit("/", 1)[-1] or 0)
            if hops > 0:
                raise web.HTTPFound(f"/hops/{hops - 1}")
        if self.mode == "redirect-private":
            raise web.HTTPFound("http://10.0.0.1/")
        return web.Response(text=self.body, content_type=self.content_type)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await self._site.start()
        self.port = self._site._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/health"

    def gone(self) -> None:
        """Stop listening: connections are refused until ``back()``."""
        self._call(self._stop())

    def back(self) -> None:
        self.mode = "healthy"
        self._call(self._start())

    def close(self) -> None:
        self._call(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)


@pytest.fixture
def loopback_allowed(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = [ip_network("127.0.0.0/8")]


@pytest.fixture
def target(loopback_allowed):
    server = Target()
    yield server
    server.close()
    # Pooled keep-alive connections point at this server's port: start the next test clean.
    checks.close_runner()
