"""CUDA out-of-memory: the errors to catch, and freeing what a failed batch held.

Prediction (:func:`mindscreen.inference.predict_logits`) halves its batch after an out-of-memory
error: texts run longest first, so once a batch fits, every later one fits too. Training splits its
micro-batches instead (:mod:`mindscreen.training.oom`).
"""

from __future__ import annotations

import gc

import torch

# torch.cuda.OutOfMemoryError is an alias of torch.OutOfMemoryError in recent torch; older
# versions have only the former. Collect whichever exist.
OOM_ERRORS: tuple[type[BaseException], ...] = tuple(
    {
        error
        for error in (getattr(torch, "OutOfMemoryError", None), getattr(torch.cuda, "OutOfMemoryError", None))
        if isinstance(error, type)
    }
)


def smaller_eval_batch(size: int) -> int:
    """The prediction batch size after an out-of-memory error on ``size`` texts; raises at one text."""
    if size <= 1:
        raise RuntimeError(
            "CUDA out of memory predicting a single text (batch size 1), so a smaller "
            "train.eval_batch_size (evaluation in training) or predictor batch_size cannot help; "
            "free GPU memory held by other processes, lower model.max_length, use "
            "train.precision=bf16 (or fp16) in training, pick a smaller encoder, or predict on the "
            "CPU (load_predictor(path, device='cpu'))"
        )
    return size // 2


def free_memory(device: torch.device) -> None:
    """Release what the failed step held: Python garbage, then the CUDA cache."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
