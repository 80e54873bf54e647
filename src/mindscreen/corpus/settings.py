"""The settings of a corpus job that travel to its workers, and where the job runs (no Ray import)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mindscreen.data import MAX_CHARS


@dataclass(frozen=True)
class ClusterSettings:
    """Where and how wide a job runs.

    Attributes:
        address: None starts a Ray instance on this machine for the job (no cluster needed); ``auto``
            joins the cluster this machine belongs to (``ray start``); ``HOST:PORT`` joins that head.
        workers: actors in the pool; None: as many as the cluster's CPUs (or GPUs) allow.
        cpus_per_worker: CPUs each actor reserves (also its ONNX Runtime and torch threads).
        gpus_per_worker: GPUs (or a fraction) each actor reserves; above 0, torch models run on CUDA.
    """

    address: str | None = None
    workers: int | None = None
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0


@dataclass(frozen=True)
class WorkerSettings:
    """What every actor needs to score parts (no texts): the model, the output folder, the text column,
    texts per model call, and how to load the model."""

    model: str
    output: str
    text_column: str
    batch_size: int
    options: dict[str, Any]
    max_chars: int = MAX_CHARS
