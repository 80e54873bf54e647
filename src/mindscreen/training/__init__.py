"""The training loop and its parts: batching, optimisation, checkpoints."""

from mindscreen.training.loop import TrainResult, train

__all__ = ["TrainResult", "train"]
