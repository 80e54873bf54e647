"""Protection of the service: admission control, request timeout, body size limit, API key.

Overload is refused, never queued without bound: at most ``max_concurrency`` classify requests are
admitted (the rest get 429 with ``Retry-After``), a request that cannot reach the model before its
deadline gets 503, and one that runs past ``timeout_s`` gets 504. The work a timed-out request started
runs to its end in its worker thread and keeps its admission slot until then, so the limit holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import threading
from collections.abc import Iterator
from typing import Any

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

RETRY_AFTER_S = 1


class ConcurrencyGuard:
    """A fixed number of admission slots, taken without waiting, and one model lock."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self._free = threading.BoundedSemaphore(slots)
        # Hugging Face fast tokenizers are not safe to call from several threads at once, and torch already
        # uses every core for one batch: the model computes one request at a time.
        self._model = threading.Lock()

    @contextlib.contextmanager
    def admit(self) -> Iterator[None]:
        """Take a slot or raise 429 at once."""
        if not self._free.acquire(blocking=False):
            raise HTTPException(
                status_code=429,
                detail=f"the service is at its limit of {self.slots} concurrent requests; retry shortly",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        try:
            yield
        finally:
            self._free.release()

    @contextlib.contextmanager
    def model(self, wait_s: float) -> Iterator[None]:
        """Hold the model, waiting at most ``wait_s``; 503 when it stays busy that long."""
        if not self._model.acquire(timeout=max(wait_s, 0.0)):
            raise HTTPException(
                status_code=503,
                detail="the model stayed busy until this request's deadline; retry shortly",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        try:
            yield
        finally:
            self._model.release()


def key_matches(expected: str, given: str | None) -> bool:
    """Constant-time comparison of API keys."""
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


async def send_json(send: Send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """413 for a body over ``max_bytes``: by Content-Length up front, else counted as it arrives."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        message = f"request body over the limit of {self.max_bytes} bytes; send fewer or shorter texts"
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            return await send_json(send, 413, message)
        received = 0

        async def counted() -> Message:
            nonlocal received
            event = await receive()
            received += len(event.get("body", b""))
            if received > self.max_bytes:
                raise HTTPException(status_code=413, detail=message)
            return event

        await self.app(scope, counted, send)


class TimeoutMiddleware:
    """504 when a request takes longer than ``timeout_s``; later output of that request is dropped."""

    def __init__(self, app: ASGIApp, timeout_s: float) -> None:
        self.app, self.timeout_s = app, timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        state = {"started": False, "expired": False}

        async def guarded(message: Message) -> None:
            if state["expired"]:
                return
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        task = asyncio.ensure_future(self.app(scope, receive, guarded))
        task.add_done_callback(_retrieve)
        try:
            done, _ = await asyncio.wait({task}, timeout=self.timeout_s)
        except asyncio.CancelledError:  # the server is shutting down or the client went away
            task.cancel()
            raise
        if task in done:
            return task.result()
        state["expired"] = True
        task.cancel()
        scope.setdefault("state", {})["timed_out"] = True
        if not state["started"]:
            await send_json(send, 504, f"the request took longer than {self.timeout_s:g} s; send fewer texts")


def _retrieve(task: asyncio.Future[Any]) -> None:
    """Consume the outcome of an abandoned request, so asyncio does not log it (it may hold the text)."""
    if not task.cancelled():
        task.exception()
