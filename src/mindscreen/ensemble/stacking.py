"""Stacking: a logistic regression that reads member probabilities, cross-validated on dev.

Shapes: ``M`` members, ``N`` examples, ``C`` classes, ``F`` stacker inputs.

Multi-class: one softmax regression on all member probabilities side by side (``F = M * C``), so it can
learn that one member's "anxiety" is another's "stress". Multi-label: one sigmoid regression per class on
that class's probability from each member (``F = M``): rare classes have too few dev positives for more
inputs. The stacker is fitted on dev; its dev predictions (used to fit thresholds and reported as dev
metrics) are out-of-fold, from ``folds`` models each fitted without the rows it predicts. Stored as
arrays in safetensors, never pickled.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file
from sklearn.model_selection import KFold, StratifiedKFold

from mindscreen.linear import fit_logistic
from mindscreen.probabilities import to_probabilities

STACKING_FILE = "stacking.safetensors"


class Stacker:
    """Logistic regression parameters over member probabilities: ``coef (C, F)``, ``intercept (C,)``."""

    def __init__(self, coef: np.ndarray, intercept: np.ndarray, multi_label: bool) -> None:
        self.coef = np.asarray(coef, dtype=np.float64)
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.multi_label = multi_label

    @classmethod
    def fit(cls, member_probs: np.ndarray, y_true: np.ndarray, multi_label: bool, c: float = 1.0) -> Stacker:
        """Fit on ``member_probs (M, N, C)`` against ``y_true (N, C)``."""
        num_members, _, num_classes = member_probs.shape
        if not multi_label:
            coef, intercept = fit_logistic(_side_by_side(member_probs), y_true, False, c, None)
            return cls(coef, intercept, multi_label)
        coef, intercept = np.zeros((num_classes, num_members)), np.zeros(num_classes)
        for k in range(num_classes):
            fitted = fit_logistic(member_probs[:, :, k].T, y_true[:, k : k + 1], True, c, None)
            coef[k], intercept[k] = fitted[0][0], fitted[1][0]
        return cls(coef, intercept, multi_label)

    def predict_proba(self, member_probs: np.ndarray) -> np.ndarray:
        """Ensemble probabilities ``(N, C)`` from member probabilities ``(M, N, C)``."""
        if self.multi_label:
            logits = np.einsum("mnc,cm->nc", member_probs, self.coef) + self.intercept  # (N, C)
        else:
            logits = _side_by_side(member_probs) @ self.coef.T + self.intercept  # (N, C)
        return to_probabilities(logits, self.multi_label)

    def save(self, directory: Path) -> None:
        save_file({"coef": self.coef, "intercept": self.intercept}, str(directory / STACKING_FILE))

    @classmethod
    def load(cls, directory: Path, multi_label: bool) -> Stacker:
        tensors = load_file(str(directory / STACKING_FILE))
        return cls(tensors["coef"], tensors["intercept"], multi_label)


def fit_stacking(
    member_probs: np.ndarray,
    y_true: np.ndarray,
    multi_label: bool,
    c: float = 1.0,
    folds: int = 5,
    seed: int = 0,
) -> tuple[Stacker, np.ndarray]:
    """A stacker fitted on all of dev, and its out-of-fold dev probabilities ``(N, C)``.

    Multi-class folds are stratified when every class has at least ``folds`` dev rows.

    Raises:
        ValueError: dev has fewer rows than ``folds``.
    """
    num_rows = member_probs.shape[1]
    if num_rows < folds:
        raise ValueError(
            f"stacking needs at least combine.folds={folds} dev rows, found {num_rows}; "
            "lower combine.folds or use combine.method=weighted"
        )
    out_of_fold = np.zeros(member_probs.shape[1:])  # (N, C)
    for train_rows, held_rows in _folds(y_true, multi_label, folds, seed):
        fold = Stacker.fit(member_probs[:, train_rows], y_true[train_rows], multi_label, c)
        out_of_fold[held_rows] = fold.predict_proba(member_probs[:, held_rows])
    return Stacker.fit(member_probs, y_true, multi_label, c), out_of_fold


def _folds(
    y_true: np.ndarray, multi_label: bool, folds: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    rows = np.zeros(y_true.shape[0])
    if not multi_label:
        classes = np.argmax(y_true, axis=1)
        counts = np.bincount(classes)
        if counts[counts > 0].min() >= folds:
            return list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(rows, classes))
    return list(KFold(folds, shuffle=True, random_state=seed).split(rows))


def _side_by_side(member_probs: np.ndarray) -> np.ndarray:
    """``(M, N, C)`` -> ``(N, M * C)``: member 0's classes, then member 1's, ..."""
    return np.concatenate(list(member_probs), axis=1)
