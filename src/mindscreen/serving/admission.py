"""Admission control: overload is shed before a request's body is read, never queued without bound.

At most ``max_concurrency`` classify requests are admitted at once; they wait for the one model in
turn, so the admitted requests are the only queue. Everything past that gets 429 at once from
:class:`AdmissionMiddleware`, ahead of body reading, JSON parsing and the thread pool, so a crowd of
clients that retry immediately costs the server little and the model keeps its throughput. A request
without the right API key is refused the same way (401) before it can hold a slot.

``Retry-After`` is drawn at random between 1 and :data:`RETRY_AFTER_MAX_S` seconds, so that clients
which honour it come back spread out rather than together.
"""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Iterator

from fastapi import HTTPException
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from mindscreen.serving.guards import key_matches, send_json

RETRY_AFTER_MAX_S = 3
CLASSIFY = "/v1/classify"
UNAUTHORIZED = "missing or wrong API key; send it as 'X-API-Key: KEY' or 'Authorization: Bearer KEY'"


def retry_after() -> dict[str, str]:
    """A ``Retry-After`` header of 1 to :data:`RETRY_AFTER_MAX_S` seconds, at random."""
    return {"Retry-After": str(random.randint(1, RETRY_AFTER_MAX_S))}


def given_key(headers: Headers) -> str | None:
    """The API key of a request: ``X-API-Key``, else the token of ``Authorization: Bearer``."""
    key = headers.get("x-api-key")
    if key is not None:
        return key
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class Ticket:
    """One admission slot, held by the middleware and, while it computes, by the route's thread.

    The slot is freed when the last holder lets go: a request answered 504 keeps its slot until its
    worker thread has finished, so the limit counts the work actually running.
    """

    def __init__(self, free: threading.BoundedSemaphore) -> None:
        self._free, self._holders, self._lock = free, 1, threading.Lock()

    def join(self) -> bool:
        """Hold the slot too; False when it was already freed (the request was given up)."""
        with self._lock:
            if self._holders == 0:
                return False
            self._holders += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self._holders -= 1
            if self._holders == 0:
                self._free.release()


class ConcurrencyGuard:
    """A fixed number of admission slots, taken without waiting, and one model lock."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self._free = threading.BoundedSemaphore(slots)
        # Hugging Face fast tokenizers are not safe to call from several threads at once, and torch already
        # uses every core for one batch: the model computes one request at a time.
        self._model = threading.Lock()

    def admit(self) -> Ticket | None:
        """A ticket for a free slot, or None at the limit."""
        return Ticket(self._free) if self._free.acquire(blocking=False) else None

    @contextlib.contextmanager
    def model(self, ticket: Ticket | None, wait_s: float) -> Iterator[None]:
        """Hold the request's slot and the model, waiting at most ``wait_s``; 503 when it stays busy."""
        if ticket is None or not ticket.join():
            raise HTTPException(status_code=503, detail="the request was not admitted; retry shortly")
        try:
            if not self._model.acquire(timeout=max(wait_s, 0.0)):
                raise HTTPException(
                    status_code=503,
                    detail="the model stayed busy until this request's deadline; retry shortly",
                    headers=retry_after(),
                )
            try:
                yield
            finally:
                self._model.release()
        finally:
            ticket.leave()


class AdmissionMiddleware:
    """401 without the key, then 429 past the limit, for ``POST /v1/classify`` before its body is read.

    The admitted request's :class:`Ticket` goes to the route in ``scope["state"]["admission"]``.
    """

    def __init__(self, app: ASGIApp, guard: ConcurrencyGuard, api_key: str | None) -> None:
        self.app, self.guard, self.api_key = app, guard, api_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != CLASSIFY or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        if self.api_key is not None and not key_matches(self.api_key, given_key(Headers(scope=scope))):
            return await send_json(send, 401, UNAUTHORIZED, {"WWW-Authenticate": "Bearer"})
        ticket = self.guard.admit()
        if ticket is None:
            message = f"the service is at its limit of {self.guard.slots} concurrent requests; retry shortly"
            return await send_json(send, 429, message, retry_after())
        scope.setdefault("state", {})["admission"] = ticket
        try:
            await self.app(scope, receive, send)
        finally:
            ticket.leave()
