"""Scores of 0/1 predictions: the one F1 kernel, and the registry of primary metrics.

Everything that scores decisions goes through :func:`f1_from_counts`: the metrics report, threshold
fitting and its out-of-fold check, the ensemble weight search and the pipeline's recall floors.
Callers count hits, predictions and support their own fastest way (bincounts over candidate
predictions, bootstrap weights) and share the F1 rule: ``2 tp / (support + predicted)``, and 0 for
a class that is neither true nor predicted (scikit-learn's ``zero_division=0``), so a class absent
from the data pulls the macro average down instead of dropping out of it.

:data:`METRICS` holds the scalar summaries that can be a run's primary metric (early stopping, best
checkpoint, thresholds, ensemble weights, tuning); config validation takes its names from here. Every
one of them is higher-is-better.

Shapes: ``N`` examples, ``C`` classes, ``R`` weightings of the rows (e.g. bootstrap resamples).
Only numpy is imported, so config validation stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike


def f1_from_counts(hits: ArrayLike, predicted: ArrayLike, support: ArrayLike) -> np.ndarray:
    """F1 per class from true positives, predicted positives and support (any matching shapes).

    A class with no support and no predictions scores 0.
    """
    hits = np.asarray(hits, dtype=float)
    denominator = np.asarray(support, dtype=float) + np.asarray(predicted, dtype=float)
    return np.divide(2 * hits, denominator, out=np.zeros(denominator.shape), where=denominator > 0)


def class_counts(
    truth: np.ndarray, predicted: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hits, predicted positives and support per class of 0/1 matrices ``(N, C)``.

    Args:
        truth: (N, C) 0/1 (or bool) labels.
        predicted: (N, C) 0/1 (or bool) predictions.
        weights: (R, N) how often each row counts in each of ``R`` weightings; None: once each.

    Returns:
        Three ``(C,)`` arrays, or ``(R, C)`` with ``weights``.
    """
    truth, predicted = np.asarray(truth) >= 0.5, np.asarray(predicted) >= 0.5
    if weights is None:
        return (truth & predicted).sum(axis=0), predicted.sum(axis=0), truth.sum(axis=0)
    t, p = truth.astype(float), predicted.astype(float)
    return weights @ (t * p), weights @ p, weights @ t


def class_f1(truth: np.ndarray, predicted: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """(C,) F1 per class of 0/1 matrices ``(N, C)``; (R, C) with row ``weights`` (R, N)."""
    return f1_from_counts(*class_counts(truth, predicted, weights))


def macro_f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Mean of the per-class F1 of 0/1 matrices ``(N, C)``."""
    return float(class_f1(truth, predicted).mean())


def micro_f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    """F1 of all (example, class) decisions pooled."""
    hits, predicted_count, support = class_counts(truth, predicted)
    return float(f1_from_counts(hits.sum(), predicted_count.sum(), support.sum()))


def weighted_f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Per-class F1 averaged with the classes' support as weights (0 when nothing is true)."""
    hits, predicted_count, support = class_counts(truth, predicted)
    total = support.sum()
    return float((f1_from_counts(hits, predicted_count, support) * support).sum() / total) if total else 0.0


def accuracy(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Share of rows predicted exactly: accuracy for multi-class, subset accuracy for multi-label."""
    return float(np.mean(np.all((np.asarray(truth) >= 0.5) == (np.asarray(predicted) >= 0.5), axis=1)))


Metric = Callable[[np.ndarray, np.ndarray], float]

#: The primary metrics: name -> score of 0/1 predictions ``(N, C)`` against 0/1 labels ``(N, C)``.
#: :func:`mindscreen.metrics.compute_metrics` reports each under its name.
METRICS: dict[str, Metric] = {
    "macro_f1": macro_f1,
    "micro_f1": micro_f1,
    "weighted_f1": weighted_f1,
    "accuracy": accuracy,
}


def check_metric(name: str) -> str:
    """``name`` if it is a key of :data:`METRICS`; else a ValueError listing the valid names."""
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r}; choose one of: {', '.join(METRICS)}")
    return name


def score(truth: np.ndarray, predicted: np.ndarray, metric: str) -> float:
    """The primary metric ``metric`` of 0/1 predictions ``(N, C)``."""
    return METRICS[check_metric(metric)](truth, predicted)
