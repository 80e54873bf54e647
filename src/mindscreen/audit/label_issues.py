"""Likely label errors: confident learning on out-of-fold TF-IDF + logistic regression probabilities.

Every row with a usable text and a valid label gets class probabilities from a model that never
saw it: :data:`FOLDS` folds over all splits pooled, stratified by label, with every copy of a
(normalised) text in one fold so that a duplicate cannot vouch for itself. The model is
mindscreen's linear screen (:mod:`mindscreen.linear`: TF-IDF word 1-2-grams, logistic
regression; softmax for multi-class, one sigmoid per label for multi-label). The TF-IDF vocabulary
and idf are fitted once on all texts, which uses no label.

cleanlab's ``find_label_issues`` (confident learning, Northcutt, Jiang & Chuang 2021, JAIR) then
flags rows whose given label disagrees with what the rest of the data implies, ranked by
self-confidence (the out-of-fold probability of the given label; lowest first). A flag is a row
to look at, not a verdict: the model is simple, and some flagged texts are ambiguous rather than
mislabelled. cleanlab (the ``audit`` extra) is imported only here.

Shapes: ``N`` checked rows, ``F`` features, ``C`` labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from mindscreen.audit.table import AuditData
from mindscreen.data.quality import normalize_text
from mindscreen.data.stratify import stratum_keys
from mindscreen.linear import TfidfBlock, fit_logistic
from mindscreen.probabilities import to_probabilities

FOLDS = 5
MIN_ROWS_PER_FOLD = 4


@dataclass(frozen=True)
class LabelIssues:
    """Rows whose labels look wrong, worst first, or why the check was skipped.

    Attributes:
        members: pooled row indices of the flagged rows, lowest label quality first.
        given: each flagged row's labels.
        suggested: the labels the out-of-fold model gives it (argmax; labels at p >= 0.5 for
            multi-label).
        quality: cleanlab's label quality score of each flagged row in [0, 1]; low is suspect.
        checked: rows checked.
        model_accuracy: out-of-fold accuracy of the model (subset accuracy for multi-label).
        skipped: why the check did not run, else None.
        folds: cross-validation folds.
    """

    members: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    given: list[list[str]] = field(default_factory=list)
    suggested: list[list[str]] = field(default_factory=list)
    quality: np.ndarray = field(default_factory=lambda: np.zeros(0))
    checked: int = 0
    model_accuracy: float | None = None
    skipped: str | None = None
    folds: int = FOLDS

    def summary(self, data: AuditData) -> dict[str, Any]:
        """Counts and each flagged row (split, row number, labels, score); never a text."""
        rows = []
        for index, given, suggested, quality in zip(
            self.members, self.given, self.suggested, self.quality.tolist(), strict=True
        ):
            split, row = data.where(int(index))
            rows.append(
                {
                    "split": split,
                    "row": row,
                    "given": given,
                    "suggested": suggested,
                    "quality": round(quality, 4),
                }
            )
        return {
            "method": "cleanlab confident learning on "
            f"{self.folds}-fold out-of-fold TF-IDF + logistic regression",
            "checked_rows": self.checked,
            "flagged": len(rows),
            "flagged_per_split": {s.name: sum(r["split"] == s.name for r in rows) for s in data.splits},
            "model_accuracy": None if self.model_accuracy is None else round(self.model_accuracy, 4),
            "skipped": self.skipped,
            "list": rows,
        }


def find_label_issues(data: AuditData, folds: int = FOLDS, seed: int = 0) -> LabelIssues:
    """Flag likely label errors among the rows with a usable text and a valid label.

    Raises:
        MissingExtraError: cleanlab (the ``audit`` extra) is not installed.
    """
    from mindscreen.extras import require_extras

    require_extras("the label-error check of mindscreen audit", "cleanlab")
    rows, targets, classes = _checkable(data)
    skipped = _reason_to_skip(len(rows), len(classes), folds, data)
    if skipped:
        return LabelIssues(skipped=skipped, checked=len(rows))
    texts = data.texts
    try:
        probs = out_of_fold_probabilities([texts[i] for i in rows], targets, data.multi_label, folds, seed)
    except ValueError:  # TF-IDF kept no term: no word appears in two of the texts
        return LabelIssues(
            skipped="no word appears in two of the texts; nothing to learn from", checked=len(rows)
        )
    flagged, quality = _confident_learning(targets, probs, data.multi_label)
    names = [data.label_names[c] for c in classes]
    return LabelIssues(
        members=rows[flagged],
        given=[_names(targets[i] > 0, names) for i in flagged],
        suggested=[_names(_predicted(probs[i], data.multi_label), names) for i in flagged],
        quality=quality[flagged],
        checked=len(rows),
        folds=folds,
        model_accuracy=float(np.mean(np.all(_predicted(probs, data.multi_label) == (targets > 0), axis=1))),
    )


def _checkable(data: AuditData) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Pooled rows to check, their (N, C) 0/1 targets over the labels present, and those labels."""
    index = {name: c for c, name in enumerate(data.label_names)}
    labels, usable = data.labels, data.usable()
    valid = [
        i
        for i, row in enumerate(labels)
        if usable[i] and row is not None and (data.multi_label or len(row) == 1)
    ]
    matrix = np.zeros((len(valid), len(index)), dtype=np.float32)  # (N, C)
    for n, i in enumerate(valid):
        matrix[n, [index[label] for label in labels[i] or ()]] = 1.0
    present = [c for c in range(len(index)) if matrix[:, c].any()]
    return np.asarray(valid, dtype=int), matrix[:, present], present


