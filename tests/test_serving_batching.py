"""Micro-batching: concurrent requests share model calls, each gets its own answers, overload stays fast."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from mindscreen.pipeline import load_pipeline
from mindscreen.serving import ServeSettings
from mindscreen.serving.batching import BusyError, MicroBatcher

from .serving_support import live_server, slow_pipeline

TEXTS = [
    "deadlines keep piling up and i cannot sleep",
    "had a good day",
    "i feel empty and tired all the time, nothing helps and i do not know who to talk to",
    "worried about money",
    "i want to kill myself",
    "a calm walk by the river",
]


class Recorder:
    """A classify function that answers each text with its own tag and records the batches it saw."""

    def __init__(self, delay: float = 0.0, bad: str | None = None) -> None:
        self.delay, self.bad, self.batches = delay, bad, list[list[str]]()

    def __call__(self, texts: list[str]) -> list[str]:
        self.batches.append(list(texts))
        time.sleep(self.delay)
        if self.bad is not None and self.bad in texts:
            raise ValueError("a bad text")
        return [f"answer to {text}" for text in texts]


def run_together(batcher: MicroBatcher, requests: list[list[str]], wait_s: float = 10) -> list[object]:
    """Submit every request from its own thread at once; each one's results or error."""
    gate = threading.Barrier(len(requests))

    def submit(texts: list[str]) -> object:
        gate.wait()
        try:
            return batcher.classify(texts, wait_s)
        except Exception as err:
            return err

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(submit, requests))


def test_concurrent_requests_share_batches_and_each_gets_its_own_answers_in_order() -> None:
    recorder = Recorder(delay=0.05)
    batcher = MicroBatcher(recorder, threading.Lock(), window_s=0.05, max_texts=64).start()
    requests = [[f"r{i} t{j}" for j in range(1 + i % 3)] for i in range(12)]
    try:
        answers = run_together(batcher, requests)
    finally:
        batcher.stop()

    assert answers == [[f"answer to {text}" for text in texts] for texts in requests]
    assert len(recorder.batches) < len(requests)  # shared: fewer model calls than requests
    assert sorted(t for batch in recorder.batches for t in batch) == sorted(t for r in requests for t in r)


def test_a_batch_never_exceeds_max_texts_and_a_bigger_request_runs_alone() -> None:
    recorder = Recorder(delay=0.02)
    batcher = MicroBatcher(recorder, threading.Lock(), window_s=0.05, max_texts=4).start()
    requests = [[f"r{i} t{j}" for j in range(3)] for i in range(5)] + [[f"big {j}" for j in range(6)]]
    try:
        answers = run_together(batcher, requests)
    finally:
        batcher.stop()

    assert answers == [[f"answer to {text}" for text in texts] for texts in requests]
    assert all(len(batch) <= 4 or batch == requests[-1] for batch in recorder.batches)


def test_a_request_that_fails_fails_alone() -> None:
    recorder = Recorder(delay=0.02, bad="poison")
    batcher = MicroBatcher(recorder, threading.Lock(), window_s=0.05).start()
    requests = [["fine one"], ["poison"], ["fine two", "fine three"]]
    try:
        answers = run_together(batcher, requests)
    finally:
        batcher.stop()

    assert answers[0] == ["answer to fine one"] and answers[2] == [
        "answer to fine two",
        "answer to fine three",
    ]
    assert isinstance(answers[1], ValueError)


def test_a_request_whose_batch_cannot_start_by_its_deadline_is_dropped_busy() -> None:
    recorder = Recorder(delay=1.0)
    batcher = MicroBatcher(recorder, threading.Lock()).start()
    try:
        first = threading.Thread(target=batcher.classify, args=(["slow"], 10))
        first.start()
        time.sleep(0.2)  # the first batch is running
        started = time.monotonic()
        with pytest.raises(BusyError):
            batcher.classify(["late"], 0.1)
        waited = time.monotonic() - started
        first.join()
    finally:
        batcher.stop()

    assert waited < 0.5
    assert ["late"] not in recorder.batches  # dropped from the queue, never computed


def test_served_with_batching_concurrent_requests_get_the_answers_of_single_requests(
    trained_run: Path,
) -> None:
    pipeline = load_pipeline(trained_run)
    alone = [pipeline.classify([text])[0].to_dict() for text in TEXTS]
    settings = ServeSettings(batch_window_ms=20, max_concurrency=16)
    with live_server(settings, lambda: load_pipeline(trained_run)) as base:

        def call(i: int) -> list[dict]:
            texts = [TEXTS[i % len(TEXTS)], TEXTS[(i + 2) % len(TEXTS)]]
            response = httpx.post(f"{base}/v1/classify", json={"texts": texts}, timeout=30)
            assert response.status_code == 200
            return list(response.json()["results"])

        with ThreadPoolExecutor(max_workers=12) as pool:
            answers = list(pool.map(call, range(24)))

    for i, results in enumerate(answers):
        for got, k in zip(results, (i % len(TEXTS), (i + 2) % len(TEXTS)), strict=True):
            want = alone[k]
            assert got["labels"] == want["labels"] and got["risk"] == want["risk"]
            for label, p in want["probabilities"].items():
                assert got["probabilities"][label] == pytest.approx(p, abs=1e-5)


def test_with_batching_overload_is_still_answered_429_or_503_fast() -> None:
    settings = ServeSettings(batch_window_ms=5, max_concurrency=1, timeout_s=10)
    with live_server(settings, lambda: slow_pipeline(1.5)) as base:

        def call(_: int) -> tuple[int, float]:
            started = time.monotonic()
            response = httpx.post(f"{base}/v1/classify", json={"text": "hello"}, timeout=30)
            return response.status_code, time.monotonic() - started

        with ThreadPoolExecutor(max_workers=4) as pool:
            outcomes = list(pool.map(call, range(4)))

    statuses = sorted(status for status, _ in outcomes)
    assert statuses.count(200) >= 1 and set(statuses) <= {200, 429, 503} and 429 in statuses
    assert max(seconds for status, seconds in outcomes if status != 200) < 3.5
