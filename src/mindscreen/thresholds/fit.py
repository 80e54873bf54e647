"""Fitting per-class thresholds on dev data to maximise F1.

Shapes: ``N`` examples, ``C`` classes, ``M`` candidate thresholds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mindscreen.scores import f1_from_counts
from mindscreen.thresholds.rules import apply_thresholds, as_matrix, default_thresholds

_GRID = np.round(np.linspace(0.02, 0.98, 49), 6)  # multi-label candidates, besides midpoints of the probs
_MULTIPLIERS = np.geomspace(1 / 16, 16, 33)  # multi-class candidates, relative to the current threshold
_MAX_PASSES = 5
_TOL = 1e-12


def fit_thresholds(
    y_true: np.ndarray,
    probs: np.ndarray,
    multi_label: bool,
    grid: Sequence[float] | np.ndarray | None = None,
) -> np.ndarray:
    """Fit per-class thresholds on dev data to maximise F1. Deterministic.

    Multi-label: each class independently gets the threshold maximising its own F1 on dev, chosen in the
    middle of the best run of candidates; a class with no positives in dev keeps 0.5. Multi-class:
    coordinate ascent on macro-F1 over per-class scale thresholds, starting from argmax (1/C each) and
    accepting only strict improvements, so dev macro-F1 is never below the argmax start.

    Args:
        y_true: (N, C) 0/1 labels (one-hot rows for multi-class).
        probs: (N, C) probabilities.
        multi_label: Which decision rule the thresholds are for (see :func:`apply_thresholds`).
        grid: Multi-label: candidate thresholds (default: 0.02..0.98 in steps of 0.02 plus the midpoints
            between sorted unique probabilities of the class). Multi-class: candidate multipliers of the
            current threshold (default: 33 log-spaced values from 1/16 to 16).

    Returns:
        (C,) float thresholds; multi-class ones sum to 1.
    """
    probs = as_matrix(probs, "probs")
    truth = as_matrix(y_true, "y_true") >= 0.5
    if truth.shape != probs.shape:
        raise ValueError(f"y_true has shape {truth.shape} but probs has {probs.shape}; they must match")
    candidates = None if grid is None else np.unique(np.asarray(grid, dtype=float))
    if candidates is not None and (candidates.size == 0 or (not multi_label and candidates.min() <= 0)):
        raise ValueError("grid must be non-empty (and strictly positive multipliers for multi-class)")
    if multi_label:
        return _fit_multi_label(truth, probs, candidates)
    return _fit_multi_class(np.argmax(truth, axis=1), probs, candidates)


def _fit_multi_label(truth: np.ndarray, probs: np.ndarray, grid: np.ndarray | None) -> np.ndarray:
    thresholds = default_thresholds(probs.shape[1], multi_label=True)
    for c in range(probs.shape[1]):
        positives = np.sort(probs[truth[:, c], c])
        if positives.size == 0:
            continue
        column = np.sort(probs[:, c])
        if grid is None:
            unique = np.unique(column)
            candidates = np.union1d(_GRID, (unique[1:] + unique[:-1]) / 2)
        else:
            candidates = grid
        # F1 at every candidate at once: counts of probs >= t from the sorted arrays.
        predicted = column.size - np.searchsorted(column, candidates, side="left")
        hits = positives.size - np.searchsorted(positives, candidates, side="left")
        f1 = f1_from_counts(hits, predicted, positives.size)
        thresholds[c] = _middle_of_best_run(candidates, f1)
    return thresholds


def _fit_multi_class(truth: np.ndarray, probs: np.ndarray, grid: np.ndarray | None) -> np.ndarray:
    num_classes = probs.shape[1]
    start = default_thresholds(num_classes, multi_label=False)
    if num_classes == 1:
        return start
    multipliers = _MULTIPLIERS if grid is None else grid
    support = np.bincount(truth, minlength=num_classes)
    start_score = _macro_f1(truth, np.argmax(probs, axis=1)[None, :], support)[0]
    thresholds, best = start.copy(), start_score
    rows = np.arange(probs.shape[0])
    for _ in range(_MAX_PASSES):
        improved = False
        for c in range(num_classes):
            # With the other thresholds fixed, each row's best rival class does not depend on thresholds[c].
            others = probs / thresholds  # (N, C)
            others[:, c] = -np.inf
            rival = np.argmax(others, axis=1)
            rival_score = others[rows, rival]
            trial = thresholds[c] * multipliers  # (M,)
            own = probs[None, :, c] / trial[:, None]  # (M, N)
            wins = (own > rival_score) | ((own == rival_score) & (c < rival))  # np.argmax tie rule
            scores = _macro_f1(truth, np.where(wins, c, rival), support)
            if scores.max() > best + _TOL:
                thresholds[c] = _middle_of_best_run(trial, scores)
                best, improved = float(scores.max()), True
        if not improved:
            break
    thresholds /= thresholds.sum()
    # Rescaling can only move exact ties; keep the promise of never doing worse than argmax.
    final = np.argmax(apply_thresholds(probs, thresholds, multi_label=False), axis=1)
    return thresholds if _macro_f1(truth, final[None, :], support)[0] >= start_score else start


def _macro_f1(truth: np.ndarray, preds: np.ndarray, support: np.ndarray) -> np.ndarray:
    """Macro-F1 of each row of ``preds`` (M, N) against class indices ``truth`` (N,); 0 for empty classes."""
    return _class_f1(truth, preds, support).mean(axis=1)


def _class_f1(truth: np.ndarray, preds: np.ndarray, support: np.ndarray) -> np.ndarray:
    """(M, C) F1 per class for each row of ``preds`` (M, N); 0 where a class is neither true nor predicted.

    Counts by bincount over class indices: much cheaper here than one-hot matrices per candidate.
    """
    num_classes = support.size
    keys = preds + np.arange(preds.shape[0])[:, None] * num_classes  # (M, N)
    size = preds.shape[0] * num_classes
    predicted = np.bincount(keys.ravel(), minlength=size).reshape(-1, num_classes)
    hits = np.bincount(keys[preds == truth], minlength=size).reshape(-1, num_classes)
    return f1_from_counts(hits, predicted, support)


def _middle_of_best_run(candidates: np.ndarray, scores: np.ndarray) -> float:
    """The middle candidate of the first run of best scores: a margin on both sides of the threshold."""
    is_best = scores >= scores.max() - _TOL
    start = int(np.argmax(is_best))
    after = np.flatnonzero(~is_best[start:])
    stop = start + int(after[0]) if after.size else scores.size
    return float(candidates[(start + stop - 1) // 2])
