"""Batched forward passes shared by training-time evaluation and prediction.

Shapes: ``N`` texts, ``C`` classes.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from mindscreen.modeling import Classifier
from mindscreen.training.batching import collate, eval_batches


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager[None]:
    """Mixed-precision context for ``dtype``, or a no-op for full precision."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


@torch.inference_mode()
def predict_logits(
    model: Classifier,
    ids: list[list[int]],
    pad_id: int,
    batch_size: int,
    amp_dtype: torch.dtype | None = None,
) -> np.ndarray:
    """Logits ``(N, C)`` in the input order, batching texts of similar length together."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    lengths = np.array([len(row) for row in ids])
    outputs: list[torch.Tensor] = []
    order: list[np.ndarray] = []
    for indices in eval_batches(lengths, batch_size):
        batch = collate(ids, indices, pad_id)
        with autocast(device, amp_dtype):
            logits = model(batch["input_ids"].to(device), batch["attention_mask"].to(device))
        outputs.append(logits.float())
        order.append(indices)
    model.train(was_training)
    if not outputs:
        return np.zeros((0, len(model.spec.labels)), dtype=np.float32)
    stacked = torch.cat(outputs).cpu().numpy()  # one device sync for the whole pass
    result = np.empty_like(stacked)
    result[np.concatenate(order)] = stacked
    return result


def to_probs(logits: np.ndarray, multi_label: bool) -> np.ndarray:
    """Sigmoid per class for multi-label, softmax over classes otherwise."""
    tensor = torch.from_numpy(logits)
    probs = torch.sigmoid(tensor) if multi_label else torch.softmax(tensor, dim=-1)
    return probs.numpy()
