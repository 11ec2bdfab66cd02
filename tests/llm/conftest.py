"""Real model servers on 127.0.0.1 speaking the OpenAI and Anthropic wire formats, and a webhook
receiver. Each runs aiohttp.web in a background thread; a test switches its behaviour at will.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from ipaddress import ip_network

import pytest
from aiohttp import web

from monitoring import checks


class _Server:
    def __init__(self) -> None:
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._call(self._start())

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def _start(self) -> None:
        app = web.Application()
        self.routes(app)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    def close(self) -> None:
        async def stop():
            if self._runner is not None:
                await self._runner.cleanup()

        with contextlib.suppress(Exception):  # a hanging handler may still be sleeping
            self._call(stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)


class ModelServer(_Server):
    """Answers ``POST /v1/chat/completions`` (OpenAI) and ``POST /v1/messages`` (Anthropic).

    mode: healthy | slow (answers after ``delay`` seconds) | rate_limited (429) | failing (500)
    | overloaded (529) | wrong (answers something else) | garbage (not the wire format)
    | trickle (a well-formed answer, one byte every ``delay`` seconds: no single read waits
    long, the whole answer does).
    """

    def __init__(self, answer: str = "pong") -> None:
        self.mode = "healthy"
        self.delay = 0.0
        self.answer = answer
        self.hits = 0
        self.requests: list[dict] = []
        super().__init__()

    @property
    def openai_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def anthropic_base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._openai)
        app.router.add_post("/v1/messages", self._anthropic)

    async def _common(self, request: web.Request, anthropic: bool):
        self.hits += 1
        body = await request.json()
        self.requests.append({"headers": dict(request.headers), "body": body})
        if self.mode == "slow":
            await asyncio.sleep(self.delay)
        if self.mode == "rate_limited":
            if anthropic:
                error = {
                    "type": "error",
                    "error": {"type": "rate_limit_error", "message": "Rate limited"},
                }
            else:
                error = {
                    "error": {
                        "message": "Rate limit reached",
                        "type": "requests",
                        "code": "rate_limit_exceeded",
                    }
                }
            return body, web.json_response(error, status=429, headers={"retry-after": "1"})
        if self.mode == "failing":
            return body, web.json_response(
                {"error": {"message": "boom", "type": "server_error"}}, status=500
            )
        if self.mode == "overloaded":
            return body, web.json_response(
                {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
                status=529,
            )
        if self.mode == "garbage":
            return body, web.Response(text="<html>gateway</html>", content_type="text/html")
        return body, None

    def _text(self) -> str:
        return "something else entirely" if self.mode == "wrong" else self.answer

    async def _trickle(self, request: web.Request, payload: dict) -> web.StreamResponse:
        data = json.dumps(payload).encode()
        response = web.StreamResponse(
            headers={"Content-Type": "application/json", "Content-Length": str(len(data))}
        )
        await response.prepare(request)
        for i in range(len(data)):
            await response.write(data[i : i + 1])
            await asyncio.sleep(self.delay)
        return response

    async def _openai(self, request: web.Request) -> web.StreamResponse:
        body, early = await self._common(request, anthropic=False)
        if early is not None:
            return early
        text = self._text()
        if self.mode == "trickle":
            return await self._trickle(
                request,
                {
                    "id": "chatcmpl-1", "object": "chat.completion", "created": 0,
                    "model": body["model"],
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                 "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
                },
            )  # fmt: skip
        created = int(time.time())
        if body.get("stream"):
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await response.prepare(request)
            for piece in (text[: len(text) // 2], text[len(text) // 2 :]):
                chunk = {
                    "id": "chatcmpl-1",
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": body["model"],
                    "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
                }
                await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
            await response.write(b"data: [DONE]\n\n")
            return response
        return web.json_response(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": created,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
            }
        )

    async def _anthropic(self, request: web.Request) -> web.StreamResponse:
        body, early = await self._common(request, anthropic=True)
        if early is not None:
            return early
        text = self._text()
        if body.get("stream"):
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await response.prepare(request)
            events = [
                (
                    "message_start",
                    {
                        "type": "message_start",
                        "message": {
                            "id": "msg_1",
                            "type": "message",
                            "role": "assistant",
                            "content": [],
                            "model": body["model"],
                            "usage": {"input_tokens": 12, "output_tokens": 0},
                        },
                    },
                ),
                (
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": 0,
                        "content_block": {"type": "text", "text": ""},
                    },
                ),
                (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": text},
                    },
                ),
                ("content_block_stop", {"type": "content_block_stop", "index": 0}),
                (
                    "message_delta",
                    {
                        "type": "message_delta",
                        "delta": {"stop_reason": "end_turn"},
                        "usage": {"output_tokens": 3},
                    },
                ),
                ("message_stop", {"type": "message_stop"}),
            ]
            for name, data in events:
                await response.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
            return response
        return web.json_response(
            {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn",
                "usage": {"input_tokens": 12, "output_tokens": 3},
            }
        )


class WebhookReceiver(_Server):
    """Records every POST (headers and raw body); answers ``status``."""

    def __init__(self) -> None:
        self.received: list[tuple[dict, bytes]] = []
        self.status = 200
        super().__init__()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def routes(self, app: web.Application) -> None:
        async def hook(request: web.Request) -> web.Response:
            self.received.append((dict(request.headers), await request.read()))
            return web.Response(status=self.status, text="ok")

        app.router.add_post("/hook", hook)


@pytest.fixture(autouse=True)
def _fresh_route_access():
    from llm.api import forget_route_access

    forget_route_access()
    yield
    forget_route_access()


@pytest.fixture
def loopback_allowed(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = [ip_network("127.0.0.0/8")]


@pytest.fixture
def model_server(loopback_allowed):
    servers = []

    def make(answer: str = "pong") -> ModelServer:
        server = ModelServer(answer)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()
    checks.close_runner()


@pytest.fixture
def webhook_receiver(loopback_allowed):
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()
