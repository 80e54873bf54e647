"""The report's figures, each returned as a base64 PNG for an ``<img src="data:...">`` tag.

Shapes: ``N`` examples, ``C`` classes; ``truth`` and ``probs`` are (N, C). matplotlib runs with the
Agg backend (no display) and is imported only here.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.metrics import precision_recall_curve  # noqa: E402

from mindscreen.thresholds import apply_thresholds  # noqa: E402

_BINS = 15


def to_png(fig: Figure) -> str:
    """The figure as base64-encoded PNG text; the figure is closed."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def plot_training_curves(log: Sequence[Mapping[str, Any]], metric: str) -> str:
    """Train and validation loss, and the primary metric on a train sample and on dev, per step."""
    steps = [record["step"] for record in log]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    left.plot(steps, [r.get("train_loss") for r in log], marker="o", label="train loss")
    left.plot(steps, [r.get("val_loss") for r in log], marker="o", label="validation loss")
    left.set(xlabel="optimizer step", ylabel="loss", title="Loss")
    right.plot(steps, [r.get(f"train_{metric}") for r in log], marker="o", label=f"train {metric}")
    right.plot(steps, [r.get(f"val_{metric}") for r in log], marker="o", label=f"validation {metric}")
    best = [r["step"] for r in log if r.get("best")]
    if best:
        right.axvline(best[-1], color="grey", linestyle=":", label="best checkpoint")
    right.set(xlabel="optimizer step", ylabel=metric, title=f"{metric} (default thresholds)")
    for axis in (left, right):
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    return to_png(fig)


def plot_per_class_f1(per_split: Mapping[str, Mapping[str, Any]], labels: list[str]) -> str:
    """Grouped horizontal bars: F1 of every class on each split."""
    fig, axis = plt.subplots(figsize=(8, 0.32 * len(labels) * max(1, len(per_split)) + 1.2))
    height = 0.8 / max(1, len(per_split))
    rows = np.arange(len(labels))
    for k, (split, metrics) in enumerate(per_split.items()):
        values = [metrics["per_class"][label]["f1"] or 0.0 for label in labels]
        axis.barh(rows + k * height, values, height=height, label=split)
    axis.set_yticks(rows + height * (len(per_split) - 1) / 2, labels, fontsize=8)
    axis.invert_yaxis()
    axis.set(xlim=(0, 1), xlabel="F1", title="F1 per class (fitted thresholds)")
    axis.grid(axis="x", alpha=0.3)
    axis.legend(fontsize=8)
    return to_png(fig)


def plot_confusion_matrix(matrix: Sequence[Sequence[int]], labels: list[str]) -> str:
    """Multi-class confusion matrix, rows normalised to recall, with counts when it fits."""
    counts = np.asarray(matrix, dtype=float)  # (C, C): rows true, columns predicted
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = max(4.0, 0.45 * len(labels) + 2)
    fig, axis = plt.subplots(figsize=(size, size))
    image = axis.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    axis.set_xticks(range(len(labels)), labels, rotation=90, fontsize=8)
    axis.set_yticks(range(len(labels)), labels, fontsize=8)
    axis.set(xlabel="predicted", ylabel="true", title="Confusion matrix (row share, counts)")
    if len(labels) <= 12:
        for i in range(len(labels)):
            for j in range(len(labels)):
                colour = "white" if shares[i, j] > 0.5 else "black"
                axis.text(j, i, f"{int(counts[i, j])}", ha="center", va="center", fontsize=7, color=colour)
    fig.colorbar(image, ax=axis, fraction=0.046)
    return to_png(fig)


def plot_label_outcomes(
    truth: np.ndarray, probs: np.ndarray, thresholds: np.ndarray, labels: list[str]
) -> str:
    """Multi-label stand-in for a confusion matrix: true positives, false negatives and false positives."""
    predicted = apply_thresholds(probs, thresholds, multi_label=True).astype(bool)  # (N, C)
    actual = truth >= 0.5
    outcomes = {
        "true positive": (predicted & actual).sum(axis=0),
        "false negative": (~predicted & actual).sum(axis=0),
        "false positive": (predicted & ~actual).sum(axis=0),
    }
    fig, axis = plt.subplots(figsize=(8, 0.3 * len(labels) + 1.2))
    left = np.zeros(len(labels))
    for name, values in outcomes.items():
        axis.barh(range(len(labels)), values, left=left, label=name)
        left = left + values
    axis.set_yticks(range(len(labels)), labels, fontsize=8)
    axis.invert_yaxis()
    axis.set(xlabel="texts", title="Outcomes per label (fitted thresholds)")
    axis.legend(fontsize=8)
    return to_png(fig)


def plot_precision_recall(truth: np.ndarray, probs: np.ndarray, labels: list[str]) -> str:
    """Precision-recall curve of every class that has positives."""
    fig, axis = plt.subplots(figsize=(8, 5))
    for c, label in enumerate(labels):
        if truth[:, c].max() < 0.5:
            continue
        precision, recall, _ = precision_recall_curve(truth[:, c] >= 0.5, probs[:, c])
        axis.plot(recall, precision, linewidth=1, label=label)
    axis.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="recall", ylabel="precision", title="Precision-recall")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7, ncol=2 if len(labels) > 12 else 1, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return to_png(fig)


def reliability(
    truth: np.ndarray, probs: np.ndarray, multi_label: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per equal-width bin: mean confidence, observed frequency and count (as in the ECE)."""
    if multi_label:
        confidence, outcome = probs.ravel(), (truth.ravel() >= 0.5).astype(float)
    else:
        confidence = probs.max(axis=1)
        outcome = (probs.argmax(axis=1) == truth.argmax(axis=1)).astype(float)
    bins = np.clip((confidence * _BINS).astype(int), 0, _BINS - 1)
    counts = np.bincount(bins, minlength=_BINS)
    safe = np.maximum(counts, 1)
    return (
        np.bincount(bins, weights=confidence, minlength=_BINS) / safe,
        np.bincount(bins, weights=outcome, minlength=_BINS) / safe,
        counts,
    )


def plot_reliability(truth: np.ndarray, curves: Mapping[str, np.ndarray], multi_label: bool) -> str:
    """Reliability diagram: observed frequency against confidence, one line per set of probabilities."""
    fig, axis = plt.subplots(figsize=(5, 5))
    axis.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfectly calibrated")
    for name, probs in curves.items():
        confidence, observed, counts = reliability(truth, probs, multi_label)
        used = counts > 0
        axis.plot(confidence[used], observed[used], marker="o", label=name)
    what = "label probability" if multi_label else "top-1 confidence"
    axis.set(xlim=(0, 1), ylim=(0, 1.03), xlabel=what, ylabel="observed frequency", title="Reliability")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    return to_png(fig)
