"""Recovering from CUDA out-of-memory: smaller micro-batches, same effective batch.

When a forward or backward pass runs out of GPU memory, the loop drops the gradients of the
current optimizer step, frees cached memory, splits every configured micro-batch into twice as
many parts (micro-batch halved, accumulation doubled, so ``batch_size * grad_accum`` and the
schedule stay the same) and redoes the step. The split factor is saved in the checkpoint, so a
resumed run keeps the smaller micro-batch.

Prediction halves its batch instead (:mod:`mindscreen.inference.memory`).
"""

from __future__ import annotations

import math

import numpy as np

from mindscreen.inference.memory import OOM_ERRORS, free_memory

__all__ = ["OOM_ERRORS", "free_memory", "micro_batch_size", "next_split", "split_batch"]


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
