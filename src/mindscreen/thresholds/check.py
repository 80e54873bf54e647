"""Keeping fitted thresholds only where they beat the defaults out of fold on dev.

Shapes: ``N`` examples, ``C`` classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mindscreen.thresholds.fit import class_f1, fit_thresholds
from mindscreen.thresholds.rules import MULTI_LABEL_DEFAULT, apply_thresholds, as_matrix, default_thresholds


@dataclass(frozen=True)
class ThresholdCheck:
    """What :func:`fit_thresholds_checked` decided; the lists are per class, (C,).

    Attributes:
        multi_label: True: one decision per class; False: one all-or-nothing decision on macro-F1.
        folds: Folds asked for.
        folds_used: Folds each class was checked with (multi-class: one split shared by all); 0 where
            it could not be checked, which keeps the default.
        kept: Whether each class keeps its threshold fitted on all of dev (else its default).
        oof_f1_fitted: Each class's F1 of the out-of-fold predictions of the fitting procedure; NaN
            where not checked.
        oof_f1_default: Each class's F1 at the default thresholds on all of dev.
        min_gain: How much the out-of-fold score had to beat the default's by.
        notes: Fallbacks taken, in words (too few rows or positives for the folds asked for).
    """

    multi_label: bool
    folds: int
    folds_used: list[int]
    kept: list[bool]
    oof_f1_fitted: list[float]
    oof_f1_default: list[float]
    min_gain: float
    notes: list[str]

    def to_dict(self, labels: list[str]) -> dict[str, Any]:
        """JSON-ready summary keyed by label name (``write_json`` turns NaN into null)."""
        if len(labels) != len(self.kept):
            raise ValueError(f"expected {len(self.kept)} label names, found {len(labels)}")
        summary: dict[str, Any] = {
            "decision": "per_class" if self.multi_label else "all_or_nothing",
            "folds": self.folds,
            "min_gain": self.min_gain,
            "kept": [label for label, kept in zip(labels, self.kept, strict=True) if kept],
        }
        if not self.multi_label:
            summary["oof_macro_f1"] = {
                "fitted": float(np.mean(self.oof_f1_fitted)),
                "default": float(np.mean(self.oof_f1_default)),
            }
        summary["classes"] = {
            label: {"folds": folds, "oof_f1_fitted": fitted, "oof_f1_default": default}
            for label, folds, fitted, default in zip(
                labels, self.folds_used, self.oof_f1_fitted, self.oof_f1_default, strict=True
            )
        }
        summary["notes"] = list(self.notes)
        return summary


def fit_thresholds_checked(
    y_true: np.ndarray,
    probs: np.ndarray,
    multi_label: bool,
    folds: int = 5,
    seed: int = 0,
    grid: Sequence[float] | np.ndarray | None = None,
    min_gain: float = 0.0,
) -> tuple[np.ndarray, ThresholdCheck]:
    """Fit thresholds on all of dev, but keep them only where K-fold out-of-fold F1 beats the defaults.

    Dev rows are split into ``folds`` stratified folds; each fold is predicted with thresholds fitted
    (:func:`fit_thresholds`) on the other folds, so every dev row gets an out-of-fold (OOF) prediction
    of the fitting procedure, which is then scored against the default thresholds on the same rows.

    - Multi-class: all or nothing. Folds are stratified by class. The thresholds fitted on all of dev
      are kept only if OOF macro-F1 > argmax macro-F1 + ``min_gain``; otherwise 1/C each (argmax).
      With fewer dev rows than ``folds``, one fold per row is used; with fewer than 2 rows, argmax.
    - Multi-label: per class, since each class is fitted alone. Folds are stratified on that class's
      own 0/1 column. Class ``c`` keeps its fitted threshold only if its OOF F1 > its F1 at 0.5 +
      ``min_gain``. A class with fewer positives than ``folds`` is checked with one fold per positive
      (each held-out fold holds one positive); one with fewer than 2 positives cannot be checked
      and keeps 0.5, since a threshold fitted to a single positive only memorises it.

    ``min_gain`` defaults to 0 with a strict ``>``: the OOF score is already an out-of-sample estimate
    of fitting, and each fold fits on only (K-1)/K of dev, which leans the comparison slightly towards
    the defaults; a tie keeps the simpler default. A fixed margin does not separate chance wins from
    real ones well (real fixes can gain under a point out of fold, chance wins on small dev sets a few
    points), so raise it only to trade real gains for fewer chance keeps. Deterministic per ``seed``.

    Args:
        y_true: (N, C) 0/1 labels (one-hot rows for multi-class).
        probs: (N, C) probabilities.
        multi_label: Which decision rule the thresholds are for (see :func:`apply_thresholds`).
        folds: Folds ``K`` of the check, at least 2.
        seed: Seed of the row shuffle that deals rows into folds.
        grid: Candidates passed on to :func:`fit_thresholds`.
        min_gain: Margin the OOF score must beat the default's by (strictly).

    Returns:
        (C,) thresholds (fitted where kept, default elsewhere) and the :class:`ThresholdCheck`.
    """
    if folds < 2:
        raise ValueError(
            f"folds must be at least 2, got {folds}; use fit_thresholds for an unchecked fit on all of dev"
        )
    fitted = fit_thresholds(y_true, probs, multi_label, grid)  # also checks shapes and grid
    probs = as_matrix(probs, "probs")
    truth = as_matrix(y_true, "y_true") >= 0.5
    out_of_fold = _out_of_fold_multi_label if multi_label else _out_of_fold_multi_class
    used, oof_f1, default_f1, notes = out_of_fold(truth, probs, folds, seed, grid)
    if multi_label:
        kept = oof_f1 > default_f1 + min_gain  # NaN (not checked) compares False: default kept
    else:
        kept = np.full(probs.shape[1], oof_f1.mean() > default_f1.mean() + min_gain)
    thresholds = np.where(kept, fitted, default_thresholds(probs.shape[1], multi_label))
    check = ThresholdCheck(
        multi_label,
        folds,
        used.tolist(),
        kept.tolist(),
        oof_f1.tolist(),
        default_f1.tolist(),
        min_gain,
        notes,
    )
    return thresholds, check


_OutOfFold = tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]  # folds used, OOF F1, default F1: (C,)


def _out_of_fold_multi_class(
    truth: np.ndarray, probs: np.ndarray, folds: int, seed: int, grid: Sequence[float] | np.ndarray | None
) -> _OutOfFold:
    num_rows, num_classes = probs.shape
    classes = np.argmax(truth, axis=1)  # (N,)
    support = np.bincount(classes, minlength=num_classes)
    default_f1 = class_f1(classes, np.argmax(probs, axis=1)[None, :], support)[0]  # (C,)
    used = min(folds, num_rows)
    notes = [] if used == folds else [f"dev has {num_rows} rows, fewer than folds={folds}: {used} used"]
    if used < 2:
        notes.append("too few dev rows to check: argmax (default thresholds) kept")
        return np.zeros(num_classes, dtype=int), np.full(num_classes, np.nan), default_f1, notes
    fold_of = _fold_ids(classes, used, seed)  # (N,)
    predicted = np.empty(num_rows, dtype=np.int64)
    for fold in range(used):
        held = fold_of == fold
        thresholds = fit_thresholds(truth[~held], probs[~held], False, grid)
        predicted[held] = np.argmax(apply_thresholds(probs[held], thresholds, False), axis=1)
    oof_f1 = class_f1(classes, predicted[None, :], support)[0]  # (C,)
    return np.full(num_classes, used), oof_f1, default_f1, notes


def _out_of_fold_multi_label(
    truth: np.ndarray, probs: np.ndarray, folds: int, seed: int, grid: Sequence[float] | np.ndarray | None
) -> _OutOfFold:
    num_rows, num_classes = probs.shape
    used = np.minimum(folds, truth.sum(axis=0)).astype(int)  # (C,) at most one fold per positive
    used[used < 2] = 0
    oof_f1 = np.full(num_classes, np.nan)
    default_f1 = np.array(
        [_binary_f1(truth[:, c], probs[:, c] >= MULTI_LABEL_DEFAULT) for c in range(num_classes)]
    )
    for c in np.flatnonzero(used):
        fold_of = _fold_ids(truth[:, c], int(used[c]), seed)  # (N,)
        predicted = np.empty(num_rows, dtype=bool)
        for fold in range(used[c]):
            held = fold_of == fold
            threshold = fit_thresholds(truth[~held, c, None], probs[~held, c, None], True, grid)[0]
            predicted[held] = probs[held, c] >= threshold
        oof_f1[c] = _binary_f1(truth[:, c], predicted)
    notes = []
    if np.any(used == 0):
        notes.append(f"{int(np.sum(used == 0))} classes have fewer than 2 positives in dev: 0.5 kept")
    if np.any((used > 0) & (used < folds)):
        notes.append(f"classes with fewer than {folds} positives were checked with one fold per positive")
    return used, oof_f1, default_f1, notes


def _fold_ids(key: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """(N,) fold of each row: rows shuffled by ``seed``, grouped by ``key``, then dealt round-robin.

    Dealing each group in turn spreads every key value evenly over the folds (stratification), and
    keeps all fold sizes within one row of each other.
    """
    order = np.random.default_rng(seed).permutation(key.size)
    order = order[np.argsort(key[order], kind="stable")]
    fold_of = np.empty(key.size, dtype=np.int64)
    fold_of[order] = np.arange(key.size) % folds
    return fold_of


def _binary_f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    """F1 of one class from (N,) booleans; 0 when there are neither positives nor predictions."""
    denominator = int(truth.sum()) + int(predicted.sum())
    return 2 * int(np.sum(truth & predicted)) / denominator if denominator else 0.0
