"""A corpus job end to end: list the inputs, plan or resume the parts, score the rest on Ray, finish.

The driver holds the plan (one small record per part) and the per-part summaries; rows are read,
scored and written by the workers one part at a time, so neither side's memory grows with the corpus.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from mindscreen.corpus.align import align_parts
from mindscreen.corpus.inputs import find_inputs
from mindscreen.corpus.manifest import JobKey, count_errors, model_identity, open_job, pending, write_manifest
from mindscreen.corpus.plan import Part
from mindscreen.corpus.settings import ClusterSettings, WorkerSettings
from mindscreen.data import MAX_CHARS
from mindscreen.extras import require_extras
from mindscreen.predictors import CHUNK, LoadOptions

logger = logging.getLogger(__name__)

PART_ROWS = 10_000


@dataclass
class CorpusResult:
    """What a corpus job did (no texts).

    Attributes:
        output: the output folder.
        parts: parts in the plan; ``skipped`` were finished by an earlier run, ``written`` by this one.
        rows, errors: rows in all part files, and those with an ``error`` reason.
        seconds: this run's wall time; ``startup_s``: from starting the engine until the first part was
            written, less that part's own scoring time (Ray starting, actors loading the model; None:
            nothing was left to score).
        workers: per worker process id: parts, rows, busy seconds and peak resident memory (MB).
        aligned: input columns whose types differed between parts, and how they were brought to one
            (:func:`~mindscreen.corpus.align.align_parts`); empty when the parts agreed.
    """

    output: Path
    parts: int
    skipped: int
    written: int
    rows: int
    errors: int
    seconds: float
    startup_s: float | None = None
    workers: dict[int, dict[str, float]] = field(default_factory=dict)
    cut: int = 0  # texts this run cut to max_chars characters
    aligned: dict[str, str] = field(default_factory=dict)  # columns whose types the parts disagreed on

    def summary(self) -> str:
        scored = sum(w["rows"] for w in self.workers.values())
        rate = f", {scored / self.seconds:.0f} rows/s" if scored and self.seconds else ""
        return (
            f"{self.rows} rows in {self.parts} parts in {self.output} ({self.errors} with an error); "
            f"this run wrote {self.written} parts ({scored} rows{rate}) and skipped {self.skipped} "
            "finished earlier"
            + (f"; {self.cut} texts were cut to --max-chars characters" if self.cut else "")
            + (f"; parts brought to one type for columns {', '.join(self.aligned)}" if self.aligned else "")
        )


def predict_corpus(
    model: str | Path,
    inputs: str | Path,
    output: str | Path,
    *,
    text_column: str | None = None,
    batch_size: int = CHUNK,
    part_rows: int = PART_ROWS,
    cluster: ClusterSettings | None = None,
    options: LoadOptions | None = None,
    max_chars: int = MAX_CHARS,
    progress: bool = False,
) -> CorpusResult:
    """Score every row of a corpus on Ray into Parquet parts; run it again to finish an interrupted job.

    Args:
        model: a pipeline, run, ensemble, TF-IDF or ONNX export directory (as for ``predict``).
        inputs: a CSV, TSV, JSONL or Parquet file, a folder of them, or a glob.
        output: the output folder (parts and ``_manifest.json``).
        text_column: the text column; None: the one the model was trained with.
        batch_size: texts per model call inside a worker.
        part_rows: rows per output part (fixed for a job: a restart must use the same).
        cluster: where and how wide to run (default: a local Ray instance, one worker per CPU).
        options: how workers load the model (default: CPU, or CUDA when workers take GPUs; ONNX and
            torch threads = CPUs per worker); ``allow_failed_int8`` and ``precision`` are kept.
        max_chars: characters of each text read; longer texts are cut, as ``predict --input`` does.
        progress: show a progress bar over rows (never a text).

    Raises:
        DataError: unreadable inputs or a missing text column; ValueError: ``output`` holds another job;
        MissingExtraError: Ray is not installed.
    """
    from mindscreen.pipeline.batch import default_text_column

    require_extras("the Ray engine (predict --engine ray)", "ray")
    began = time.perf_counter()
    cluster = cluster or ClusterSettings()
    output = Path(output)
    column = text_column or default_text_column(model)
    key = JobKey(
        str(Path(model).resolve()),
        model_identity(model),
        column,
        part_rows,
        tuple(find_inputs(inputs, output)),
        max_chars,
    )
    parts = open_job(output, key)
    todo = pending(output, parts)
    logger.info(
        "%d parts planned, %d finished earlier, %d to score", len(parts), len(parts) - len(todo), len(todo)
    )
    result = CorpusResult(output, len(parts), len(parts) - len(todo), len(todo), 0, 0, 0.0)
    if todo:
        worker = WorkerSettings(
            key.model, str(output.resolve()), column, batch_size, _load_options(options, cluster), max_chars
        )
        _run(todo, worker, cluster, result, progress)
    result.aligned = align_parts(output, parts)
    result.rows, result.errors = count_errors(output, parts)
    result.seconds = time.perf_counter() - began
    write_manifest(output, key, parts, {"status": "complete", "rows": result.rows, "errors": result.errors})
    return result


def _load_options(options: LoadOptions | None, cluster: ClusterSettings) -> dict[str, Any]:
    """How workers load the model: CPU (CUDA when they take GPUs) with one thread per CPU, and whatever
    ``options`` sets away from the defaults on top (``allow_failed_int8``, a batch size)."""
    device = "cuda" if cluster.gpus_per_worker > 0 else "cpu"
    chosen = LoadOptions(device=device, threads=max(int(cluster.cpus_per_worker), 1))
    if options is not None:
        plain = LoadOptions()
        changed = {
            f.name: getattr(options, f.name)
            for f in dataclasses.fields(options)
            if getattr(options, f.name) != getattr(plain, f.name)
        }
        chosen = chosen.with_changes(**changed)
    return dataclasses.asdict(chosen)


def _run(
    todo: list[Part],
    worker: WorkerSettings,
    cluster: ClusterSettings,
    result: CorpusResult,
    progress: bool,
) -> None:
    from mindscreen.corpus.ray_engine import run_parts

    began = time.perf_counter()
    workers: dict[int, dict[str, float]] = defaultdict(
        lambda: {"parts": 0, "rows": 0, "busy_s": 0.0, "peak_rss_mb": 0.0}
    )
    with tqdm(total=sum(part.rows for part in todo), desc="predict", unit="row", disable=not progress) as bar:
        for summary in run_parts(todo, worker, cluster):
            if result.startup_s is None:
                result.startup_s = time.perf_counter() - began - summary["seconds"]
            stats = workers[int(summary["pid"])]
            stats["parts"] += 1
            stats["rows"] += summary["rows"]
            result.cut += summary.get("cut", 0)
            stats["busy_s"] += summary["seconds"]
            stats["peak_rss_mb"] = max(stats["peak_rss_mb"], summary["peak_rss_mb"])
            bar.update(summary["rows"])
    result.workers = dict(workers)
