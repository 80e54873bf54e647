"""Running the app with uvicorn, hardened against clients that hold connections without using them.

uvicorn alone never times out a connection that sends its request headers slowly, and its
``limit_concurrency`` counts such connections: a few dozen slow clients made every request, ``/healthz``
included, answer 503. Here uvicorn's HTTP/1.1 protocol (h11) gets two guards instead:

- **header deadline**: a connection must deliver a request's complete headers within
  ``header_timeout_s`` of connecting, or of its first byte after a response; else it is closed;
- **connection cap**: past ``max_connections`` open connections, the one that has waited longest
  without a request in progress is closed to make room, so a crowd of idle or slow connections
  cannot keep a new client out (a connection whose request is being served is never closed).

Idle keep-alive connections close after 5 s; request headers are limited to 16 KiB. Work in progress is
bounded by admission control (:mod:`~mindscreen.serving.admission`), not by counting connections. In
production, put a reverse proxy with its own timeouts in front (docs/serving.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol

from mindscreen.serving.app import create_app
from mindscreen.serving.settings import ServeSettings
from mindscreen.serving.startup import StartupError

logger = logging.getLogger("mindscreen.serving")

KEEP_ALIVE_S = 5
MAX_HEADER_BYTES = 16 * 1024


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for request headers and a cap on open connections."""

    header_timeout_s = 10.0
    max_connections = 1024

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._deadline: asyncio.TimerHandle | None = None
        self._waiting_since = time.monotonic()
        self._arm_deadline()
        self._make_room()

    def data_received(self, data: bytes) -> None:
        if self._deadline is None and self._waiting():
            self._waiting_since = time.monotonic()
            self._arm_deadline()
        super().data_received(data)
        if not self._waiting():
            self._disarm_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_deadline()
        super().connection_lost(exc)

    def _waiting(self) -> bool:
        """No request in progress: before the first one, or between a response and the next request."""
        return self.cycle is None or self.cycle.response_complete

    def _arm_deadline(self) -> None:
        self._deadline = self.loop.call_later(self.header_timeout_s, self._on_deadline)

    def _disarm_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _on_deadline(self) -> None:
        self._deadline = None
        if self._waiting() and not self.transport.is_closing():
            self.transport.close()

    def _make_room(self) -> None:
        """Past the cap, close the connection waiting longest without a request (this one if none)."""
        live = [
            other
            for other in self.connections
            if isinstance(other, GuardedH11Protocol) and not other.transport.is_closing()
        ]
        if len(live) <= self.max_connections:
            return
        waiting = [other for other in live if other is not self and other._waiting()]
        victim = min(waiting, key=lambda other: other._waiting_since, default=self)
        victim.transport.close()


def guarded_protocol(settings: ServeSettings) -> type[GuardedH11Protocol]:
    """A :class:`GuardedH11Protocol` class with the settings' header deadline and connection cap."""
    return type(
        "GuardedH11Protocol",
        (GuardedH11Protocol,),
        {"header_timeout_s": settings.header_timeout_s, "max_connections": settings.max_connections},
    )


def build_server(
    app: FastAPI, settings: ServeSettings, host: str = "127.0.0.1", port: int = 8000, **options: Any
) -> uvicorn.Server:
    """A uvicorn server for ``app`` with the guarded protocol and the service's settings.

    Args:
        app: the app from :func:`~mindscreen.serving.create_app`.
        settings: the same settings (header deadline, connection cap).
        host: interface to bind.
        port: TCP port.
        options: further :class:`uvicorn.Config` arguments (e.g. ``log_level``).
    """
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=guarded_protocol(settings),
        access_log=False,  # AccessMiddleware logs each request without its query string
        server_header=False,
        timeout_keep_alive=KEEP_ALIVE_S,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        limit_concurrency=None,  # it would count idle connections; admission control bounds the work
        **options,
    )
    return uvicorn.Server(config)


def serve(path: str | Path, host: str = "127.0.0.1", port: int = 8000, **settings: Any) -> None:
    """Serve a pipeline, run, ensemble or linear directory over HTTP with uvicorn until interrupted.

    Args:
        path: what to serve (see :func:`~mindscreen.pipeline.load_pipeline`).
        host: interface to bind; the default answers this machine only.
        port: TCP port.
        settings: :class:`ServeSettings` fields, e.g. ``api_key``, ``max_texts``, ``audit_log``.

    Raises:
        StartupError: start-up failed (model, self-check or audit log); nothing was served.
    """
    config = ServeSettings(model_path=str(path), **settings)
    app = create_app(config)
    server = build_server(app, config, host, port)
    try:
        server.run()
    except SystemExit:  # uvicorn exits this way when start-up fails
        if server.started:
            raise
    if not server.started:
        reason = app.state.service.startup_error or "uvicorn could not start; see the log above"
        raise StartupError(f"the service did not start: {reason}")
