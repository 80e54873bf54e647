"""Admission control: overload is shed before a request's body is read, never queued without bound.

At most ``max_concurrency`` classify requests are admitted at once; they wait for the one model in
turn. A request past that waits, its body unread and no thread used, up to :data:`QUEUE_WAIT_S` for a
slot in a waiting room of ``16 x max_concurrency``, then gets 429 from :class:`AdmissionMiddleware`;
when the room is full the 429 comes after a short random pause. Refusals thus happen ahead of body
reading, JSON parsing and the thread pool, and clients that retry at once are paced by the wait, so
a crowd of them costs the server little and the model keeps its throughput. A request without the
right API key is refused (401) before it can wait or hold a slot.

``Retry-After`` is drawn at random between 1 and :data:`RETRY_AFTER_MAX_S` seconds, so that clients
which honour it come back spread out rather than together.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
from collections import deque
from collections.abc import Callable, Iterator

from fastapi import HTTPException
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from mindscreen.serving.guards import key_matches, send_json

RETRY_AFTER_MAX_S = 3
QUEUE_WAIT_S = 1.0  # how long a request may wait for a slot before 429
FULL_PAUSE_S = (0.1, 0.5)  # how long a refusal waits when the waiting room is full
CLASSIFY = "/v1/classify"
EXPLAIN = "/v1/explain"
ADMITTED = frozenset({CLASSIFY, EXPLAIN})  # the routes that run the model
BUSY = "the model stayed busy until this request's deadline; retry shortly"
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

    def __init__(self, release: Callable[[], None]) -> None:
        self._release, self._holders, self._lock = release, 1, threading.Lock()

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
                self._release()


class ConcurrencyGuard:
    """Admission slots with a bounded waiting room, counted on the event loop; and one model lock.

    A request finding no free slot waits (its body unread, no thread used) up to ``wait_s`` for one,
    as one of at most ``max_waiting``; a freed slot goes to the longest waiter. When the waiting room
    is full the refusal comes after a short random pause, which paces clients that retry at once.
    """

    def __init__(self, slots: int, wait_s: float = 1.0, max_waiting: int | None = None) -> None:
        self.slots, self.wait_s = slots, wait_s
        self.max_waiting = 16 * slots if max_waiting is None else max_waiting
        self._free = slots
        self._waiters: deque[asyncio.Future[None]] = deque()
        # Hugging Face fast tokenizers are not safe to call from several threads at once, and torch already
        # uses every core for one batch: the model computes one request at a time.
        self._model = threading.Lock()

    async def admit(self) -> Ticket | None:
        """A ticket for a slot, after waiting up to ``wait_s`` when none is free; None: refused."""
        loop = asyncio.get_running_loop()
        if self._free > 0:
            self._free -= 1
            return Ticket(self._releaser(loop))
        if len(self._waiters) >= self.max_waiting:
            await asyncio.sleep(random.uniform(*FULL_PAUSE_S))
            return None
        handed: asyncio.Future[None] = loop.create_future()
        self._waiters.append(handed)
        try:
            await asyncio.wait({handed}, timeout=self.wait_s)
        except BaseException:  # cancelled: the client left or the server stops
            self._withdraw(handed)
            raise
        if handed.done():
            return Ticket(self._releaser(loop))
        self._withdraw(handed)
        return None

    def _withdraw(self, handed: asyncio.Future[None]) -> None:
        """Leave the waiting room; a slot handed over meanwhile is passed on."""
        if handed.done() and not handed.cancelled():
            self._release()
        else:
            handed.cancel()
            self._waiters.remove(handed)

    def _release(self) -> None:
        """Hand a freed slot to the longest waiter, else count it free (on the event loop)."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1

    def _releaser(self, loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
        def release() -> None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: the server is gone
                loop.call_soon_threadsafe(self._release)

        return release

    @property
    def model_lock(self) -> threading.Lock:
        """Held by whatever runs the model (a request's thread, or the micro-batching thread)."""
        return self._model

    @contextlib.contextmanager
    def slot(self, ticket: Ticket | None) -> Iterator[None]:
        """Hold the request's slot while it computes; 503 when it was given up already."""
        if ticket is None or not ticket.join():
            raise HTTPException(status_code=503, detail="the request was not admitted; retry shortly")
        try:
            yield
        finally:
            ticket.leave()

    @contextlib.contextmanager
    def model(self, ticket: Ticket | None, wait_s: float) -> Iterator[None]:
        """Hold the request's slot and the model, waiting at most ``wait_s``; 503 when it stays busy."""
        with self.slot(ticket):
            if not self._model.acquire(timeout=max(wait_s, 0.0)):
                raise HTTPException(status_code=503, detail=BUSY, headers=retry_after())
            try:
                yield
            finally:
                self._model.release()


class AdmissionMiddleware:
    """401 without the key, then 429 past the limit, for the model's routes (``POST /v1/classify`` and
    ``/v1/explain``) before their body is read.

    The admitted request's :class:`Ticket` goes to the route in ``scope["state"]["admission"]``.
    """

    def __init__(self, app: ASGIApp, guard: ConcurrencyGuard, api_key: str | None) -> None:
        self.app, self.guard, self.api_key = app, guard, api_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in ADMITTED or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        if self.api_key is not None and not key_matches(self.api_key, given_key(Headers(scope=scope))):
            return await send_json(send, 401, UNAUTHORIZED, {"WWW-Authenticate": "Bearer"})
        ticket = await self.guard.admit()
        if ticket is None:
            message = f"the service is at its limit of {self.guard.slots} concurrent requests; retry shortly"
            return await send_json(send, 429, message, retry_after())
        scope.setdefault("state", {})["admission"] = ticket
        try:
            await self.app(scope, receive, send)
        finally:
            ticket.leave()
