"""Hyperparameter search with Optuna: one process by default, many workers on one database.

- :mod:`~mindscreen.tuning.space`: the search-space YAML, keyed by the run config's dotted paths.
- :mod:`~mindscreen.tuning.study`: storage, TPE sampler, median/Hyperband pruner, the shared budget.
- :mod:`~mindscreen.tuning.objective`: one trial: a fresh model, dev metric reported, pruned or failed.
- :mod:`~mindscreen.tuning.outputs`: best.yaml, trials.csv, importances.json, history.png.
- :mod:`~mindscreen.tuning.search`: :func:`tune`, the entry point.

Only this package imports optuna, and only when a search runs: importing it stays cheap.
"""

from mindscreen.tuning.search import TuneResult, tune
from mindscreen.tuning.space import SearchSpace, SpaceError, load_space

__all__ = ["SearchSpace", "SpaceError", "TuneResult", "load_space", "tune"]
