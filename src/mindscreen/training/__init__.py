"""The training loop and its parts: batching, epochs, optimisation, EMA, checkpoints, the run's end.

Training builds on :mod:`mindscreen.inference` (tokenising, collation, batched forward passes); nothing
outside training imports this package except the tuner and ensemble members trained from a config.
"""

from mindscreen.training.loop import TrainResult, train

__all__ = ["TrainResult", "train"]
