"""Decision rules: turning probabilities into labels with per-class thresholds.

Shapes: ``N`` examples, ``C`` classes; ``probs`` is (N, C), thresholds are (C,).
"""

from __future__ import annotations

import numpy as np

MULTI_LABEL_DEFAULT = 0.5


def default_thresholds(num_labels: int, multi_label: bool) -> np.ndarray:
    """Thresholds before any fitting.

    Args:
        num_labels: Number of classes ``C``.
        multi_label: Whether each class is an independent yes/no decision.

    Returns:
        (C,) floats: 0.5 each for multi-label; 1/C each for multi-class, which makes
        :func:`apply_thresholds` plain argmax.
    """
    if num_labels < 1:
        raise ValueError(f"num_labels must be at least 1, got {num_labels}")
    value = MULTI_LABEL_DEFAULT if multi_label else 1.0 / num_labels
    return np.full(num_labels, value, dtype=float)


def apply_thresholds(probs: np.ndarray, thresholds: np.ndarray, multi_label: bool) -> np.ndarray:
    """Turn probabilities into 0/1 predictions.

    Args:
        probs: (N, C) probabilities; softmax rows for multi-class, sigmoids for multi-label.
        thresholds: (C,) per-class thresholds; strictly positive for multi-class.
        multi_label: Threshold each class independently (True) or pick one class per row (False).

    Returns:
        (N, C) int array of 0/1; multi-class rows hold exactly one 1.
    """
    probs = as_matrix(probs, "probs")
    thresholds = _as_thresholds(thresholds, probs.shape[1], multi_label)
    if multi_label:
        return (probs >= thresholds).astype(np.int64)
    # Equal thresholds are plain argmax; skipping the division keeps that exact.
    scores = probs if np.all(thresholds == thresholds[0]) else probs / thresholds  # (N, C)
    return _one_hot(np.argmax(scores, axis=1), probs.shape[1])


def decide_labels(
    probs: np.ndarray, thresholds: np.ndarray, labels: list[str], multi_label: bool
) -> list[list[str]]:
    """Label names per text from probabilities ``(N, C)``: what every predictor's ``decide`` returns."""
    chosen = apply_thresholds(probs, thresholds, multi_label)  # (N, C)
    return [[labels[c] for c in np.flatnonzero(row)] for row in chosen]


def _one_hot(indices: np.ndarray, num_classes: int) -> np.ndarray:
    out = np.zeros((indices.size, num_classes), dtype=np.int64)
    out[np.arange(indices.size), indices] = 1
    return out


def as_matrix(values: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 2 or array.shape[1] == 0:
        raise ValueError(f"{name} must be an (N, C) array with C >= 1, got shape {array.shape}")
    return array


def _as_thresholds(thresholds: np.ndarray, num_classes: int, multi_label: bool) -> np.ndarray:
    array = np.asarray(thresholds, dtype=float)
    if array.shape != (num_classes,):
        raise ValueError(f"thresholds must have shape ({num_classes},) to match probs, got {array.shape}")
    if not multi_label and np.any(array <= 0):
        raise ValueError(f"multi-class thresholds are scales and must be > 0, got {array.tolist()}")
    return array
