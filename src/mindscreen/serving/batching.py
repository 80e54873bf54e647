"""Micro-batching: concurrent classify requests share one model call (``batch_window_ms``).

A request hands its texts to the one model thread and waits for its own results. When the thread is
free it takes every request already waiting, plus, with a window over 0 ms, those that arrive within the
window after the first, up to ``max_texts`` texts; runs :meth:`Pipeline.classify` once on all of them;
and gives each request its own results, in its own order. A batch that raises is run again request by
request, so one bad request fails alone. Running every batch on the same thread also keeps torch's and
ONNX Runtime's thread pools warm, where a request on a fresh worker thread would start them cold.

Requests are admitted as before (:mod:`~mindscreen.serving.admission`): a batch holds at most
``max_concurrency`` requests, so raise that limit with batching on. A request whose batch has not
started by its deadline is dropped from the queue and answered 503; a batch already running finishes.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from mindscreen.pipeline import Result


class _Job:
    def __init__(self, texts: list[str]) -> None:
        self.texts, self.results = texts, list[Result]()
        self.error: BaseException | None = None
        self.started, self.done = False, threading.Event()


class BusyError(RuntimeError):
    """The request's batch did not start before its deadline."""


class MicroBatcher:
    """One model thread running the queued requests' texts as one batch.

    Args:
        classify: the pipeline's ``classify``.
        model_lock: held around each batch (other model work, e.g. ``/v1/explain``, holds it too).
        window_s: how long to wait after the first request for more (0: take only those waiting).
        max_texts: most texts in one batch; a request with more runs alone.
    """

    def __init__(
        self,
        classify: Callable[[list[str]], list[Result]],
        model_lock: threading.Lock,
        window_s: float = 0.0,
        max_texts: int = 64,
    ) -> None:
        self._classify, self._model = classify, model_lock
        self.window_s, self.max_texts = window_s, max_texts
        self._queue: deque[_Job] = deque()
        self._ready = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._serve, name="mindscreen-model", daemon=True)
        self.batches = 0  # batches run, for tests and metrics

    def start(self) -> MicroBatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Finish the running batch, answer the queued requests with :class:`BusyError`, end the thread."""
        with self._ready:
            self._stopping = True
            self._ready.notify_all()
        self._thread.join(timeout=30)

    def classify(self, texts: list[str], wait_s: float) -> list[Result]:
        """Results for ``texts`` from a shared batch; :class:`BusyError` if it did not start in ``wait_s``."""
        job = _Job(texts)
        with self._ready:
            if self._stopping:
                raise BusyError("the service is stopping")
            self._queue.append(job)
            self._ready.notify_all()
        if not job.done.wait(max(wait_s, 0.0)):
            with self._ready:
                if not job.started:
                    self._queue.remove(job)
                    raise BusyError("the model stayed busy until the request's deadline")
            job.done.wait()  # its batch is running: finish with it, the deadline answers 504 if it passes
        if job.error is not None:
            raise job.error
        return job.results

    def _serve(self) -> None:
        while True:
            with self._ready:
                while not self._queue and not self._stopping:
                    self._ready.wait()
                if self._stopping:
                    self._fail_queued()
                    return
            if self.window_s > 0:
                time.sleep(self.window_s)  # let the requests arriving just after the first join it
            with self._model:
                jobs = self._take()
                if jobs:
                    self._run(jobs)

    def _take(self) -> list[_Job]:
        """The longest-waiting requests whose texts fit in one batch (at least one request)."""
        jobs: list[_Job] = []
        with self._ready:
            count = 0
            while self._queue and (not jobs or count + len(self._queue[0].texts) <= self.max_texts):
                job = self._queue.popleft()
                job.started, count = True, count + len(job.texts)
                jobs.append(job)
        return jobs

    def _run(self, jobs: list[_Job]) -> None:
        self.batches += 1
        try:
            results = self._classify([text for job in jobs for text in job.texts])
        except Exception as err:
            if len(jobs) == 1:
                jobs[0].error = err
            else:  # one request's texts may be what failed: run each alone so only it fails
                for job in jobs:
                    _run_alone(job, self._classify)
        else:
            start = 0
            for job in jobs:
                job.results, start = results[start : start + len(job.texts)], start + len(job.texts)
        finally:
            for job in jobs:
                job.done.set()

    def _fail_queued(self) -> None:
        while self._queue:
            job = self._queue.popleft()
            job.error = BusyError("the service is stopping")
            job.done.set()


def _run_alone(job: _Job, classify: Callable[[list[str]], list[Result]]) -> None:
    """Run ``job`` by itself, keeping its error (raised in its own request's thread) if it fails."""
    try:
        job.results = classify(job.texts)
    except Exception as err:
        job.error = err
