"""Helpers of the serving tests: uvicorn on a free loopback port, and stub pipelines."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import numpy as np

from mindscreen.pipeline import Pipeline, Policy
from mindscreen.serving import ServeSettings, build_server, create_app
from mindscreen.serving.startup import WARM_UP_TEXTS


def loopback_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def live_server(
    settings: ServeSettings, load: Callable[[], Pipeline] | None, **options: Any
) -> Iterator[str]:
    """The service as ``serve`` runs it, in a thread on a free loopback port; yields the base URL once
    /readyz answers 200. ``options`` go to uvicorn (``log_config=None`` lets caplog see uvicorn's logs)."""
    sock = loopback_socket()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = build_server(create_app(settings, load), settings, log_level="warning", **options)
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


class StubModel:
    """A stage-2 model that takes ``delay`` seconds per call and returns ``row`` for every text.

    The start-up self-check's warm-up text is answered at once, so that servers start quickly.
    """

    labels = ["neutral", "stress", "suicidal_ideation"]
    multi_label = True
    thresholds = np.full(3, 0.5)

    def __init__(self, delay: float = 0.0, row: tuple[float, ...] = (0.8, 0.3, 0.05)) -> None:
        self.delay, self.row = delay, row

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        if texts != WARM_UP_TEXTS:
            time.sleep(self.delay)
        return np.tile(self.row, (len(texts), 1))

    def member_probas(self, texts: list[str]) -> np.ndarray:
        return self.predict_proba(texts)[None]

    def combine(self, member_probs: np.ndarray) -> np.ndarray:
        return member_probs[0]


class FailingModel(StubModel):
    """A model that raises an error carrying the text, as careless code might, on texts with ``trigger``."""

    def __init__(self, trigger: str) -> None:
        super().__init__()
        self.trigger = trigger

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        if any(self.trigger in text for text in texts):
            raise KeyError(texts[0])
        return super().predict_proba(texts)


def stub_pipeline(model: StubModel | None = None) -> Pipeline:
    model = model or StubModel()
    policy = Policy.build(model.labels, True, ["suicidal_ideation"], ["neutral"])
    return Pipeline(model, policy, model.thresholds, version="stub-1")


def slow_pipeline(delay: float) -> Pipeline:
    return stub_pipeline(StubModel(delay))
