"""Class-balanced sampling: how likely each training example is to be drawn in an epoch.

Shapes: ``N`` examples, ``C`` classes; ``labels`` is (N, C) 0/1.

Class ``c`` with ``n_c`` training examples gets the weight ``n_c ** -power``. A multi-class example
carries its class's weight, so with ``power = 1`` every class is drawn equally often, with
``power = 0.5`` in proportion to the square root of its size, and with ``power = 0`` every example
is equally likely (plain shuffling, but with replacement). A multi-label example carries the weight
of its rarest label (``reduce='rarest'``, the default: an example is oversampled for the rarest
thing it shows) or the mean weight of its labels (``reduce='mean'``); rows with no label at all
count as one more class of their own.

Each epoch draws ``N`` indices with replacement (as ``torch.utils.data.WeightedRandomSampler``),
so an epoch has as many steps as without sampling. The draw comes from the epoch's generator,
``np.random.default_rng([seed, epoch])``, which keeps resumed runs exact; the drawn indices are
then length-grouped into batches like any epoch.
"""

from __future__ import annotations

from typing import Literal

import numpy as np


def build_sample_weights(
    labels: np.ndarray,
    power: float = 1.0,
    multi_label: bool = False,
    reduce: Literal["rarest", "mean"] = "rarest",
) -> np.ndarray:
    """Probability of drawing each example, ``(N,)`` summing to 1.

    Args:
        labels: (N, C) 0/1 training labels (one-hot rows for multi-class).
        power: Balancing strength: 1 fully balanced, 0.5 square root, 0 uniform.
        multi_label: Whether rows may carry several labels (or none).
        reduce: Multi-label: weight of the rarest label of a row, or the mean over its labels.
    """
    truth = np.asarray(labels, dtype=np.float64) >= 0.5  # (N, C)
    if truth.ndim != 2 or truth.shape[0] == 0:
        raise ValueError(f"labels must be a non-empty (N, C) 0/1 array, got shape {truth.shape}")
    if power < 0:
        raise ValueError(f"sampling power must be >= 0 (1: balanced, 0.5: square root), got {power}")
    empty = ~truth.any(axis=1)  # (N,)
    if empty.any() and not multi_label:
        raise ValueError(f"{int(empty.sum())} multi-class rows carry no label; every row needs one")
    counts = truth.sum(axis=0)  # (C,)
    class_weight = np.where(counts > 0, np.maximum(counts, 1) ** -power, 0.0)  # (C,)
    if not multi_label:
        weights = class_weight[truth.argmax(axis=1)]
    elif reduce == "rarest":
        weights = np.where(truth, class_weight, 0.0).max(axis=1)
    elif reduce == "mean":
        weights = (truth * class_weight).sum(axis=1) / np.maximum(truth.sum(axis=1), 1)
    else:
        raise ValueError(f"unknown reduce {reduce!r}; choose 'rarest' or 'mean'")
    if empty.any():
        weights[empty] = float(empty.sum()) ** -power
    return weights / weights.sum()


def sample_epoch(probabilities: np.ndarray, rng: np.random.Generator, size: int | None = None) -> np.ndarray:
    """Draw ``size`` (default ``N``) example indices with replacement, sorted for readability.

    The order does not matter: batching shuffles (and length-groups) the drawn indices.
    """
    count = len(probabilities) if size is None else size
    return np.sort(rng.choice(len(probabilities), size=count, replace=True, p=probabilities))
