"""The app factory and ``serve``: models load in the lifespan, never at import time.

Privacy: request bodies never reach a log line, an error body or a metric label. Validation errors are
answered with where and what went wrong, without the ``input`` FastAPI would echo; any unexpected error
is answered 500 with a request id and logged by exception type only.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mindscreen import __version__
from mindscreen.pipeline import Pipeline, load_pipeline
from mindscreen.serving.audit import AuditLog
from mindscreen.serving.guards import BodyLimitMiddleware, ConcurrencyGuard, TimeoutMiddleware
from mindscreen.serving.metrics import ROUTES, ServiceMetrics
from mindscreen.serving.routes import router
from mindscreen.serving.schemas import ClassifyRequest
from mindscreen.serving.settings import ServeSettings
from mindscreen.serving.state import ServiceState

logger = logging.getLogger("mindscreen.serving")
_SAFE_LOC = {"body", "query", "path", "header", "cookie", *ClassifyRequest.model_fields}


def create_app(settings: ServeSettings, load: Callable[[], Pipeline] | None = None) -> FastAPI:
    """A FastAPI app serving the pipeline ``settings.model_path`` names (or the one ``load`` returns).

    Args:
        settings: limits, API key and audit log; ``model_path`` unless ``load`` is given.
        load: builds the pipeline at startup instead of :func:`~mindscreen.pipeline.load_pipeline`.
    """
    if load is None and settings.model_path is None:
        raise ValueError("create_app needs settings.model_path (a pipeline or model directory) or load=")
    audit = None
    if settings.audit_log is not None:
        salt = settings.audit_salt.get_secret_value() if settings.audit_salt is not None else None
        audit = AuditLog(settings.audit_log, salt)
    state = ServiceState(settings, ConcurrencyGuard(settings.max_concurrency), ServiceMetrics(), audit)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        started = time.monotonic()
        path = Path(str(settings.model_path))
        state.pipeline = load() if load is not None else load_pipeline(path, settings.allow_failed_int8)
        variant = state.metrics.observe_model(state.pipeline.model)
        logger.info(
            "model %s (%s, check %s) ready in %.1f s",
            state.pipeline.version,
            variant["variant"],
            variant["check"],
            time.monotonic() - started,
        )
        yield
        state.pipeline = None

    app = FastAPI(
        title="mindscreen",
        version=__version__,
        description="Multistage triage of mental-health text. Not a diagnostic tool: a person reviews.",
        lifespan=lifespan,
    )
    app.state.service = state
    app.include_router(router)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected_error)
    app.add_middleware(TimeoutMiddleware, timeout_s=settings.timeout_s)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(AccessMiddleware, metrics=state.metrics)
    return app


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {
            "loc": [part if isinstance(part, int) or part in _SAFE_LOC else "<key>" for part in error["loc"]],
            "msg": error["msg"],
            "type": error["type"],
        }
        for error in exc.errors()
    ]
    return JSONResponse(status_code=422, content={"detail": problems})


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    request_id = getattr(request.state, "request_id", "-")
    logger.error("unexpected %s on %s (request %s)", type(exc).__name__, _route(request.url.path), request_id)
    return JSONResponse(status_code=500, content={"detail": f"internal error; request id {request_id}"})


def _route(path: str) -> str:
    return path if path in ROUTES else "other"


class AccessMiddleware:
    """Request id (``X-Request-ID``), metrics and one log line per request: route, status, time."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started, status = time.perf_counter(), 500

        async def tagged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, tagged)
        finally:
            seconds = time.perf_counter() - started
            self.metrics.observe_request(scope["path"], status, seconds)
            logger.info("%s %s %d %.1f ms", scope["method"], _route(scope["path"]), status, seconds * 1000)


def serve(path: str | Path, host: str = "127.0.0.1", port: int = 8000, **settings: Any) -> None:
    """Serve a pipeline, run, ensemble or linear directory over HTTP with uvicorn until interrupted.

    Args:
        path: what to serve (see :func:`~mindscreen.pipeline.load_pipeline`).
        host: interface to bind; the default answers this machine only.
        port: TCP port.
        settings: :class:`ServeSettings` fields, e.g. ``api_key``, ``max_texts``, ``audit_log``.
    """
    import uvicorn

    config = ServeSettings(model_path=str(path), **settings)
    uvicorn.run(
        create_app(config),
        host=host,
        port=port,
        access_log=False,  # AccessMiddleware logs each request without its query string
        server_header=False,
        timeout_keep_alive=5,
        # Connections past this get 503 from uvicorn itself: a bound below the app's own admission control.
        limit_concurrency=max(64, 8 * config.max_concurrency),
    )
