"""Tokenising once, then batching with dynamic padding.

Texts are tokenised up front without padding, a long one cut under ``model.long_text``
(:func:`encode_windows`, :mod:`mindscreen.long_text`); each batch is padded only to its own longest text.
Evaluation and prediction run texts longest first (:func:`eval_batches`), so batches hold texts of
similar length and little compute goes to padding.

Shapes: ``N`` texts, ``B`` batch, ``T`` tokens.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from mindscreen.long_text import Windows, cut_windows, full_encodings


def encode_texts(tokenizer: Any, texts: list[str], max_length: int) -> list[list[int]]:
    """Token ids per text, truncated to ``max_length`` and with special tokens."""
    if not texts:
        return []
    encoded = tokenizer(texts, truncation=True, max_length=max_length, add_special_tokens=True)
    return [list(ids) for ids in encoded["input_ids"]]


def encode_windows(tokenizer: Any, texts: list[str], max_length: int, mode: str = "truncate") -> Windows:
    """Token-id windows of ``texts`` under ``mode``; ``truncate`` is exactly :func:`encode_texts`."""
    if mode == "truncate":
        return Windows(encode_texts(tokenizer, texts, max_length), np.arange(len(texts)), len(texts))
    if not texts:
        return Windows([], np.zeros(0, dtype=np.int64), 0)
    ids, special = full_encodings(tokenizer, texts)
    return cut_windows(ids, special, max_length, mode)


def eval_batches(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Batches sorted by length (longest first), covering every index once."""
    order = np.argsort(-lengths, kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def collate(
    ids: list[list[int]],
    indices: np.ndarray,
    pad_id: int,
    labels: np.ndarray | None = None,
    pad_multiple: int = 1,
    pin: bool = False,
) -> dict[str, torch.Tensor]:
    """Pad the chosen texts to the batch's longest: ``input_ids``/``attention_mask`` ``(B, T)``.

    ``pad_multiple`` rounds ``T`` up (few distinct shapes for ``torch.compile``, tensor-core
    friendly widths); ``pin`` puts the batch in page-locked memory for asynchronous copies to a GPU.
    """
    rows = [ids[i] for i in indices]
    width = -(-max(len(row) for row in rows) // pad_multiple) * pad_multiple
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for r, row in enumerate(rows):
        input_ids[r, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[r, : len(row)] = 1
    batch = {"input_ids": input_ids, "attention_mask": mask}
    if labels is not None:
        batch["labels"] = torch.from_numpy(np.ascontiguousarray(labels[indices], dtype=np.float32))
    return {k: v.pin_memory() for k, v in batch.items()} if pin else batch
