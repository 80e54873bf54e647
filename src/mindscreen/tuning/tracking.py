"""Search trials as nested MLflow runs: one parent run per search process, one child run per trial.

With ``mlflow`` in the base config's ``train.tracking``, ``mindscreen tune`` opens a parent run named
after the study (params: the base config) and, under it, one run per trial this process runs: the
trial's sampled params, its dev metric at every evaluation (step = optimizer step) and its end as a
run status (complete: ``FINISHED``, pruned: ``KILLED``, failed: ``FAILED``). Workers sharing a study
each open their own parent run, tagged with the study name, so the tracker shows which worker ran
what. Trials keep no model, so nothing else is uploaded; texts never are. TensorBoard does not nest
and is not used for trials.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Protocol

from mindscreen.config import RunConfig
from mindscreen.extras import require_extras
from mindscreen.tracking import flatten
from mindscreen.tracking.base import safe_name

logger = logging.getLogger(__name__)

STATUS = {"complete": "FINISHED", "pruned": "KILLED"}  # anything else: FAILED
PARAM_BATCH = 100  # MLflow's limit per log_batch call


class TrialTracker(Protocol):
    """What a search reports its trials to."""

    def start_trial(self, number: int, params: dict[str, Any]) -> None: ...

    def log_value(self, step: int, name: str, value: float) -> None: ...

    def end_trial(self, outcome: str) -> None: ...

    def close(self, failed: bool) -> None: ...


class NullTrialTracker:
    """No tracking (``train.tracking`` without mlflow)."""

    def start_trial(self, number: int, params: dict[str, Any]) -> None:
        pass

    def log_value(self, step: int, name: str, value: float) -> None:
        pass

    def end_trial(self, outcome: str) -> None:
        pass

    def close(self, failed: bool) -> None:
        pass


class MlflowTrialTracker:
    """A parent run for this search process and a child run (``mlflow.parentRunId``) per trial."""

    def __init__(self, base: RunConfig, study_name: str, study_dir: Path) -> None:
        from mlflow import MlflowClient

        tcfg = base.train
        self.client = MlflowClient(tracking_uri=tcfg.tracking_uri)
        found = self.client.get_experiment_by_name(tcfg.experiment)
        self.experiment_id = found.experiment_id if found else self.client.create_experiment(tcfg.experiment)
        tags = {"mindscreen.study": study_name, "mindscreen.study_dir": str(study_dir)}
        parent = self.client.create_run(self.experiment_id, run_name=f"tune {study_name}", tags=tags)
        self.parent_id = parent.info.run_id
        self._log_params(self.parent_id, flatten(base.model_dump(mode="json")))
        self.trial_id: str | None = None
        logger.info("MLflow parent run %s for study %s", self.parent_id, study_name)

    def start_trial(self, number: int, params: dict[str, Any]) -> None:
        tags = {"mlflow.parentRunId": self.parent_id, "mindscreen.trial": str(number)}
        run = self.client.create_run(self.experiment_id, run_name=f"trial {number:04d}", tags=tags)
        self.trial_id = run.info.run_id
        self._log_params(self.trial_id, params)

    def log_value(self, step: int, name: str, value: float) -> None:
        if self.trial_id is not None:
            self.client.log_metric(self.trial_id, safe_name(name), value, step=step)

    def end_trial(self, outcome: str) -> None:
        if self.trial_id is not None:
            self.client.set_terminated(self.trial_id, STATUS.get(outcome, "FAILED"))
            self.trial_id = None

    def close(self, failed: bool) -> None:
        if self.trial_id is not None:  # a trial cut short by the search's own failure
            self.end_trial("failed")
        self.client.set_terminated(self.parent_id, "FAILED" if failed else "FINISHED")

    def _log_params(self, run_id: str, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(safe_name(k), str(v)[:6000]) for k, v in params.items()]
        for start in range(0, len(items), PARAM_BATCH):
            self.client.log_batch(run_id, params=items[start : start + PARAM_BATCH])


def build_trial_tracker(base: RunConfig, study_name: str, study_dir: Path) -> TrialTracker:
    """Nested MLflow runs when the base config tracks with mlflow; else a tracker that does nothing."""
    if "mlflow" not in base.train.tracking:
        return NullTrialTracker()
    require_extras("train.tracking: mlflow", "mlflow")
    return MlflowTrialTracker(base, study_name, study_dir)
