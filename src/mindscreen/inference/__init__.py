"""Applying an encoder classifier to token ids: what training's evaluation and every predictor share.

- :mod:`~mindscreen.inference.encoding`: tokenising texts (one or more windows each under the long-text
  mode, :mod:`mindscreen.long_text`), length-sorted batches, padded collation.
- :mod:`~mindscreen.inference.memory`: CUDA out-of-memory errors and freeing what a failed batch held.
- :mod:`~mindscreen.inference.forward`: OOM-safe batched forward passes (:func:`predict_logits`).

Nothing here imports :mod:`mindscreen.training`: prediction does not depend on the training loop, which
builds on these pieces.
"""

from mindscreen.inference.encoding import collate, encode_texts, encode_windows, eval_batches
from mindscreen.inference.forward import autocast, predict_logits
from mindscreen.long_text import (
    LONG_TEXT_MODES,
    Windows,
    aggregate_logits,
    training_mode,
    window_positions,
)

__all__ = [
    "LONG_TEXT_MODES",
    "Windows",
    "aggregate_logits",
    "autocast",
    "collate",
    "encode_texts",
    "encode_windows",
    "eval_batches",
    "predict_logits",
    "training_mode",
    "window_positions",
]
