"""Keeping fitted thresholds only where they beat the defaults out of fold on dev.

Shapes: ``N`` examples, ``C`` classes, ``R`` bootstrap resamples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mindscreen.scores import class_f1
from mindscreen.thresholds.fit import fit_thresholds
from mindscreen.thresholds.rules import MULTI_LABEL_DEFAULT, apply_thresholds, as_matrix, default_thresholds

RESAMPLES = 1000


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
        win_rate: Share of bootstrap resamples of dev in which the out-of-fold F1 (multi-class:
            macro-F1) beat the default's; NaN where not checked.
        confidence: The win rate a fit needed to be kept.
        notes: Fallbacks taken, in words (too few rows or positives for the folds asked for).
    """

    multi_label: bool
    folds: int
    folds_used: list[int]
    kept: list[bool]
    oof_f1_fitted: list[float]
    oof_f1_default: list[float]
    win_rate: list[float]
    confidence: float
    notes: list[str]

    def to_dict(self, labels: list[str]) -> dict[str, Any]:
        """JSON-ready summary keyed by label name (``write_json`` turns NaN into null)."""
        if len(labels) != len(self.kept):
            raise ValueError(f"expected {len(self.kept)} label names, found {len(labels)}")
        summary: dict[str, Any] = {
            "decision": "per_class" if self.multi_label else "all_or_nothing",
            "folds": self.folds,
            "confidence": self.confidence,
            "kept": [label for label, kept in zip(labels, self.kept, strict=True) if kept],
        }
        if not self.multi_label:
            summary["oof_macro_f1"] = {
                "fitted": float(np.mean(self.oof_f1_fitted)),
                "default": float(np.mean(self.oof_f1_default)),
                "win_rate": self.win_rate[0],
            }
        summary["classes"] = {
            label: {"folds": folds, "oof_f1_fitted": fitted, "oof_f1_default": default, "win_rate": rate}
            for label, folds, fitted, default, rate in zip(
                labels, self.folds_used, self.oof_f1_fitted, self.oof_f1_default, self.win_rate, strict=True
            )
        }
        summary["notes"] = list(self.notes)
        return summary


def threshold_summary(fitted_on_dev: bool, check: dict[str, Any] | None) -> dict[str, Any]:
    """metrics.json's ``thresholds``: fitted on dev or not, and the check (``ThresholdCheck.to_dict``)
    when there was one; the report reads it."""
    return {"fitted_on_dev": fitted_on_dev, "checked": check is not None, **(check or {})}


def fit_thresholds_checked(
    y_true: np.ndarray,
    probs: np.ndarray,
    multi_label: bool,
    folds: int = 5,
    seed: int = 0,
    grid: Sequence[float] | np.ndarray | None = None,
    confidence: float = 0.7,
) -> tuple[np.ndarray, ThresholdCheck]:
    """Fit thresholds on all of dev, but keep them only where they beat the defaults out of fold.

    Dev rows are split into ``folds`` stratified folds; each fold is predicted with thresholds fitted
    (:func:`fit_thresholds`) on the other folds, so every dev row gets an out-of-fold (OOF) prediction
    of the fitting procedure. Those are compared with the default thresholds' predictions on the
    same rows over ``RESAMPLES`` paired bootstrap resamples of dev: a fit is kept only if its OOF F1
    beats the default's in at least ``confidence`` of them (ties count as losses).

    Why a bootstrap and not "OOF F1 > default F1": OOF scores are out of sample but still noisy, and
    on a few hundred dev rows a fit that only chases noise wins by a hair about as often as it loses
    (seen: +0.001 OOF macro-F1 on 600 sad rows, then -0.036 on test). The win rate scales that margin
    to the dev set's own noise: a hair is a coin flip and is rejected; a real fix (a class argmax
    never predicts, a rare label that 0.5 never reaches) wins in nearly every resample. The default
    0.7 rejected every pure-noise multi-class fit in simulation (their win rates reached 0.64) and
    the sad fits (0.45 and 0.57), while keeping most GoEmotions labels' thresholds; 0.9 also
    rejected some real multi-label gains (BENCHMARKS.md).

    - Multi-class: all or nothing on macro-F1. Folds are stratified by class. Otherwise 1/C each
      (argmax). With fewer dev rows than ``folds``, one fold per row is used; with fewer than 2, argmax.
    - Multi-label: per class, since each class is fitted alone, against 0.5. Folds are stratified on
      that class's own 0/1 column. A class with fewer positives than ``folds`` is checked with one fold
      per positive; one with fewer than 2 positives cannot be checked and keeps 0.5, since a
      threshold fitted to a single positive only memorises it.

    Deterministic per ``seed`` (folds and resamples).

    Args:
        y_true: (N, C) 0/1 labels (one-hot rows for multi-class).
        probs: (N, C) probabilities.
        multi_label: Which decision rule the thresholds are for (see :func:`apply_thresholds`).
        folds: Folds ``K`` of the check, at least 2.
        seed: Seed of the fold shuffle and of the resamples.
        grid: Candidates passed on to :func:`fit_thresholds`.
        confidence: Share of resamples the fit must win, in [0, 1); 0 keeps any fit that wins once.

    Returns:
        (C,) thresholds (fitted where kept, default elsewhere) and the :class:`ThresholdCheck`.
    """
    if folds < 2:
        raise ValueError(
            f"folds must be at least 2, got {folds}; use fit_thresholds for an unchecked fit on all of dev"
        )
    if not 0 <= confidence < 1:
        raise ValueError(f"confidence must be in [0, 1), got {confidence}")
    fitted = fit_thresholds(y_true, probs, multi_label, grid)  # also checks shapes and grid
    probs = as_matrix(probs, "probs")
    truth = as_matrix(y_true, "y_true") >= 0.5
    weights = _bootstrap_weights(truth.shape[0], seed)  # (R, N)
    out_of_fold = _out_of_fold_multi_label if multi_label else _out_of_fold_multi_class
    used, oof_f1, default_f1, win_rate, notes = out_of_fold(truth, probs, folds, seed, grid, weights)
    kept = win_rate >= confidence  # NaN (not checked) compares False: default kept
    thresholds = np.where(kept, fitted, default_thresholds(probs.shape[1], multi_label))
    check = ThresholdCheck(
        multi_label,
        folds,
        used.tolist(),
        kept.tolist(),
        oof_f1.tolist(),
        default_f1.tolist(),
        win_rate.tolist(),
        confidence,
        notes,
    )
    return thresholds, check