def _reason_to_skip(rows: int, classes: int, folds: int, data: AuditData) -> str | None:
    if not data.labelled:
        return "the data has no labels"
    if classes < (1 if data.multi_label else 2):
        return f"only {classes} label(s) among the checkable rows; a model needs at least two classes"
    if rows < folds * MIN_ROWS_PER_FOLD:
        return (
            f"{rows} checkable rows; {folds}-fold cross-validation needs at least {folds * MIN_ROWS_PER_FOLD}"
        )
    return None


def out_of_fold_probabilities(
    texts: list[str], targets: np.ndarray, multi_label: bool, folds: int = FOLDS, seed: int = 0
) -> np.ndarray:
    """(N, C) probabilities, each row from a model fitted on the other folds.

    Folds keep every copy of a normalised text together and are stratified by
    :func:`~mindscreen.data.stratify.stratum_keys` (the label, or the rarest label).
    """
    from threadpoolctl import threadpool_limits

    block = TfidfBlock.fit(texts, "word", (1, 2), min_df=2, max_features=None)
    features = block.transform(texts)  # (N, F)
    fold = _assign_folds([normalize_text(text) for text in texts], stratum_keys(targets), folds, seed)
    probs = np.zeros(targets.shape)  # (N, C)
    # Sparse problems this small gain nothing from threads; on shared cores they lose a lot.
    with threadpool_limits(limits=1):
        for k in range(folds):
            held = fold == k
            coef, intercept = fit_logistic(features[~held], targets[~held], multi_label, 4.0, None)
            logits = np.asarray(sp.csr_matrix(features[held]) @ coef.T) + intercept  # (N_k, C)
            probs[held] = to_probabilities(logits, multi_label)
    return probs


def _assign_folds(keys: list[str], strata: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """(N,) fold of each row: groups of equal keys dealt round-robin, shuffled, sorted by stratum."""
    group_ids: dict[str, int] = {}
    group = np.array([group_ids.setdefault(key, len(group_ids)) for key in keys])
    first = np.unique(group, return_index=True)[1]  # one row per group
    order = np.random.default_rng(seed).permutation(len(first))
    order = order[np.argsort(strata[first][order], kind="stable")]
    fold_of_group = np.empty(len(first), dtype=int)
    fold_of_group[order] = np.arange(len(first)) % folds
    return fold_of_group[group]


def _confident_learning(
    targets: np.ndarray, probs: np.ndarray, multi_label: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Flagged row positions (worst first) and every row's label quality score, from cleanlab."""
    if multi_label:
        from cleanlab.multilabel_classification.filter import find_label_issues as find_issues
        from cleanlab.multilabel_classification.rank import get_label_quality_scores

        given: Any = [np.flatnonzero(row).tolist() for row in targets]
    else:
        from cleanlab.filter import find_label_issues as find_issues
        from cleanlab.rank import get_label_quality_scores

        given = targets.argmax(axis=1)
        probs = probs / probs.sum(axis=1, keepdims=True)
    flagged = find_issues(given, probs, return_indices_ranked_by="self_confidence")
    return np.asarray(flagged, dtype=int), np.asarray(get_label_quality_scores(given, probs))


def _predicted(probs: np.ndarray, multi_label: bool) -> np.ndarray:
    """0/1 decisions: labels at p >= 0.5 for multi-label, the argmax one-hot for multi-class."""
    if multi_label:
        return probs >= 0.5
    return np.eye(probs.shape[-1], dtype=bool)[np.argmax(probs, axis=-1)]


def _names(flags: np.ndarray, names: list[str]) -> list[str]:
    return [name for name, flag in zip(names, flags, strict=True) if flag]
