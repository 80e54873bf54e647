"""MLflow: params, per-evaluation metrics, final per-class metrics and the run directory as artifacts.

Works with MLflow's default store (``./mlruns`` or ``MLFLOW_TRACKING_URI``), a ``file:`` or
``sqlite:`` URI, or a tracking server URL (``http://host:5000``), given as ``train.tracking_uri``.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mindscreen.tracking.base import numeric, safe_name

logger = logging.getLogger(__name__)

# MLflow takes at most 100 params per batch and 6000 characters per value.
PARAM_BATCH = 100
PARAM_CHARS = 6000


class MlflowTracker:
    """One MLflow run per training run, in experiment ``experiment``."""

    uploads_run_dir = True

    def __init__(self, uri: str | None, experiment: str) -> None:
        from mlflow import MlflowClient

        self.client = MlflowClient(tracking_uri=uri)
        found = self.client.get_experiment_by_name(experiment)
        self.experiment_id = found.experiment_id if found else self.client.create_experiment(experiment)
        self.run_id: str | None = None

    def start(self, run_dir: Path, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        tags = {"mindscreen.run_dir": str(run_dir)}
        run = self.client.create_run(self.experiment_id, run_name=run_dir.name, tags=tags)
        self.run_id = run.info.run_id
        items = [Param(safe_name(k), str(v)[:PARAM_CHARS]) for k, v in params.items()]
        for start in range(0, len(items), PARAM_BATCH):
            self.client.log_batch(self.run_id, params=items[start : start + PARAM_BATCH])
        logger.info("MLflow run %s in %s", self.run_id, self.client.tracking_uri)

    def log_evaluation(self, step: int, record: Mapping[str, Any]) -> None:
        self._log_metrics(numeric({k: v for k, v in record.items() if k != "step"}), step)

    def finish(self, run_dir: Path, metrics: Mapping[str, Any]) -> None:
        if self.run_id is None:
            return
        final = {k: v for k, v in metrics.items() if k in ("dev", "test", "calibration", "dev_slices")}
        self._log_metrics({f"final.{k}": v for k, v in numeric(final).items()}, int(metrics.get("steps", 0)))
        self.client.log_artifacts(self.run_id, str(run_dir), artifact_path="run")
        self._log_report(run_dir)
        self.client.set_terminated(self.run_id, "FINISHED")

    def fail(self) -> None:
        if self.run_id is not None:
            self.client.set_terminated(self.run_id, "FAILED")

    def _log_metrics(self, values: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        assert self.run_id is not None
        stamp = int(time.time() * 1000)
        items = [Metric(key, value, stamp, step) for key, value in values.items()]
        for start in range(0, len(items), 1000):
            self.client.log_batch(self.run_id, metrics=items[start : start + 1000])

    def _log_report(self, run_dir: Path) -> None:
        """The run's HTML report without example texts (it needs the report extra's matplotlib)."""
        import importlib.util

        if importlib.util.find_spec("matplotlib") is None:
            logger.info("no HTML report in MLflow: matplotlib (the report extra) is not installed")
            return
        from mindscreen.report import build_report

        assert self.run_id is not None
        with tempfile.TemporaryDirectory() as folder:
            page = Path(folder) / "report.html"
            build_report(run_dir, page, examples=0)  # examples would show texts: never to a tracker
            self.client.log_artifact(self.run_id, str(page))