def _predict_out_of_fold(
    truth: np.ndarray,
    probs: np.ndarray,
    fold_of: np.ndarray,
    folds: int,
    multi_label: bool,
    grid: Sequence[float] | np.ndarray | None,
) -> np.ndarray:
    """(N, C) 0/1 predictions, each fold's rows thresholded by a fit on the other folds' rows."""
    predicted = np.empty(probs.shape, dtype=bool)
    for fold in range(folds):
        held = fold_of == fold  # (N,)
        thresholds = fit_thresholds(truth[~held], probs[~held], multi_label, grid)
        predicted[held] = apply_thresholds(probs[held], thresholds, multi_label).astype(bool)
    return predicted


# Folds used, OOF F1, default F1, win rate, all (C,); notes.
_OutOfFold = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]


def _out_of_fold_multi_class(
    truth: np.ndarray,
    probs: np.ndarray,
    folds: int,
    seed: int,
    grid: Sequence[float] | np.ndarray | None,
    weights: np.ndarray,
) -> _OutOfFold:
    num_rows, num_classes = probs.shape
    classes = np.argmax(truth, axis=1)  # (N,)
    default = np.eye(num_classes, dtype=bool)[np.argmax(probs, axis=1)]  # (N, C) argmax
    default_f1 = class_f1(truth, default)  # (C,)
    used = min(folds, num_rows)
    notes = [] if used == folds else [f"dev has {num_rows} rows, fewer than folds={folds}: {used} used"]
    if used < 2:
        notes.append("too few dev rows to check: argmax (default thresholds) kept")
        nothing = np.full(num_classes, np.nan)
        return np.zeros(num_classes, dtype=int), nothing, default_f1, nothing, notes
    predicted = _predict_out_of_fold(truth, probs, _fold_ids(classes, used, seed), used, False, grid)
    oof_f1 = class_f1(truth, predicted)
    oof_macro = class_f1(truth, predicted, weights).mean(axis=1)  # (R,) macro-F1 per resample
    default_macro = class_f1(truth, default, weights).mean(axis=1)
    win_rate = np.full(num_classes, np.mean(oof_macro > default_macro))
    return np.full(num_classes, used), oof_f1, default_f1, win_rate, notes


def _out_of_fold_multi_label(
    truth: np.ndarray,
    probs: np.ndarray,
    folds: int,
    seed: int,
    grid: Sequence[float] | np.ndarray | None,
    weights: np.ndarray,
) -> _OutOfFold:
    num_rows, num_classes = probs.shape
    used = np.minimum(folds, truth.sum(axis=0)).astype(int)  # (C,) at most one fold per positive
    used[used < 2] = 0
    default = probs >= MULTI_LABEL_DEFAULT  # (N, C)
    default_f1 = class_f1(truth, default)
    oof_f1, win_rate = np.full(num_classes, np.nan), np.full(num_classes, np.nan)
    for c in np.flatnonzero(used):
        column = truth[:, c, None]
        fold_of = _fold_ids(truth[:, c], int(used[c]), seed)  # (N,)
        predicted = _predict_out_of_fold(column, probs[:, c, None], fold_of, int(used[c]), True, grid)
        oof_f1[c] = class_f1(column, predicted)[0]
        wins = class_f1(column, predicted, weights) > class_f1(column, default[:, c, None], weights)
        win_rate[c] = wins.mean()
    notes = []
    if np.any(used == 0):
        notes.append(f"{int(np.sum(used == 0))} classes have fewer than 2 positives in dev: 0.5 kept")
    if np.any((used > 0) & (used < folds)):
        notes.append(f"classes with fewer than {folds} positives were checked with one fold per positive")
    return used, oof_f1, default_f1, win_rate, notes


def _bootstrap_weights(num_rows: int, seed: int) -> np.ndarray:
    """(R, N) how often each dev row is drawn in each of ``RESAMPLES`` bootstrap resamples."""
    rng = np.random.default_rng([seed, num_rows])
    draws = (
        rng.integers(0, num_rows, size=(RESAMPLES, num_rows)) if num_rows else np.zeros((RESAMPLES, 0), int)
    )
    offsets = np.arange(RESAMPLES)[:, None] * num_rows
    counts = np.bincount((draws + offsets).ravel(), minlength=RESAMPLES * num_rows)
    return counts.reshape(RESAMPLES, num_rows).astype(float)


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
