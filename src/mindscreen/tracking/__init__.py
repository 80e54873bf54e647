"""Experiment tracking: MLflow and TensorBoard, named in ``train.tracking``.

- :mod:`~mindscreen.tracking.base`: the :class:`Tracker` protocol, :data:`TRACKERS` (name -> factory),
  :func:`build_tracker` and the flattening of configs and metrics into tracker-safe names.
- :mod:`~mindscreen.tracking.mlflow_tracker`: params, per-evaluation metrics, final per-class metrics,
  the card, a text-free HTML report and the run directory as artifacts.
- :mod:`~mindscreen.tracking.tensorboard_tracker`: event files in ``RUN/tensorboard``.

Nothing here imports mlflow or tensorboard until a tracker is built; with ``train.tracking: []`` the
training loop gets a :class:`NullTracker` that does nothing. Texts never reach a tracker: only the
resolved config, the data profile (counts), metrics and the run directory's files are sent.
"""

from mindscreen.tracking.base import TRACKERS, NullTracker, Tracker, build_tracker, failed_on_error, flatten

__all__ = ["TRACKERS", "NullTracker", "Tracker", "build_tracker", "failed_on_error", "flatten"]
