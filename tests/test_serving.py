"""The HTTP service, driven over real HTTP against uvicorn on 127.0.0.1 (no test client, no mocks)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from mindscreen.pipeline import load_pipeline
from mindscreen.serving import ServeSettings

from .serving_support import FailingModel, live_server, slow_pipeline, stub_pipeline

KEY = "test-key-0123456789"
# A distinctive text that must never come back in an error, a log line or the audit log.
SECRET = "zebra-quartz-7731 I have been feeling hopeless about everything"


@pytest.fixture(scope="module")
def audit_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("audit") / "audit.jsonl"


@pytest.fixture(scope="module")
def server(trained_run: Path, audit_path: Path) -> Iterator[str]:
    settings = ServeSettings(
        max_texts=8,
        max_chars=300,
        max_explain_texts=2,
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


def test_predict_and_serve_give_the_same_answer_for_the_same_directory(
    client: httpx.Client, trained_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mindscreen.cli import main

    for text in ("exams next week and i cannot sleep", "i want to kill myself"):
        served = client.post("/v1/classify", json={"text": text}).json()["results"][0]
        assert main(["-q", "predict", str(trained_run), text]) == 0
        assert json.loads(capsys.readouterr().out) == served


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


def test_server_timing_splits_each_answer_into_model_time_and_the_service_own_time() -> None:
    settings = ServeSettings(metrics="public")
    with live_server(settings, lambda: slow_pipeline(0.2)) as base:
        answer = httpx.post(f"{base}/v1/classify", json={"text": "hello"}, timeout=10)
        health = httpx.get(f"{base}/healthz", timeout=5)
        metrics = httpx.get(f"{base}/metrics", timeout=5).text

    timing = dict(part.strip().split(";dur=") for part in answer.headers["server-timing"].split(","))
    assert answer.status_code == 200 and set(timing) == {"model", "app"}
    assert 200 <= float(timing["model"]) <= float(timing["app"])  # the stub model sleeps 0.2 s
    assert list(dict(p.split(";dur=") for p in health.headers["server-timing"].split(","))) == ["app"]
    assert 'mindscreen_model_seconds_count{route="/v1/classify"} 1.0' in metrics


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
    from mindscreen.pipeline import REVIEW_REASONS, RISK_LEVELS, STAGES

    enums = {name: body.get("enum") for name, body in schema["components"]["schemas"].items()}
    assert enums["StageName"] == list(STAGES) == ["screen", "model"]
    assert enums["RiskLevel"] == list(RISK_LEVELS) and enums["ReviewReason"] == list(REVIEW_REASONS)


def test_explain_gives_word_offsets_and_scores_for_the_decision_classify_gives(client: httpx.Client) -> None:
    from mindscreen.explain import segment

    texts = ["exams next week 😢 and i cannot sleep", "ok. I want to  KILL myself\r\ntoday"]
    explained = client.post("/v1/explain", json={"texts": texts})
    classified = client.post("/v1/classify", json={"texts": texts}).json()["results"]

    assert explained.status_code == 200
    results = explained.json()["results"]
    assert explained.json()["model_version"] == client.get("/v1/model").json()["version"]
    for text, result, decision in zip(texts, results, classified, strict=True):
        assert {k: result[k] for k in decision} == decision
        assert result["explanations"] and all(e["method"] == "occlusion" for e in result["explanations"])
        for label in result["explanations"]:
            assert label["probability"] == decision["probabilities"][label["label"]]
            assert [(w["start"], w["end"]) for w in label["words"]] == segment(text)
    (phrase,) = results[1]["crisis_phrases"]
    assert texts[1][phrase["start"] : phrase["end"]] == "KILL myself"
    chosen = client.post(
        "/v1/explain", json={"text": texts[0], "labels": ["stress"], "method": "integrated_gradients"}
    ).json()["results"][0]["explanations"]
    assert [(e["label"], e["method"]) for e in chosen] == [("stress", "integrated_gradients")]
    assert "/v1/explain" in client.get("/openapi.json").json()["paths"]


def test_explain_has_the_key_limits_and_privacy_of_classify_with_a_smaller_batch(
    server: str, client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert httpx.post(f"{server}/v1/explain", json={"text": "hello"}).status_code == 401
    bad = {
        "over the explain limit": client.post("/v1/explain", json={"texts": [SECRET] * 3}),
        "too long": client.post("/v1/explain", json={"texts": ["ok", SECRET * 10]}),
        "unknown label": client.post("/v1/explain", json={"text": SECRET, "labels": [SECRET]}),
        "no labels": client.post("/v1/explain", json={"text": SECRET, "labels": []}),
        "unknown method": client.post("/v1/explain", json={"text": SECRET, "method": SECRET}),
        "both fields": client.post("/v1/explain", json={"text": SECRET, "texts": [SECRET]}),
        "unknown key": client.post("/v1/explain", json={"text": SECRET, SECRET: 1}),
    }
    statuses = {name: response.status_code for name, response in bad.items()}
    assert statuses == {
        "over the explain limit": 413,
        "too long": 413,
        "unknown label": 422,
        "no labels": 422,
        "unknown method": 422,
        "both fields": 422,
        "unknown key": 422,
    }
    assert "at most 2 per request" in bad["over the explain limit"].json()["detail"]
    assert "its labels are: neutral" in bad["unknown label"].json()["detail"]
    assert client.post("/v1/explain", json={"text": SECRET}).status_code == 200
    for response in bad.values():
        assert "zebra" not in response.text and "detail" in response.json()
    assert "zebra" not in caplog.text
    metrics = client.get("/metrics").text
    assert 'mindscreen_requests_total{route="/v1/explain",status="200"}' in metrics


def test_fuzzing_the_openapi_schema_finds_no_server_error(server: str) -> None:
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis import GenerationMode

    schema = schemathesis.openapi.from_url(f"{server}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 5
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
    assert 1 <= int(refused.headers["retry-after"]) <= 3


def test_a_request_past_the_timeout_is_answered_504_and_the_server_recovers() -> None:
    settings = ServeSettings(max_concurrency=2, timeout_s=0.3)
    with live_server(settings, lambda: slow_pipeline(0.8)) as base:
        slow = httpx.post(f"{base}/v1/classify", json={"text": SECRET}, timeout=30)
        time.sleep(0.8)
        health = httpx.get(f"{base}/healthz", timeout=5)

    assert slow.status_code == 504 and "zebra" not in slow.text
    assert health.status_code == 200


def test_a_text_that_is_not_valid_unicode_is_refused_422_naming_the_item(
    client: httpx.Client, audit_path: Path
) -> None:
    lines_before = len(audit_path.read_text().splitlines())
    escaped = b'{"texts": ["fine", "\\ud800 hi"]}'  # a lone surrogate as a JSON escape
    cesu8 = b'{"texts": ["fine", "fine", "\xed\xa0\x80 hi"]}'  # the same as raw CESU-8 bytes
    headers = {"content-type": "application/json"}
    answers = [client.post("/v1/classify", content=body, headers=headers) for body in (escaped, cesu8)]

    assert [a.status_code for a in answers] == [422, 422]
    assert answers[0].json()["detail"][0]["loc"] == ["body", "texts", 1]
    assert answers[1].json()["detail"][0]["loc"] == ["body", "texts", 2]
    assert "surrogate" in answers[0].json()["detail"][0]["msg"]
    assert len(audit_path.read_text().splitlines()) == lines_before
    assert client.post("/v1/classify", json={"text": "still serving"}).status_code == 200


def test_an_unexpected_error_is_answered_500_and_logged_in_one_line_by_type(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    failing = stub_pipeline(FailingModel(trigger="zebra"))
    # log_config=None: uvicorn's own log records reach caplog, as they reach a terminal.
    with live_server(ServeSettings(), lambda: failing, log_config=None) as base:
        answer = httpx.post(f"{base}/v1/classify", json={"texts": [SECRET]}, timeout=30)

    assert answer.status_code == 500 and "request id" in answer.json()["detail"]
    assert "zebra" not in answer.text and "zebra" not in caplog.text
    assert "Traceback" not in caplog.text and not any(r.exc_info for r in caplog.records)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    request_id = answer.json()["detail"].rsplit(" ", 1)[1]
    assert errors == [f"unexpected KeyError on /v1/classify (request {request_id})"]


def test_a_failed_audit_write_is_answered_503_and_counted_never_500(tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full (Linux) to stand for a full disk")
    settings = ServeSettings(audit_log="/dev/full", metrics="public")
    with live_server(settings, stub_pipeline) as base:
        answer = httpx.post(f"{base}/v1/classify", json={"text": SECRET}, timeout=30)
        metrics = httpx.get(f"{base}/metrics", timeout=5).text

    assert answer.status_code == 503 and "audit log" in answer.json()["detail"]
    assert 1 <= int(answer.headers["retry-after"]) <= 3 and "zebra" not in answer.text
    assert "mindscreen_audit_failures_total 1.0" in metrics
    assert 'mindscreen_rejected_total{reason="audit_failed"} 1.0' in metrics


def test_a_request_answered_504_is_not_written_to_the_audit_log(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    settings = ServeSettings(timeout_s=0.3, audit_log=str(audit))
    with live_server(settings, lambda: slow_pipeline(0.8)) as base:
        audit.write_text("")  # forget the start-up check's traces, if any
        slow = httpx.post(f"{base}/v1/classify", json={"text": "hello"}, timeout=30)
        time.sleep(1.2)  # the abandoned work has finished by now
        quick = httpx.get(f"{base}/healthz", timeout=5)

    assert slow.status_code == 504 and quick.status_code == 200
    assert audit.read_text() == ""


def test_overload_is_refused_429_before_the_body_is_read() -> None:
    settings = ServeSettings(max_concurrency=1, timeout_s=10)
    # The one slot stays taken for 2.5 s: longer than the 1 s a refused request waits for it.
    with live_server(settings, lambda: slow_pipeline(2.5)) as base:
        port = int(base.rsplit(":", 1)[1])
        with ThreadPoolExecutor(max_workers=1) as pool:
            busy = pool.submit(httpx.post, f"{base}/v1/classify", json={"text": "hello"}, timeout=30)
            time.sleep(0.3)
            with socket.create_connection(("127.0.0.1", port), timeout=3) as raw:
                # Headers announcing a large body that never comes: the answer must not wait for it.
                raw.sendall(
                    b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 200000\r\n\r\n"
                )
                head = raw.recv(4096).decode("latin-1")
            assert busy.result().status_code == 200

    assert head.startswith("HTTP/1.1 429") and "retry-after:" in head.lower()


def test_a_request_without_the_key_is_refused_401_before_the_body_is_read(server: str) -> None:
    port = int(server.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=3) as raw:
        raw.sendall(b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n")
        head = raw.recv(4096).decode("latin-1")

    assert head.startswith("HTTP/1.1 401")


def test_metrics_need_the_key_by_default_and_can_be_public_or_off(server: str) -> None:
    assert httpx.get(f"{server}/metrics", timeout=5).status_code == 401
    assert httpx.get(f"{server}/metrics", headers={"X-API-Key": KEY}, timeout=5).status_code == 200
    statuses = {}
    for access in ("public", "off"):
        settings = ServeSettings(api_key=KEY, metrics=access)
        with live_server(settings, stub_pipeline) as base:
            statuses[access] = httpx.get(f"{base}/metrics", timeout=5).status_code

    assert statuses == {"public": 200, "off": 404}


def test_the_access_log_names_only_known_http_methods(server: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="mindscreen.serving")
    port = int(server.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=3) as raw:
        raw.sendall(b"ZEBRA" * 2000 + b" /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        head = raw.recv(4096).decode("latin-1")
    httpx.get(f"{server}/healthz", timeout=5)

    def logged() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "mindscreen.serving"]

    deadline = time.monotonic() + 5  # the server logs a request just after answering it
    while not any(line.startswith("GET /healthz") for line in logged()) and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = logged()
    assert head.startswith("HTTP/1.1 405")
    assert any(line.startswith("OTHER /healthz 405") for line in lines)
    assert any(line.startswith("GET /healthz 200") for line in lines)
    assert "ZEBRA" not in caplog.text and max(len(line) for line in lines) < 200


def test_the_waiting_room_hands_freed_slots_on_in_order_and_never_loses_one() -> None:
    from mindscreen.serving.admission import ConcurrencyGuard

    async def scenario() -> tuple[list[str], int]:
        guard = ConcurrencyGuard(1, wait_s=0.3, max_waiting=2)
        first = await guard.admit()
        assert first is not None
        events: list[str] = []

        async def wait(name: str) -> None:
            ticket = await guard.admit()
            events.append(f"{name}:{'admitted' if ticket else 'refused'}")
            if ticket is not None:
                await asyncio.sleep(0.05)
                ticket.leave()

        waiters = [asyncio.create_task(wait(name)) for name in ("b", "c", "d")]  # d: the room is full
        await asyncio.sleep(0.05)
        first.leave()  # b gets the slot, then c after b leaves
        cancelled = asyncio.create_task(guard.admit())  # a client that goes away while waiting
        await asyncio.sleep(0.01)
        cancelled.cancel()
        await asyncio.gather(*waiters)
        await asyncio.sleep(0.05)  # releases run on the loop
        return events, guard._free

    events, free = asyncio.run(scenario())

    assert sorted(events) == ["b:admitted", "c:admitted", "d:refused"]
    assert events.index("b:admitted") < events.index("c:admitted") and free == 1


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
