"""Scoring an ensemble against the plain average and each of its members, for metrics.json.

Shapes: ``M`` members, ``N`` examples, ``C`` classes.

Every row is scored the same way: thresholds fitted on its own dev probabilities, then metrics on dev
and test. Dev scores are therefore optimistic for all rows alike (stacking's dev probabilities are
out-of-fold); test is the number to compare.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mindscreen.data import Splits
from mindscreen.metrics import compute_metrics
from mindscreen.thresholds import fit_thresholds_checked

Combine = Callable[[np.ndarray], np.ndarray]  # member probabilities (M, N, C) -> (N, C)


def score_combination(
    combine: Combine,
    dev_probs: np.ndarray,
    test_member_probs: np.ndarray | None,
    thresholds: np.ndarray,
    splits: Splits,
) -> dict[str, Any]:
    """Dev metrics of ``dev_probs (N, C)`` and test metrics of ``combine(test_member_probs)``."""
    args = (splits.label_names, splits.multi_label, thresholds)
    scores = {"dev": compute_metrics(splits.dev.labels, dev_probs, *args)}
    if test_member_probs is not None and splits.test is not None:
        scores["test"] = compute_metrics(splits.test.labels, combine(test_member_probs), *args)
    return scores


def score_baselines(
    names: list[str], dev_probs: np.ndarray, test_probs: np.ndarray | None, splits: Splits
) -> dict[str, Any]:
    """Metrics of the plain average and of each named member, each with thresholds fitted on its own dev.

    Args:
        names: the ``M`` member names.
        dev_probs: ``(M, N_dev, C)`` member probabilities on dev.
        test_probs: ``(M, N_test, C)`` on test, or None.
        splits: the labels.
    """

    def scored(weights: np.ndarray) -> dict[str, Any]:
        def combine(probs: np.ndarray) -> np.ndarray:
            return np.tensordot(weights, probs, axes=1)

        dev = combine(dev_probs)
        thresholds, _ = fit_thresholds_checked(splits.dev.labels, dev, splits.multi_label)
        return score_combination(combine, dev, test_probs, thresholds, splits)

    count = len(names)
    return {
        "average": scored(np.full(count, 1.0 / count)),
        "members": {name: scored(np.eye(count)[i]) for i, name in enumerate(names)},
    }


def summarise(metrics: dict[str, Any], metric: str) -> dict[str, Any]:
    """The primary metric on dev and test of the ensemble, the plain average and each member."""

    def pick(row: dict[str, Any]) -> dict[str, float | None]:
        return {split: row[split][metric] if split in row else None for split in ("dev", "test")}

    return {
        "ensemble": pick(metrics),
        "average": pick(metrics["average"]),
        "members": {name: pick(row) for name, row in metrics["members"].items()},
    }


def format_summary(metrics: dict[str, Any]) -> str:
    """The primary metric on dev and test of the ensemble, the plain average and each member, as a table."""
    metric, summary = metrics["primary_metric"], metrics["summary"]
    weights = metrics.get("weights") or {}
    rows = [
        (f"ensemble ({metrics['method']})", summary["ensemble"], None),
        ("plain average", summary["average"], None),
    ]
    rows += [(name, row, weights.get(name)) for name, row in summary["members"].items()]
    width = max(len(name) for name, _, _ in rows)

    def cell(value: float | None) -> str:
        return "-" if value is None else f"{value:.4f}"

    lines = [f"{'':<{width}}  {'dev':>7}  {'test':>7}  weight   ({metric}; thresholds fitted on dev)"]
    for name, row, weight in rows:
        lines.append(
            f"{name:<{width}}  {cell(row['dev']):>7}  {cell(row['test']):>7}  {cell(weight):>6}".rstrip()
        )
    return "\n".join(lines)
