"""Protection of the service: request timeout, body size limit, API key comparison.

A request that runs past ``timeout_s`` gets 504 (admission control is in
:mod:`~mindscreen.serving.admission`). The work a timed-out request started runs to its end in its
worker thread; its result is then dropped and never audited: a :class:`Verdict` decides once whether a
request's result is delivered or given up.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import threading
from typing import Any

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


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


class Verdict:
    """Whether a request's result is delivered or given up at its deadline, decided once."""

    def __init__(self) -> None:
        self._lock, self._outcome = threading.Lock(), ""

    def settle(self, outcome: str) -> bool:
        """Decide ``outcome`` (``"delivered"`` or ``"expired"``) unless decided; True if it stands."""
        with self._lock:
            self._outcome = self._outcome or outcome
            return self._outcome == outcome


class TimeoutMiddleware:
    """504 when a request takes longer than ``timeout_s``; later output of that request is dropped.

    A route that has settled its :class:`Verdict` (``scope["state"]["verdict"]``) as delivered before
    the deadline is waited for instead: its result is on its way and already audited.
    """

    def __init__(self, app: ASGIApp, timeout_s: float) -> None:
        self.app, self.timeout_s = app, timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        state = {"started": False, "expired": False}
        verdict = scope.setdefault("state", {})["verdict"] = Verdict()

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
        if task in done or not verdict.settle("expired"):
            return await task
        state["expired"] = True
        task.cancel()
        if not state["started"]:
            await send_json(send, 504, f"the request took longer than {self.timeout_s:g} s; send fewer texts")


def _retrieve(task: asyncio.Future[Any]) -> None:
    """Consume the outcome of an abandoned request, so asyncio does not log it (it may hold the text)."""
    if not task.cancelled():
        task.exception()
