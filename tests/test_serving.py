"""The HTTP service, driven over real HTTP against uvicorn on 127.0.0.1 (no test client, no mocks)."""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pytest
import uvicorn

from mindscreen.pipeline import Pipeline, Policy, load_pipeline
from mindscreen.serving import ServeSettings, create_app

KEY = "test-key-0123456789"
# A distinctive text that must never come back in an error, a log line or the audit log.
SECRET = "zebra-quartz-7731 I have been feeling hopeless about everything"


@contextmanager
def live_server(settings: ServeSettings, load: Callable[[], Pipeline] | None) -> Iterator[str]:
    """uvicorn in a thread on a free loopback port; yields the base URL once /readyz answers 200."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = uvicorn.Config(create_app(settings, load), log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not become ready")
        time.sleep(0.05)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


class SlowModel:
    """A stub stage-2 model that takes ``delay`` seconds per call."""

    labels = ["neutral", "stress", "suicidal_ideation"]
    multi_label = True
    thresholds = np.full(3, 0.5)

    def __init__(self, delay: float) -> None:
        self.delay = delay

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        time.sleep(self.delay)
        return np.tile([0.8, 0.3, 0.05], (len(texts), 1))


def slow_pipeline(delay: float) -> Pipeline:
    model = SlowModel(delay)
    policy = Policy.build(model.labels, True, ["suicidal_ideation"], ["neutral"])
    return Pipeline(model, policy, model.thresholds, version="slow-1")


@pytest.fixture(scope="module")
def audit_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("audit") / "audit.jsonl"


@pytest.fixture(scope="module")
def server(trained_run: Path, audit_path: Path) -> Iterator[str]:
    settings = ServeSettings(
        max_texts=8,
        max_chars=300,
        api_key=KEY,
        audit_log=str(audit_path),
        audit_salt="pepper",
        max_concurrency=8,
    )
    with live_server(settings, lambda: load_pipeline(trained_run)) as base:
        yield base


@pytest.fixture()
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, headers={"X-API-Key": KEY}, timeout=30) as http:
        yield http


def test_classify_answers_one_text_and_many_texts_in_order(client: httpx.Client) -> None:
    one = client.post("/v1/classify", json={"text": "exams next week and i cannot sleep"})
    many = client.post(
        "/v1/classify", json={"texts": ["a calm walk", "i want to kill myself", "work deadlines"]}
    )

    assert one.status_code == 200 and many.status_code == 200
    assert len(one.json()["results"]) == 1 and len(many.json()["results"]) == 3
    result = many.json()["results"][1]
    assert (
        result["risk"] == "crisis" and result["stage"] == "model" and result["needs_review"] in (True, False)
    )
    assert set(result["probabilities"]) == {
        "neutral",
        "stress",
        "anxiety",
        "depression",
        "suicidal_ideation",
        "self_harm",
    }
    assert one.headers["x-request-id"]
    assert one.json()["model_version"] == client.get("/v1/model").json()["version"]


def test_api_key_is_required_as_header_or_bearer_token(server: str) -> None:
    body = {"text": "hello"}
    assert httpx.post(f"{server}/v1/classify", json=body).status_code == 401
    assert httpx.post(f"{server}/v1/classify", json=body, headers={"X-API-Key": "wrong"}).status_code == 401
    assert httpx.get(f"{server}/v1/model").status_code == 401
    bearer = httpx.post(f"{server}/v1/classify", json=body, headers={"Authorization": f"Bearer {KEY}"})
    assert bearer.status_code == 200
    assert httpx.get(f"{server}/healthz").status_code == 200


def test_limits_and_bad_input_are_answered_4xx_without_echoing_the_text(
    client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bad = {
        "too many texts": client.post("/v1/classify", json={"texts": [SECRET] * 9}),
        "too long": client.post("/v1/classify", json={"texts": ["ok", SECRET * 10]}),
        "both fields": client.post("/v1/classify", json={"text": SECRET, "texts": [SECRET]}),
        "wrong type": client.post("/v1/classify", json={"texts": [SECRET, 3]}),
        "unknown key": client.post("/v1/classify", json={SECRET: SECRET}),
        "not json": client.post(
            "/v1/classify", content=SECRET.encode(), headers={"content-type": "application/json"}
        ),
        "huge body": client.post(
            "/v1/classify", content=b"x" * 3_000_000, headers={"content-type": "application/json"}
        ),
    }
    statuses = {name: response.status_code for name, response in bad.items()}
    assert statuses == {
        "too many texts": 413,
        "too long": 413,
        "both fields": 422,
        "wrong type": 422,
        "unknown key": 422,
        "not json": 422,
        "huge body": 413,
    }
    for response in bad.values():
        assert "zebra" not in response.text and "detail" in response.json()
    assert "at most 8 per request" in bad["too many texts"].json()["detail"]
    assert "zebra" not in caplog.text


def test_audit_log_holds_hashed_ids_and_decisions_but_never_the_text(
    client: httpx.Client, audit_path: Path
) -> None:
    assert client.post("/v1/classify", json={"text": SECRET}).status_code == 200

    lines = [json.loads(line) for line in audit_path.read_text().splitlines()]
    assert "zebra" not in audit_path.read_text()
    last = lines[-1]
    assert set(last) == {
        "time",
        "request_id",
        "text_id",
        "model_version",
        "stage",
        "labels",
        "risk",
        "needs_review",
    }
    assert len(last["text_id"]) == 64


def test_model_info_metrics_health_and_openapi_are_served(client: httpx.Client) -> None:
    from mindscreen import __version__

    info = client.get("/v1/model").json()
    assert info["labels"][0] == "neutral" and set(info["thresholds"]) == set(info["labels"])
    assert info["limits"]["max_texts"] == 8
    assert info["model_variant"]["variant"] == "native" and info["model_variant"]["check"] == "none"
    assert client.get("/healthz").json() == {"status": "ok", "version": __version__}
    assert client.get("/readyz").json()["status"] == "ready"
    client.post("/v1/classify", json={"text": "fine"})
    metrics = client.get("/metrics").text
    assert 'mindscreen_requests_total{route="/v1/classify",status="200"}' in metrics
    assert "mindscreen_texts_total" in metrics and "mindscreen_request_seconds_bucket" in metrics
    schema = client.get("/openapi.json").json()
    assert {"/v1/classify", "/v1/model", "/healthz", "/readyz"} <= set(schema["paths"])


def test_fuzzing_the_openapi_schema_finds_no_server_error(server: str) -> None:
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis import GenerationMode

    schema = schemathesis.openapi.from_url(f"{server}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 4
    statuses: list[int] = []
    for operation in operations:
        # Invalid inputs exist only where there are inputs: the POST body.
        has_body = operation.method.upper() == "POST"
        for mode in (
            (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if has_body else (GenerationMode.POSITIVE,)
        ):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=25,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def check(case: schemathesis.Case) -> None:
                response = case.call(base_url=server, headers={"X-API-Key": KEY}, timeout=30)
                statuses.append(response.status_code)
                assert response.status_code < 500, f"{case.method} {case.path} -> {response.status_code}"

            check()
    assert statuses and max(statuses) < 500


def test_concurrent_clients_get_no_errors(server: str) -> None:
    texts = ["deadlines keep piling up", "had a good day", "i feel empty and tired", "worried about money"]

    def client_run(worker: int) -> list[int]:
        with httpx.Client(base_url=server, headers={"X-API-Key": KEY}, timeout=30) as http:
            return [
                http.post("/v1/classify", json={"texts": texts[: 1 + (worker + i) % 4]}).status_code
                for i in range(25)
            ]

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = [status for run in pool.map(client_run, range(8)) for status in run]

    assert len(statuses) == 200 and set(statuses) == {200}
    assert time.monotonic() - started < 60


def test_overload_is_refused_with_429_and_retry_after() -> None:
    settings = ServeSettings(max_concurrency=1, timeout_s=10)
    # 1.5 s per call: the four requests overlap even when their threads start late on a busy machine.
    with live_server(settings, lambda: slow_pipeline(1.5)) as base:

        def call(_: int) -> httpx.Response:
            return httpx.post(f"{base}/v1/classify", json={"text": "hello"}, timeout=30)

        with ThreadPoolExecutor(max_workers=4) as pool:
            responses = list(pool.map(call, range(4)))

    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) >= 1 and 429 in statuses and set(statuses) <= {200, 429}
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.headers["retry-after"] == "1"


def test_a_request_past_the_timeout_is_answered_504_and_the_server_recovers() -> None:
    settings = ServeSettings(max_concurrency=2, timeout_s=0.3)
    with live_server(settings, lambda: slow_pipeline(0.8)) as base:
        slow = httpx.post(f"{base}/v1/classify", json={"text": SECRET}, timeout=30)
        time.sleep(0.8)
        health = httpx.get(f"{base}/healthz", timeout=5)

    assert slow.status_code == 504 and "zebra" not in slow.text
    assert health.status_code == 200


def variant_series(metrics: str) -> dict[tuple[str, str], float]:
    """``mindscreen_model_variant`` samples by (variant, check)."""
    found = {}
    for line in metrics.splitlines():
        match = re.fullmatch(r"mindscreen_model_variant\{(.*)\} (\S+)", line)
        if match:
            labels = dict(re.findall(r'(\w+)="(\w+)"', match[1]))
            found[(labels["variant"], labels["check"])] = float(match[2])
    return found


def test_a_failed_int8_export_is_served_as_fp32_unless_opted_in_and_then_reported(
    failed_int8_export: Path,
) -> None:
    for allow, variant, check in ((False, "onnx_fp32", "passed"), (True, "onnx_int8", "failed")):
        settings = ServeSettings(model_path=str(failed_int8_export), allow_failed_int8=allow)
        with live_server(settings, None) as base:
            info = httpx.get(f"{base}/v1/model", timeout=30).json()["model_variant"]
            series = variant_series(httpx.get(f"{base}/metrics", timeout=30).text)
        assert (info["variant"], info["check"]) == (variant, check)
        if allow:
            assert info["max_abs_diff"] > info["tolerance"] == 1e-9
        assert len(series) == 12 and [key for key, on in series.items() if on == 1.0] == [(variant, check)]
