"""Recovering from CUDA out-of-memory: smaller micro-batches, same effective batch.

When a forward or backward pass runs out of GPU memory, the loop drops the gradients of the
current optimizer step, frees cached memory, splits every configured micro-batch into twice as
many parts (micro-batch halved, accumulation doubled, so ``batch_size * grad_accum`` and the
schedule stay the same) and redoes the step. The split factor is saved in the checkpoint, so a
resumed run keeps the smaller micro-batch.

Prediction (:func:`mindscreen.inference.predict_logits`) halves its batch instead: texts run longest
first, so once a batch fits, every later one fits too.
"""

from __future__ import annotations

import gc
import math

import numpy as np
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


def split_batch(indices: np.ndarray, parts: int) -> list[np.ndarray]:
    """``indices`` in ``parts`` nearly equal, non-empty pieces (fewer when the batch is smaller)."""
    return [piece for piece in np.array_split(indices, min(parts, len(indices))) if len(piece)]


def micro_batch_size(batch_size: int, splits: int) -> int:
    """Texts per forward pass when each configured micro-batch is split ``splits`` ways."""
    return math.ceil(batch_size / splits)


def next_split(batch_size: int, splits: int) -> int:
    """The split factor after one more out-of-memory error; raises when already at one text."""
    if micro_batch_size(batch_size, splits) <= 1:
        raise RuntimeError(
            "CUDA out of memory with a micro-batch of a single text; lower model.max_length, "
            "use train.precision=bf16 (or fp16), or pick a smaller encoder"
        )
    return splits * 2


def smaller_eval_batch(size: int) -> int:
    """The prediction batch size after an out-of-memory error on ``size`` texts; raises at one text."""
    if size <= 1:
        raise RuntimeError(
            "CUDA out of memory predicting a single text (batch size 1), so a smaller "
            "train.eval_batch_size (evaluation in training) or predictor batch_size cannot help; "
            "free GPU memory held by other processes, lower model.max_length, use "
            "train.precision=bf16 (or fp16) in training, pick a smaller encoder, or predict on the "
            "CPU (Predictor.from_dir(run, device='cpu'))"
        )
    return size // 2


def free_memory(device: torch.device) -> None:
    """Release what the failed step held: Python garbage, then the CUDA cache."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
