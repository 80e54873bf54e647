"""Tokenising once, then batching with dynamic padding.

Texts are tokenised up front without padding; each batch is padded only to its own
longest text. Length grouping sorts texts by length inside large shuffled chunks, so a
batch holds texts of similar length and little compute goes to padding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from mindscreen.data import Split

# How many batches one length-sorted chunk spans: large enough to group lengths well,
# small enough that batch order stays random.
GROUP_CHUNK_BATCHES = 50


@dataclass
class Encoded:
    """A split as token ids, ready to batch."""

    ids: list[list[int]]
    labels: np.ndarray  # (N, C)

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(row) for row in self.ids])


def encode_split(tokenizer: Any, split: Split, max_length: int) -> Encoded:
    """A split's texts as token ids, with its labels."""
    return Encoded(encode_texts(tokenizer, split.texts, max_length), split.labels)


def encode_texts(tokenizer: Any, texts: list[str], max_length: int) -> list[list[int]]:
    """Token ids per text, truncated to ``max_length`` and with special tokens."""
    if not texts:
        return []
    encoded = tokenizer(texts, truncation=True, max_length=max_length, add_special_tokens=True)
    return [list(ids) for ids in encoded["input_ids"]]


def train_batches(
    lengths: np.ndarray,
    batch_size: int,
    rng: np.random.Generator,
    group_by_length: bool,
    indices: np.ndarray | None = None,
) -> list[np.ndarray]:
    """One epoch of shuffled batches of example indices.

    Args:
        lengths: (N,) token count of every example.
        batch_size: Examples per batch.
        rng: The epoch's generator.
        group_by_length: Batch examples of similar length together.
        indices: The epoch's examples, e.g. drawn by class-balanced sampling (repeats allowed);
            None: every example once.
    """
    order = rng.permutation(len(lengths)) if indices is None else rng.permutation(indices)
    if not group_by_length:
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    chunk = batch_size * GROUP_CHUNK_BATCHES
    batches: list[np.ndarray] = []
    for start in range(0, len(order), chunk):
        part = order[start : start + chunk]
        part = part[np.argsort(-lengths[part], kind="stable")]
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


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
