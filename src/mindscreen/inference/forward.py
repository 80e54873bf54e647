"""OOM-safe batched forward passes, shared by training-time evaluation and prediction.

Shapes: ``N`` texts, ``B`` batch, ``C`` classes.
"""

from __future__ import annotations

import contextlib
import logging

import numpy as np
import torch

from mindscreen.inference.encoding import collate, eval_batches
from mindscreen.inference.memory import OOM_ERRORS, free_memory, smaller_eval_batch
from mindscreen.modeling import Classifier

logger = logging.getLogger(__name__)


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
    """Logits ``(N, C)`` in the input order, batching texts of similar length together.

    On CUDA out-of-memory the failed batch's memory is freed, the batch size is halved for the rest
    of the pass and that batch is redone; texts run longest first, so once a size fits it keeps
    fitting. Raises ``RuntimeError`` when a single text does not fit.
    """
    was_training = model.training
    if was_training:  # eval() walks every module: skipped for a model already in eval mode (serving)
        model.eval()
    try:
        outputs, batches = _forward_batches(model, ids, pad_id, batch_size, amp_dtype)
    finally:
        if was_training:
            model.train()
    if not outputs:
        return np.zeros((0, len(model.spec.labels)), dtype=np.float32)
    stacked = torch.cat(outputs).cpu().numpy()  # one device sync for the whole pass
    result = np.empty_like(stacked)
    result[np.concatenate(batches)] = stacked
    return result


def _forward_batches(
    model: Classifier,
    ids: list[list[int]],
    pad_id: int,
    batch_size: int,
    amp_dtype: torch.dtype | None,
) -> tuple[list[torch.Tensor], list[np.ndarray]]:
    """Logits ``(B, C)`` per batch, left on the device, and the batches' text indices."""
    device = next(model.parameters()).device
    batches = eval_batches(np.array([len(row) for row in ids]), batch_size)
    outputs: list[torch.Tensor] = []
    while len(outputs) < len(batches):
        indices = batches[len(outputs)]
        try:
            batch = collate(ids, indices, pad_id)
            with autocast(device, amp_dtype):
                logits = model(batch["input_ids"].to(device), batch["attention_mask"].to(device))
        except OOM_ERRORS:
            pass
        else:
            outputs.append(logits.float())
            continue
        # Outside the except block, so the failed batch's frames and tensors can be freed.
        free_memory(device)
        size = smaller_eval_batch(len(indices))
        logger.warning(
            "CUDA out of memory predicting: batch size %d -> %d for the rest of this pass "
            "(a lower train.eval_batch_size or predictor batch_size avoids the retry)",
            len(indices),
            size,
        )
        rest = np.concatenate(batches[len(outputs) :])  # still longest first
        batches[len(outputs) :] = [rest[i : i + size] for i in range(0, len(rest), size)]
    return outputs, batches
