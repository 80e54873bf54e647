"""Classification metrics for imbalanced multi-class and multi-label screens.

Shapes: ``N`` examples, ``C`` classes. ``y_true`` is (N, C) 0/1 (one-hot rows for multi-class) and
``probs`` is (N, C) probabilities; predictions come from :func:`mindscreen.thresholds.apply_thresholds`.

Precision, recall and F1 of a class with no support and no predictions are 0 (scikit-learn's
``zero_division=0``), so a class absent from the data pulls the macro averages down instead of silently
dropping out of them. ROC-AUC and PR-AUC (average precision) of a class are ``None`` when ``y_true`` holds
no positives or no negatives for it; the macro AUCs average the classes where they are defined.

Every dict returned here is JSON-serialisable: plain ints, floats, lists and ``None`` for NaN.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from mindscreen.scores import METRICS, check_metric, class_counts, f1_from_counts
from mindscreen.thresholds import apply_thresholds, default_thresholds

_SUMMARY = (
    ("macro_f1", "macro-F1"),
    ("micro_f1", "micro-F1"),
    ("weighted_f1", "weighted-F1"),
    ("accuracy", "accuracy"),
    ("hamming_loss", "hamming"),
    ("macro_roc_auc", "ROC-AUC"),
    ("macro_pr_auc", "PR-AUC"),
)


def compute_metrics(
    y_true: np.ndarray,
    probs: np.ndarray,
    label_names: list[str],
    multi_label: bool,
    thresholds: np.ndarray | None = None,
) -> dict[str, Any]:
    """Compute summary, per-class and (multi-class) confusion metrics.

    Args:
        y_true: (N, C) 0/1 labels; one-hot rows for multi-class.
        probs: (N, C) probabilities.
        label_names: The C class names, in column order.
        multi_label: Whether classes are independent yes/no decisions.
        thresholds: (C,) decision thresholds; ``None`` uses :func:`default_thresholds` (argmax for
            multi-class, 0.5 for multi-label).

    Returns:
        A JSON-serialisable dict with ``macro_f1``, ``micro_f1``, ``weighted_f1``, ``macro_precision``,
        ``macro_recall``, ``accuracy`` (subset accuracy for multi-label, which also gets
        ``subset_accuracy`` and ``hamming_loss``), ``macro_roc_auc``, ``macro_pr_auc``, ``per_class``
        (label -> precision, recall, f1, support, roc_auc, pr_auc), ``confusion_matrix`` (multi-class
        only: ``{"labels", "matrix"}``, rows true, columns predicted) and ``num_examples``.
    """
    truth, probs = _check_inputs(y_true, probs, label_names)
    num_classes = len(label_names)
    if thresholds is None:
        thresholds = default_thresholds(num_classes, multi_label)
    pred = apply_thresholds(probs, thresholds, multi_label)
    hits, predicted, support = class_counts(truth, pred)  # (C,) each
    f1 = f1_from_counts(hits, predicted, support)
    precision = np.divide(hits, predicted, out=np.zeros(num_classes), where=predicted > 0)
    recall = np.divide(hits, support, out=np.zeros(num_classes), where=support > 0)

    result: dict[str, Any] = {name: _clean(METRICS[name](truth, pred)) for name in METRICS}
    result["macro_precision"], result["macro_recall"] = _clean(precision.mean()), _clean(recall.mean())
    if multi_label:
        result["subset_accuracy"] = result["accuracy"]
        result["hamming_loss"] = _clean(np.mean(truth != pred))

    aucs = [_class_aucs(truth[:, c], probs[:, c]) for c in range(num_classes)]
    result["macro_roc_auc"] = _mean_defined([roc for roc, _ in aucs])
    result["macro_pr_auc"] = _mean_defined([pr for _, pr in aucs])
    result["per_class"] = {
        name: {
            "precision": _clean(precision[c]),
            "recall": _clean(recall[c]),
            "f1": _clean(f1[c]),
            "support": int(support[c]),
            "roc_auc": aucs[c][0],
            "pr_auc": aucs[c][1],
        }
        for c, name in enumerate(label_names)
    }
    if not multi_label:
        # Rows true, columns predicted: one count per (true class, predicted class) pair.
        pairs = truth.argmax(axis=1) * num_classes + pred.argmax(axis=1)
        matrix = np.bincount(pairs, minlength=num_classes**2).reshape(num_classes, num_classes)
        result["confusion_matrix"] = {"labels": list(label_names), "matrix": matrix.astype(int).tolist()}
    result["num_examples"] = int(truth.shape[0])
    return result


def primary_metric(metrics: Mapping[str, Any], name: str) -> float:
    """Read the scalar named ``name`` (a key of :data:`~mindscreen.scores.METRICS`) from a
    :func:`compute_metrics` dict."""
    check_metric(name)
    if metrics.get(name) is None:
        raise ValueError(f"metric {name!r} is missing or undefined in these metrics; keys: {sorted(metrics)}")
    return float(metrics[name])


def format_metrics(metrics: Mapping[str, Any], label_names: list[str]) -> str:
    """A compact human-readable table: one summary line, then one row per class.

    Args:
        metrics: A dict from :func:`compute_metrics`.
        label_names: The classes to list, in the order to list them.

    Returns:
        Multi-line text; undefined values are shown as ``-``.
    """
    summary = [f"{title} {_fmt(metrics[key])}" for key, title in _SUMMARY if key in metrics]
    lines = [" | ".join([*summary, f"n {metrics['num_examples']}"])]
    width = max(len("label"), *(len(name) for name in label_names))
    lines.append(f"{'label':<{width}}  precision  recall      F1  support  ROC-AUC  PR-AUC")
    per_class = metrics["per_class"]
    for name in label_names:
        if name not in per_class:
            raise ValueError(f"label {name!r} not in these metrics; labels are: {', '.join(per_class)}")
        row = per_class[name]
        lines.append(
            f"{name:<{width}}  {_fmt(row['precision']):>9}  {_fmt(row['recall']):>6}  {_fmt(row['f1']):>6}"
            f"  {row['support']:>7}  {_fmt(row['roc_auc']):>7}  {_fmt(row['pr_auc']):>6}"
        )
    return "\n".join(lines)


def expected_calibration_error(
    y_true: np.ndarray, probs: np.ndarray, multi_label: bool, n_bins: int = 15
) -> float:
    """Expected calibration error over equal-width confidence bins (Guo et al. 2017).

    Multi-class uses the top-1 confidence against whether the top-1 class is right; multi-label treats
    every (example, class) pair as one binary probability against its 0/1 label.

    Args:
        y_true: (N, C) 0/1 labels.
        probs: (N, C) probabilities.
        multi_label: Which of the two readings above to use.
        n_bins: Number of equal-width bins on [0, 1].

    Returns:
        Sum over bins of (bin share) * |mean confidence - observed frequency|, in [0, 1].
    """
    truth, probs = _check_inputs(y_true, probs, None)
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")
    if multi_label:
        confidence, outcome = probs.ravel(), truth.ravel().astype(float)
    else:
        confidence = probs.max(axis=1)
        outcome = (probs.argmax(axis=1) == truth.argmax(axis=1)).astype(float)
    bins = np.clip((confidence * n_bins).astype(int), 0, n_bins - 1)
    gap = np.bincount(bins, weights=confidence, minlength=n_bins) - np.bincount(
        bins, weights=outcome, minlength=n_bins
    )
    return float(np.abs(gap).sum() / confidence.size)


def _class_aucs(truth: np.ndarray, scores: np.ndarray) -> tuple[float | None, float | None]:
    if truth.min() == truth.max():  # one class only: both AUCs undefined
        return None, None
    from sklearn.metrics import average_precision_score, roc_auc_score  # heavy: only when scoring

    return _clean(roc_auc_score(truth, scores)), _clean(average_precision_score(truth, scores))


def _mean_defined(values: list[float | None]) -> float | None:
    defined = [v for v in values if v is not None]
    return _clean(np.mean(defined)) if defined else None


def _clean(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _check_inputs(
    y_true: np.ndarray, probs: np.ndarray, label_names: list[str] | None
) -> tuple[np.ndarray, np.ndarray]:
    truth = (np.asarray(y_true, dtype=float) >= 0.5).astype(np.int64)
    probs = np.asarray(probs, dtype=float)
    if probs.ndim != 2 or truth.shape != probs.shape or probs.shape[0] == 0:
        raise ValueError(
            f"y_true and probs must be non-empty (N, C) arrays of the same shape; got {truth.shape} and "
            f"{probs.shape}"
        )
    if label_names is not None and (
        len(label_names) != probs.shape[1] or len(set(label_names)) != len(label_names)
    ):
        raise ValueError(
            f"label_names must be {probs.shape[1]} distinct names, one per column of probs; got {label_names}"
        )
    return truth, probs
