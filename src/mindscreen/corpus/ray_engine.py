"""The Ray engine: Ray Data schedules the parts of a corpus job onto a pool of actors.

Each actor loads the pipeline once (a run, ensemble, TF-IDF model or ONNX export is wrapped as a
one-stage pipeline, exactly as ``mindscreen predict`` wraps it), then scores one part at a time: it
reads the part's rows itself, classifies them and writes the part file (:func:`score_part`). What flows
through Ray is only each part's description (file, row and byte ranges) and a summary back (rows,
errors, seconds, process id, peak memory): texts never enter Ray's object store, task arguments,
exception messages or logs. Ray Data streams the descriptions to the actors with backpressure, keeps
the pool at the requested size, restarts an actor whose process dies and retries its part (the part
file is written under a fixed name, so a retried part replaces its own file and is never counted twice).

Only this module imports Ray; :func:`~mindscreen.corpus.predict_corpus` imports it when a job runs.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import ray
from ray.data import ActorPoolStrategy, DataContext

from mindscreen.corpus.plan import Part
from mindscreen.corpus.scoring import CorpusError, score_part
from mindscreen.corpus.settings import ClusterSettings, WorkerSettings
from mindscreen.predictors import LoadOptions

logger = logging.getLogger(__name__)

# Exceptions whose messages mindscreen writes without texts; Ray passes a worker's exception to the
# driver only as its formatted traceback, so the reason is found there by name.
_TEXT_FREE = re.compile(r"\b(?:PartError|ContractError|DataError|MissingExtraError|FileNotFoundError): (.+)")


class PartScorer:
    """A Ray Data actor: the pipeline loaded once, then :func:`score_part` per part description."""

    def __init__(self, settings: dict[str, Any]) -> None:
        from mindscreen.pipeline import load_pipeline

        self.settings = WorkerSettings(**settings)
        self.pipeline = load_pipeline(self.settings.model, LoadOptions(**self.settings.options))
        if "torch" in sys.modules and self.settings.options.get("threads"):
            sys.modules["torch"].set_num_threads(int(self.settings.options["threads"]))

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        settings = self.settings
        summaries = [
            score_part(
                self.pipeline,
                Part.from_dict(json.loads(str(description))),
                Path(settings.output),
                settings.text_column,
                settings.batch_size,
                settings.max_chars,
            )
            for description in batch["part"]
        ]
        return {key: np.array([summary[key] for summary in summaries]) for key in summaries[0]}


def run_parts(
    parts: list[Part], worker: WorkerSettings, cluster: ClusterSettings, progress: bool = False
) -> Iterator[dict[str, Any]]:
    """Score ``parts`` on Ray, yielding each part's summary as it finishes (in no fixed order).

    Starts a local Ray instance (and stops it at the end) unless ``cluster.address`` names one or Ray is
    already initialised in this process.
    """
    started = _connect(cluster.address)
    try:
        workers = cluster.workers or default_workers(cluster)
        logger.info("scoring %d parts on %d Ray workers", len(parts), workers)
        context = DataContext.get_current()
        context.enable_progress_bars = False  # the caller counts rows; Ray's bars name operators only
        context.enable_rich_progress_bars = False
        descriptions = [{"part": json.dumps(part.to_dict())} for part in parts]
        scored = ray.data.from_items(descriptions, override_num_blocks=max(len(parts), 1)).map_batches(
            PartScorer,
            fn_constructor_kwargs={"settings": asdict(worker)},
            batch_size=1,
            batch_format="numpy",
            compute=ActorPoolStrategy(size=workers, max_tasks_in_flight_per_actor=1),
            num_cpus=cluster.cpus_per_worker,
            num_gpus=cluster.gpus_per_worker or None,
        )
        try:
            # Without prefetching: a part's summary arrives when it is written, not one part later.
            for batch in scored.iter_batches(batch_size=None, prefetch_batches=0, batch_format="numpy"):
                for row in range(len(batch["part"])):
                    yield {str(key): _plain(values[row]) for key, values in batch.items()}
        except ray.exceptions.RayError as err:
            raise CorpusError(
                f"the job stopped: {_reason(err)}. Finished parts are kept: run the same command again "
                "to score the rest"
            ) from None
    finally:
        if started:
            ray.shutdown()


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def default_workers(cluster: ClusterSettings) -> int:
    """As many actors as the cluster's CPUs (and GPUs, when each actor takes some) allow, at least one."""
    resources = ray.cluster_resources()
    count = resources.get("CPU", 1) // max(cluster.cpus_per_worker, 1e-9)
    if cluster.gpus_per_worker > 0:
        count = min(count, resources.get("GPU", 0) // cluster.gpus_per_worker)
    return max(int(count), 1)


def _connect(address: str | None) -> bool:
    """Initialise Ray; True when this call started it (and so must stop it)."""
    if ray.is_initialized():
        return False
    if address is None:  # a private instance on this machine; the dashboard is not needed for a batch job
        ray.init(include_dashboard=False, logging_level=logging.WARNING)
    else:
        ray.init(address=address, logging_level=logging.WARNING)
    return True


def _reason(err: Exception) -> str:
    """Why a Ray job failed, without a text: a text-free exception's message found in the worker's
    traceback; for any other exception raised by worker code, its type only; Ray's own errors (an actor
    or node lost) describe processes, so their first line."""
    found = _TEXT_FREE.search(str(err))
    if found:
        return found.group(1).strip()
    if isinstance(err, ray.exceptions.RayTaskError):
        return f"a worker raised {type(err.cause).__name__}"
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
