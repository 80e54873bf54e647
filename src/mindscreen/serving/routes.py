"""The HTTP routes, at module level, with their dependencies as ``Annotated`` aliases.

No ``from __future__ import annotations`` here: FastAPI reads these annotations at import time, and a
string annotation of a dependency alias would not resolve (the endpoint would silently answer 422).
Endpoints that run the model are plain ``def``, so they run in the worker thread pool.
"""

import contextlib
import importlib.util
import logging
import time
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from mindscreen import __version__
from mindscreen.explain import explain
from mindscreen.export.variant import describe_variant
from mindscreen.pipeline import Pipeline, Result
from mindscreen.serving.admission import BUSY, UNAUTHORIZED, given_key, retry_after
from mindscreen.serving.batching import BusyError
from mindscreen.serving.guards import key_matches
from mindscreen.serving.schemas import (
    ClassifyRequest,
    ClassifyResponse,
    ErrorBody,
    ExplainRequest,
    ExplainResponse,
    ModelInfo,
    Status,
    TextExplanation,
    TextResult,
)
from mindscreen.serving.state import ServiceState

logger = logging.getLogger("mindscreen.serving")
router = APIRouter()

_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The service's API key.")
_bearer = HTTPBearer(auto_error=False, description="The service's API key as a bearer token.")
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in {
        401: "Missing or wrong API key.",
        413: "Too many texts, a text too long, or a body too large.",
        422: "The body is not valid, e.g. a text that is not valid Unicode (the input is never echoed).",
        429: "At the concurrency limit; retry after Retry-After seconds.",
        503: "Model loading, busy until the request's deadline, or the audit log cannot be written.",
        504: "The request ran past the timeout.",
    }.items()
}


def get_state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state


State = Annotated[ServiceState, Depends(get_state)]


