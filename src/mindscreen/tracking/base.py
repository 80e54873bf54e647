"""The tracker protocol, the registry and the helpers every tracker shares.

The training loop calls a tracker at three points: :meth:`Tracker.start` once the config is resolved
(params: the config and the data profile), :meth:`Tracker.log_evaluation` after each evaluation (the
log.jsonl record) and :meth:`Tracker.finish` once the run directory is complete (final metrics and
artifacts); :meth:`Tracker.fail` instead when training raises (:func:`failed_on_error`).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from mindscreen.extras import require_extras

logger = logging.getLogger(__name__)


class Tracker(Protocol):
    """What the training loop reports to."""

    def start(self, run_dir: Path, params: Mapping[str, Any]) -> None:
        """Open a run; ``params`` are flat ``name -> value`` (config and data profile)."""
        ...

    def log_evaluation(self, step: int, record: Mapping[str, Any]) -> None:
        """One evaluation's numbers (a log.jsonl line) at optimizer step ``step``."""
        ...

    def finish(self, run_dir: Path, metrics: Mapping[str, Any]) -> None:
        """The final metrics (metrics.json) and the finished run directory; closes the run."""
        ...

    def fail(self) -> None:
        """Close the run as failed: training raised (or was interrupted) before :meth:`finish`."""
        ...


class NullTracker:
    """No tracking: every call does nothing (``train.tracking: []``)."""

    def start(self, run_dir: Path, params: Mapping[str, Any]) -> None:
        pass

    def log_evaluation(self, step: int, record: Mapping[str, Any]) -> None:
        pass

    def finish(self, run_dir: Path, metrics: Mapping[str, Any]) -> None:
        pass

    def fail(self) -> None:
        pass


class Trackers:
    """Several trackers as one; trackers that upload the run directory finish last, so that they
    upload what the others wrote into it (TensorBoard's event files)."""

    def __init__(self, trackers: Sequence[Tracker]) -> None:
        self.trackers = sorted(trackers, key=lambda t: bool(getattr(t, "uploads_run_dir", False)))

    def start(self, run_dir: Path, params: Mapping[str, Any]) -> None:
        for tracker in self.trackers:
            tracker.start(run_dir, params)

    def log_evaluation(self, step: int, record: Mapping[str, Any]) -> None:
        for tracker in self.trackers:
            tracker.log_evaluation(step, record)

    def finish(self, run_dir: Path, metrics: Mapping[str, Any]) -> None:
        for tracker in self.trackers:
            tracker.finish(run_dir, metrics)

    def fail(self) -> None:
        for tracker in self.trackers:
            tracker.fail()


@contextmanager
def failed_on_error(tracker: Tracker) -> Iterator[None]:
    """Mark the tracked run failed when the block raises (an error, Ctrl-C), then re-raise: a crashed
    training never stays ``RUNNING`` in the tracker."""
    try:
        yield
    except BaseException:
        try:
            tracker.fail()
        except Exception as err:  # the training error matters more than the tracker's
            logger.warning("could not mark the tracked run failed: %s", type(err).__name__)
        raise


def _mlflow(settings: Mapping[str, Any]) -> Tracker:
    require_extras("train.tracking: mlflow", "mlflow")
    from mindscreen.tracking.mlflow_tracker import MlflowTracker

    return MlflowTracker(settings.get("uri"), settings.get("experiment") or "mindscreen")


def _tensorboard(settings: Mapping[str, Any]) -> Tracker:
    require_extras("train.tracking: tensorboard", "tensorboard")
    from mindscreen.tracking.tensorboard_tracker import TensorBoardTracker

    return TensorBoardTracker()


TRACKERS: dict[str, Callable[[Mapping[str, Any]], Tracker]] = {
    "mlflow": _mlflow,
    "tensorboard": _tensorboard,
}


def build_tracker(names: Sequence[str], settings: Mapping[str, Any] | None = None) -> Tracker:
    """One tracker for ``names`` (keys of :data:`TRACKERS`); a :class:`NullTracker` for none.

    Args:
        names: ``train.tracking``.
        settings: ``uri`` (MLflow tracking URI; None: MLflow's default or ``MLFLOW_TRACKING_URI``) and
            ``experiment`` (MLflow experiment name).

    Raises:
        ValueError: an unknown name. MissingExtraError: its package is not installed.
    """
    if not names:
        return NullTracker()
    unknown = [name for name in names if name not in TRACKERS]
    if unknown:
        raise ValueError(f"unknown tracker(s) {unknown}; choose from: {', '.join(TRACKERS)}")
    return Trackers([TRACKERS[name](settings or {}) for name in dict.fromkeys(names)])


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as ``{"a.b.c": leaf}``; lists stay leaves."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def numeric(tree: Mapping[str, Any]) -> dict[str, float]:
    """The finite numbers of a nested dict, flattened, with names every tracker accepts."""
    found: dict[str, float] = {}
    for name, value in flatten(tree).items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            continue
        found[safe_name(name)] = float(value)
    return found


def safe_name(name: str) -> str:
    """Letters, digits, ``_ - . /`` and spaces only (MLflow's rule for keys)."""
    return re.sub(r"[^A-Za-z0-9_\-./ ]", "_", name)
