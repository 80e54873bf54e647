"""The app factory: models load in the lifespan, never at import time.

Privacy: request bodies never reach a log line, an error body or a metric label. Validation errors are
answered with where and what went wrong, without the ``input`` FastAPI would echo; any unexpected error
is answered 500 with a request id and logged by exception type only, in one line, without a traceback.

Middleware, outermost first: access log and metrics, admission (401 / 429 before the body is read), body
size limit, timeout (504), then FastAPI.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mindscreen import __version__
from mindscreen.pipeline import Pipeline
from mindscreen.serving.admission import QUEUE_WAIT_S, AdmissionMiddleware, ConcurrencyGuard
from mindscreen.serving.audit import AuditLog
from mindscreen.serving.batching import MicroBatcher
from mindscreen.serving.guards import BodyLimitMiddleware, TimeoutMiddleware
from mindscreen.serving.metrics import ROUTES, ServiceMetrics
from mindscreen.serving.routes import router
from mindscreen.serving.schemas import ClassifyRequest, ExplainRequest
from mindscreen.serving.settings import ServeSettings
from mindscreen.serving.startup import start
from mindscreen.serving.state import ServiceState

logger = logging.getLogger("mindscreen.serving")
# The access log names these methods; any other is logged as OTHER (a method is any token, of any length).
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
_SAFE_LOC = {
    "body",
    "query",
    "path",
    "header",
    "cookie",
    *ClassifyRequest.model_fields,
    *ExplainRequest.model_fields,
}


def create_app(settings: ServeSettings, load: Callable[[], Pipeline] | None = None) -> FastAPI:
    """A FastAPI app serving the pipeline ``settings.model_path`` names (or the one ``load`` returns).

    At start-up (the lifespan) it checks the audit log, loads the pipeline and classifies a warm-up
    text (:mod:`~mindscreen.serving.startup`); any failure stops it before it reports ready.

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
    guard = ConcurrencyGuard(settings.max_concurrency, wait_s=min(QUEUE_WAIT_S, settings.timeout_s))
    state = ServiceState(settings, guard, ServiceMetrics(), audit)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.pipeline = start(state, load)
        if settings.batch_window_ms is not None:
            window_s, limit = settings.batch_window_ms / 1000, settings.max_texts
            state.batcher = MicroBatcher(state.pipeline.classify, guard.model_lock, window_s, limit).start()
        yield
        if state.batcher is not None:
            state.batcher.stop()
        state.pipeline, state.batcher = None, None

    app = _ContainedApp(
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
    key = settings.api_key.get_secret_value() if settings.api_key is not None else None
    app.add_middleware(AdmissionMiddleware, guard=state.guard, api_key=key)
    app.add_middleware(AccessMiddleware, metrics=state.metrics)
    return app


class _ContainedApp(FastAPI):
    """FastAPI whose unexpected errors end at the 500 answer and its one log line.

    Starlette re-raises an error after its handler has answered 500, and uvicorn then logs the whole
    traceback, whose frames and message may hold a text. Here the error stops after the handler.
    """

    def build_middleware_stack(self) -> ASGIApp:
        return _ContainErrors(super().build_middleware_stack())


class _ContainErrors:
    """Ends errors where they were answered: a request's at its 500, start-up's at its log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return await self.app(scope, receive, _without_traceback(send))
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        # Already answered 500 and logged by type by _unexpected_error.
        with contextlib.suppress(Exception):
            await self.app(scope, receive, send)


def _without_traceback(send: Send) -> Send:
    """Drop the traceback Starlette reports with a failed start-up: ``start`` logged why, in one line."""

    async def quiet(message: Message) -> None:
        if message["type"] == "lifespan.startup.failed":
            message = {**message, "message": ""}
        await send(message)

    return quiet


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


def _server_timing(scope: Scope, app_seconds: float) -> bytes:
    """``Server-Timing`` value: ``model;dur=MS, app;dur=MS`` (``model`` only when the model ran)."""
    model_seconds = scope.get("state", {}).get("model_seconds")
    model = "" if model_seconds is None else f"model;dur={model_seconds * 1000:.2f}, "
    return f"{model}app;dur={app_seconds * 1000:.2f}".encode()


def _route(path: str) -> str:
    return path if path in ROUTES else "other"


class AccessMiddleware:
    """Request id (``X-Request-ID``), metrics and one log line per request: route, status, time.

    Answers carry a ``Server-Timing`` header: ``app``, the time from the request's arrival here to its
    answer, and for requests that ran the model, ``model``, the part spent waiting for and running it;
    ``app`` minus ``model`` is the service's own overhead for that request.
    """

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
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                    (b"server-timing", _server_timing(scope, time.perf_counter() - started)),
                ]
            await send(message)

        try:
            await self.app(scope, receive, tagged)
        finally:
            seconds = time.perf_counter() - started
            reason = scope.get("state", {}).get("reject_reason")
            self.metrics.observe_request(scope["path"], status, seconds, reason)
            method = scope["method"] if scope["method"] in METHODS else "OTHER"
            logger.info("%s %s %d %.1f ms", method, _route(scope["path"]), status, seconds * 1000)