def require_api_key(
    state: State,
    key: Annotated[str | None, Security(_key_header)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> None:
    given = key if key is not None else (bearer.credentials if bearer is not None else None)
    _check_key(state, given)


def _check_key(state: ServiceState, given: str | None) -> None:
    expected = state.settings.api_key
    if expected is not None and not key_matches(expected.get_secret_value(), given):
        raise HTTPException(status_code=401, detail=UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})


def require_pipeline(state: State) -> Pipeline:
    if state.pipeline is None:
        raise HTTPException(status_code=503, detail="the model is not loaded yet; retry when /readyz is 200")
    return state.pipeline


Authorized = Annotated[None, Depends(require_api_key)]
Ready = Annotated[Pipeline, Depends(require_pipeline)]


@router.post("/v1/classify", response_model=ClassifyResponse, responses=ERRORS, tags=["classify"])
def classify(
    body: ClassifyRequest, request: Request, state: State, _: Authorized, pipeline: Ready
) -> ClassifyResponse:
    """Classify one text or several: labels, probabilities, risk level, deciding stage, review flag."""
    started = time.monotonic()
    settings = state.settings
    texts = body.all_texts()
    _refuse_over_limits(texts, settings.max_texts, settings.max_chars)
    state.metrics.in_flight.inc()
    try:
        wait_s = settings.timeout_s - (time.monotonic() - started)
        with _model_time(state, request):
            results = _run_model(state, request, pipeline, texts, wait_s)
    finally:
        state.metrics.in_flight.dec()
    verdict = getattr(request.state, "verdict", None)
    if verdict is not None and not verdict.settle("delivered"):
        # Answered 504 already: the result is dropped, so it is not audited either.
        raise HTTPException(status_code=504, detail="the request ran past its deadline")
    if state.audit is not None:
        _audit(state, request, pipeline.version, texts, results)
    state.metrics.observe_results(results)
    return ClassifyResponse(
        model_version=pipeline.version, results=[TextResult.model_validate(r.to_dict()) for r in results]
    )


@contextlib.contextmanager
def _model_time(state: ServiceState, request: Request) -> Iterator[None]:
    """Time the request spends waiting for and running the model: ``mindscreen_model_seconds`` and the
    ``model`` entry of its ``Server-Timing`` header (the rest of the request's time is the service's own)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        seconds = time.perf_counter() - started
        request.state.model_seconds = seconds
        state.metrics.model_time.labels(route=request.scope["path"]).observe(seconds)


def _run_model(
    state: ServiceState, request: Request, pipeline: Pipeline, texts: list[str], wait_s: float
) -> list[Result]:
    """The pipeline's results for ``texts``: in a shared batch with micro-batching on, else alone."""
    ticket = getattr(request.state, "admission", None)
    if state.batcher is None:
        with state.guard.model(ticket, wait_s):
            return pipeline.classify(texts)
    with state.guard.slot(ticket):
        try:
            return state.batcher.classify(texts, wait_s)
        except BusyError:
            raise HTTPException(status_code=503, detail=BUSY, headers=retry_after()) from None


def _audit(
    state: ServiceState, request: Request, version: str, texts: list[str], results: list[Result]
) -> None:
    """Record the results, or answer 503 (counted) when the audit log cannot be written."""
    assert state.audit is not None
    try:
        state.audit.record(request.state.request_id, version, texts, results)
    except (OSError, ValueError) as err:
        state.metrics.audit_failures.inc()
        request.state.reject_reason = "audit_failed"
        logger.error("audit log write failed (%s); request answered 503", type(err).__name__)
        raise HTTPException(
            status_code=503,
            detail="the audit log could not be written, so the results are withheld; retry later. "
            "The operator sees this in mindscreen_audit_failures_total",
            headers=retry_after(),
        ) from None


@router.post("/v1/explain", response_model=ExplainResponse, responses=ERRORS, tags=["explain"])
def explain_texts(
    body: ExplainRequest, request: Request, state: State, _: Authorized, pipeline: Ready
) -> ExplainResponse:
    """Which words moved each decision: per text, the decision as classify gives it, a signed score per word
    (character offsets, Unicode code points) for each predicted label, and the crisis-phrase spans.

    Costs about one prediction per word, so fewer texts are taken than by classify (``max_explain_texts``).
    Admitted like classify; nothing of it is logged or audited."""
    started = time.monotonic()
    settings = state.settings
    texts = body.all_texts()
    _refuse_over_limits(texts, settings.max_explain_texts, settings.max_chars)
    unknown = [i for i, label in enumerate(body.labels or []) if label not in pipeline.labels]
    if unknown:
        raise HTTPException(
            status_code=422,
            detail=f"labels at positions {unknown[:10]} are not labels of the model; its labels are: "
            f"{', '.join(pipeline.labels)}",
        )
    method = body.method.value if body.method is not None else None
    if method == "integrated_gradients" and importlib.util.find_spec("captum") is None:
        raise HTTPException(
            status_code=422,
            detail="integrated_gradients needs Captum, which this server lacks (pip install "
            "'mindscreen[explain]'); ask for occlusion instead",
        )
    state.metrics.in_flight.inc()
    try:
        ticket = getattr(request.state, "admission", None)
        wait_s = settings.timeout_s - (time.monotonic() - started)
        with _model_time(state, request), state.guard.model(ticket, wait_s):
            found = explain(pipeline, texts, body.labels, method)
    finally:
        state.metrics.in_flight.dec()
    verdict = getattr(request.state, "verdict", None)
    if verdict is not None and not verdict.settle("delivered"):
        raise HTTPException(status_code=504, detail="the request ran past its deadline")
    return ExplainResponse(
        model_version=pipeline.version, results=[TextExplanation.model_validate(e.to_dict()) for e in found]
    )


def _refuse_over_limits(texts: list[str], max_texts: int, max_chars: int) -> None:
    """413 for more than ``max_texts`` texts or a text over ``max_chars`` characters (positions only)."""
    if len(texts) > max_texts:
        raise HTTPException(
            status_code=413,
            detail=f"the request has {len(texts)} texts; at most {max_texts} per request. Split it",
        )
    too_long = [i for i, text in enumerate(texts) if len(text) > max_chars]
    if too_long:
        raise HTTPException(
            status_code=413,
            detail=f"texts at positions {too_long[:10]} are longer than {max_chars} characters; "
            "shorten or split them",
        )


@router.get("/v1/model", response_model=ModelInfo, responses=ERRORS, tags=["model"])
def model_info(state: State, _: Authorized, pipeline: Ready) -> ModelInfo:
    """Labels, version, thresholds, stages, review and risk settings, limits, the model variant (an
    export's fp32 or int8, with its check) and the fit report."""
    settings = state.settings
    limits = {
        "max_texts": settings.max_texts,
        "max_chars": settings.max_chars,
        "timeout_s": settings.timeout_s,
        "max_concurrency": settings.max_concurrency,
    }
    variant = describe_variant(pipeline.model)
    return ModelInfo.model_validate({**pipeline.describe(), "limits": limits, "model_variant": variant})


@router.get("/healthz", response_model=Status, tags=["health"])
async def healthz() -> Status:
    """The process is up; ``version`` is mindscreen's."""
    return Status(status="ok", version=__version__)


@router.get("/readyz", response_model=Status, responses={503: {"model": Status}}, tags=["health"])
async def readyz(state: State, response: Response) -> Status:
    """200 once the model is loaded and requests can be served; 503 before."""
    if state.pipeline is None:
        response.status_code = 503
        return Status(status="loading")
    return Status(status="ready", version=state.pipeline.version)


@router.get("/metrics", include_in_schema=False)
async def metrics(state: State, request: Request) -> Response:
    """Prometheus metrics in the text exposition format; who may read them is ``settings.metrics``."""
    access = state.settings.metrics
    if access == "off":
        raise HTTPException(status_code=404, detail="metrics are off (serve with --metrics key or public)")
    if access == "key":
        _check_key(state, given_key(request.headers))
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
