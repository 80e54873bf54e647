"""One trial: a fresh model trained on a sampled config, scored on dev, pruned when it lags.

The objective value is the best dev value of ``train.metric`` (default thresholds) over the trial's
evaluations, the same number that picks the run's best checkpoint. Test data is never read for it.
The pruner sees that dev value after every evaluation; its step is the evaluation's ordinal, so with
evaluation at each epoch's end, step k is epoch k whatever the trial's batch size.

A trial that runs out of memory, diverges (NaN loss) or raises another runtime error is recorded as
failed, with the error, and the study goes on. Its weights are never kept: each trial folder keeps
only ``config.yaml`` and ``log.jsonl``; ``best.yaml`` retrains the winner. Trials train with
``keep_model=False``: no weights or checkpoints are written and test is never scored.
"""

from __future__ import annotations

import gc
import logging
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna

from mindscreen.config import RunConfig
from mindscreen.metrics import primary_metric
from mindscreen.rundir import CONFIG_FILE, LOG_FILE, read_log
from mindscreen.tuning.space import SearchSpace, apply_params, suggest_params
from mindscreen.tuning.study import WORKER, counts_toward_budget
from mindscreen.tuning.tracking import NullTrialTracker, TrialTracker

logger = logging.getLogger(__name__)

KEPT_FILES = (CONFIG_FILE, LOG_FILE)
TRIALS_DIR = "trials"


class TrialFailed(RuntimeError):
    """A trial that could not finish (out of memory, NaN loss, ...); the study records it and goes on."""


class BudgetUsed(RuntimeError):
    """The study already holds its ``n_trials``; this trial is skipped without training."""


def trial_dir(study_dir: Path, number: int) -> Path:
    return study_dir / TRIALS_DIR / f"{number:04d}"


@dataclass
class Objective:
    """Callable that Optuna runs once per trial."""

    base: RunConfig
    space: SearchSpace
    study_dir: Path
    n_trials: int | None
    direction: str
    tracker: TrialTracker = field(default_factory=NullTrialTracker)  # nested MLflow runs, or nothing
    outcome: str = field(default="", init=False)  # of the last trial: complete/pruned/failed/skipped

    def __call__(self, trial: optuna.Trial) -> float:
        self.outcome = "skipped"
        self._check_budget(trial)
        trial.set_user_attr("worker", WORKER)
        params = suggest_params(trial, self.space)
        config = apply_params(self.base, params, trial_dir(self.study_dir, trial.number))
        reporter = Reporter(trial, config.train.metric, Path(config.output_dir), self.tracker)
        from mindscreen.training import train

        self.tracker.start_trial(trial.number, params)
        try:
            train(config, overwrite=True, progress=False, on_evaluate=reporter, keep_model=False)
            value = reporter.best(self.direction)
            self.outcome = "complete"
        except optuna.TrialPruned:
            self.outcome = "pruned"
            raise
        except (RuntimeError, ArithmeticError, ValueError, MemoryError) as err:
            if _is_user_error(err):
                raise
            self.outcome = "failed"
            reason = describe_failure(err)
            trial.set_user_attr("error", reason)
            raise TrialFailed(reason) from err
        finally:
            trial.set_user_attr("evaluations", len(reporter.values))
            self.tracker.end_trial(self.outcome)
            strip_run_dir(Path(config.output_dir))
            free_memory()
        return value

    def _check_budget(self, trial: optuna.Trial) -> None:
        """Skip a trial created after the study's budget was used (two workers asking at once)."""
        if self.n_trials is None:
            return
        earlier = [t for t in trial.study.get_trials(deepcopy=False) if t.number < trial.number]
        if sum(counts_toward_budget(t) for t in earlier) >= self.n_trials:
            trial.set_user_attr("skipped", "n_trials already used")
            raise BudgetUsed(f"study already holds its {self.n_trials} trials; trial {trial.number} skipped")


@dataclass
class Reporter:
    """The ``on_evaluate`` hook of a trial: checks the losses, reports the dev value, prunes."""

    trial: optuna.Trial
    metric: str
    run_dir: Path
    tracker: TrialTracker = field(default_factory=NullTrialTracker)
    values: list[float] = field(default_factory=list)

    def __call__(self, step: int, dev_metrics: dict[str, Any]) -> None:
        records = read_log(self.run_dir)
        record = records[-1] if records else {}
        if record.get("train_loss") is None or record.get("val_loss") is None:
            raise FloatingPointError(f"loss became NaN by step {step}")
        value = primary_metric(dev_metrics, self.metric)
        self.values.append(value)
        self.tracker.log_value(step, f"val_{self.metric}", value)
        self.trial.report(value, len(self.values))
        if self.trial.should_prune():
            raise optuna.TrialPruned(
                f"pruned at evaluation {len(self.values)} (step {step}): dev {self.metric} {value:.4f}"
            )

    def best(self, direction: str) -> float:
        finite = [v for v in self.values if math.isfinite(v)]
        if not finite:
            raise FloatingPointError(f"no finite dev {self.metric} in {len(self.values)} evaluations")
        return max(finite) if direction == "maximize" else min(finite)


def _is_user_error(err: BaseException) -> bool:
    """Errors every trial would hit (bad data, bad config): stop the study instead of failing trials."""
    from mindscreen.config import ConfigError
    from mindscreen.data import DataError

    return isinstance(err, ConfigError | DataError)


def describe_failure(err: BaseException) -> str:
    """A one-line reason; the messages come from torch and mindscreen and carry no texts."""
    import torch

    if isinstance(err, torch.OutOfMemoryError | MemoryError):
        return "out of memory: lower train.batch_size or model.max_length, or raise train.grad_accum"
    first_line = (str(err).strip().splitlines() or [""])[0][:300]
    if isinstance(err, FloatingPointError) or "nan" in first_line.lower():
        return f"diverged (NaN): {first_line}; lower the high bound of train.lr"
    return f"{type(err).__name__}: {first_line}"


def strip_run_dir(run_dir: Path) -> None:
    """Delete a trial's weights and predictions; keep its config and log."""
    if not run_dir.is_dir():
        return
    for path in run_dir.iterdir():
        if path.name in KEPT_FILES:
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def free_memory() -> None:
    """Release the last trial's model: Python objects first, then the CUDA cache."""
    gc.collect()
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
