"""Class weights from the training label counts, applied by every loss (``train.loss.class_weights``).

Multi-class: one weight per class, multiplying the true class's term. Multi-label: a weight for the
positive and one for the negative term of each label, since every label is its own yes/no problem.
Weights are proportional to ``1 / n`` ('inverse') or to the inverse effective number of samples
``(1 - beta) / (1 - beta^n)`` ('effective', Cui et al. 2019, *Class-Balanced Loss Based on Effective
Number of Samples*), then scaled so the weight of a training example (or label entry) is 1 on average:
the learning rate keeps its meaning.

Shapes: ``N`` examples, ``C`` classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Scheme = Literal["none", "inverse", "effective"]
SCHEMES: tuple[str, ...] = ("none", "inverse", "effective")


@dataclass(frozen=True)
class ClassWeights:
    """Per-class loss weights.

    Attributes:
        positive: (C,) weight of each class's term (multi-class), or of each label's positive term.
        negative: (C,) multi-label only: weight of each label's negative term; None for multi-class.
    """

    positive: np.ndarray
    negative: np.ndarray | None = None


def build_class_weights(
    train_labels: np.ndarray, scheme: str, beta: float = 0.999, multi_label: bool = False
) -> ClassWeights | None:
    """Class weights from the training labels ``(N, C)``; None for ``scheme='none'``."""
    if scheme == "none":
        return None
    if scheme not in SCHEMES:
        raise ValueError(f"unknown class weights {scheme!r}; choose one of: {', '.join(SCHEMES)}")
    labels = np.asarray(train_labels, dtype=np.float64) >= 0.5  # (N, C)
    total = labels.shape[0]

    def inverse_size(counts: np.ndarray) -> np.ndarray:
        counts = np.maximum(counts, 1.0)  # a class absent from train would divide by zero
        if scheme == "inverse":
            return 1.0 / counts
        return (1.0 - beta) / (1.0 - np.power(beta, counts))

    positives = labels.sum(axis=0)  # (C,)
    if not multi_label:
        weights = inverse_size(positives)
        return ClassWeights(weights * total / float(np.sum(weights * positives)))
    negatives = total - positives
    pos, neg = inverse_size(positives), inverse_size(negatives)
    scale = total / (pos * positives + neg * negatives)  # (C,): each label's entries average 1
    return ClassWeights(pos * scale, neg * scale)
