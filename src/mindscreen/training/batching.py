"""Training batches: a split's token ids, and shuffled, length-grouped batches of them.

Tokenising and padding are shared with prediction (:mod:`mindscreen.inference.encoding`). Length
grouping sorts texts by length inside large shuffled chunks, so a batch holds texts of similar length
and little compute goes to padding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mindscreen.data import Split
from mindscreen.inference.encoding import encode_windows
from mindscreen.long_text import Windows

# How many batches one length-sorted chunk spans: large enough to group lengths well,
# small enough that batch order stays random.
GROUP_CHUNK_BATCHES = 50


@dataclass
class Encoded:
    """A split as token ids, ready to batch: one row per text, or per window under ``chunks``."""

    ids: list[list[int]]
    labels: np.ndarray  # (N, C)
    windows: Windows | None = None  # which text each row of ids belongs to (None: one row per text)

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(row) for row in self.ids])


def encode_split(tokenizer: Any, split: Split, max_length: int, long_text: str = "truncate") -> Encoded:
    """A split's texts as token ids under the long-text mode ``long_text``, with its labels."""
    windows = encode_windows(tokenizer, split.texts, max_length, long_text)
    return Encoded(windows.ids, split.labels, windows)


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
