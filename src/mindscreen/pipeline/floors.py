"""Recall floors: critical-label thresholds that reach a target recall on dev, and the stage-1 cutoff.

Thresholds: a critical label keeps its F1-fitted threshold when that already reaches the floor on dev;
otherwise it gets the largest threshold that does (multi-label: the k-th largest positive probability
with ``k = ceil(floor * positives)``; multi-class: the same on ``p_c / best rival score``, so the label
wins on k of its positives). Lowering one multi-class threshold can take wins from another critical
label, so the classes are revisited for a few passes.

Cutoff: stage 1 answers "low risk" for texts without a crisis phrase whose screen score is below the
cutoff. The candidates are midpoints between the (at most 200 quantiles of the) screen scores of dev;
the chosen cutoff is the largest whose end-to-end dev recall of every critical label stays at or above
the floor (and, when set, whose dev macro-F1 is at most ``max_macro_f1_drop`` below stage 2 alone).

Shapes: ``N`` texts, ``C`` classes.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace

import numpy as np

from mindscreen.pipeline.decisions import Decisions, Policy, screen_scores
from mindscreen.pipeline.stages import STAGES, ModelStage, Scores, ScreenStage
from mindscreen.scores import macro_f1
from mindscreen.thresholds import apply_thresholds

logger = logging.getLogger(__name__)

MAX_CANDIDATES = 200
_PASSES = 5
_SHRINK = 1 - 1e-6  # strictly below a critical value, so ties resolve towards the critical label


def recalls(y_true: np.ndarray, preds: np.ndarray, columns: np.ndarray) -> list[float | None]:
    """Recall of each column in ``columns``; None where the data holds no positive."""
    out: list[float | None] = []
    for c in np.flatnonzero(columns):
        positives = y_true[:, c] >= 0.5
        out.append(float((preds[positives, c] >= 1).mean()) if positives.any() else None)
    return out


def fit_recall_thresholds(
    y_true: np.ndarray, probs: np.ndarray, thresholds: np.ndarray, policy: Policy, floor: float
) -> np.ndarray:
    """Thresholds ``(C,)`` with each critical label's dev recall at or above ``floor`` where reachable."""
    fitted = np.asarray(thresholds, dtype=float).copy()
    for _ in range(_PASSES if not policy.multi_label else 1):
        changed = False
        for c in np.flatnonzero(policy.critical):
            positives = y_true[:, c] >= 0.5
            if not positives.any():
                logger.warning(
                    "critical label %r has no dev positive; its threshold is left as fitted", policy.labels[c]
                )
                continue
            values = np.sort(_critical_values(probs, fitted, int(c), policy.multi_label)[positives])[::-1]
            needed = values[max(math.ceil(floor * positives.sum() - 1e-9), 1) - 1]
            if not policy.multi_label:
                needed *= _SHRINK
            if needed < fitted[c] and needed > 0:
                fitted[c], changed = needed, True
        if not changed:
            break
    fitted = fitted if policy.multi_label else fitted / fitted.sum()
    achieved = recalls(y_true, apply_thresholds(probs, fitted, policy.multi_label), policy.critical)
    for c, recall in zip(np.flatnonzero(policy.critical), achieved, strict=True):
        if recall is not None and recall < floor:
            logger.warning(
                "critical label %r reaches dev recall %.3f, below the floor %.3f: multi-class critical "
                "labels compete for the same texts; lower the floor or mark fewer labels critical",
                policy.labels[c],
                recall,
                floor,
            )
    return fitted


def _critical_values(probs: np.ndarray, thresholds: np.ndarray, c: int, multi_label: bool) -> np.ndarray:
    """``(N,)``: the largest threshold of class ``c`` at which each text gets class ``c``."""
    if multi_label:
        return probs[:, c]
    others = probs / thresholds  # (N, C)
    others[:, c] = -np.inf
    rival = others.max(axis=1)
    return np.divide(probs[:, c], rival, out=np.full(len(probs), np.inf), where=rival > 0)


@dataclass(frozen=True)
class CutoffFit:
    """The chosen stage-1 cutoff and what it does on dev."""

    cutoff: float
    screen_share: float
    critical_recall: list[float | None]
    macro_f1: float


def fit_cutoff(
    y_true: np.ndarray,
    flagged: np.ndarray,
    screen: ScreenStage,
    screen_probs: np.ndarray,
    model: ModelStage,
    model_scores: Scores,
    floor: float,
    max_macro_f1_drop: float | None,
) -> CutoffFit:
    """The largest stage-1 cutoff that keeps the recall floor (and the macro-F1 guard) on dev.

    Args:
        y_true: ``(N, C)`` dev labels.
        flagged: ``(N,)`` crisis phrase matched.
        screen: the stage-1 stage; its cutoff is what is searched, so the one it holds is ignored.
        screen_probs: ``(N, C)`` stage-1 probabilities of every dev text.
        model: the stage-2 stage, recall floors applied to its thresholds.
        model_scores: its scores of every dev text.
        floor: the recall every critical label must keep.
        max_macro_f1_drop: how far dev macro-F1 may fall below stage 2 alone; None: no limit.
    """
    policy = model.policy
    if not policy.critical.any() and max_macro_f1_drop is None:
        raise ValueError(
            "screen.cutoff=fit needs critical_labels (the recall floor bounds the cutoff) or "
            "screen.max_macro_f1_drop; set one of them, or give screen.cutoff a number"
        )
    start = replace(Decisions.start(*screen_probs.shape), flagged=flagged)
    alone = model.apply(model_scores, start).preds
    baseline = macro_f1(y_true, alone)
    best = CutoffFit(0.0, 0.0, recalls(y_true, alone, policy.critical), baseline)
    stage_one = STAGES.index(ScreenStage.name)
    for cutoff in _candidates(screen_scores(screen_probs, policy)[~flagged]):
        stage = ScreenStage(screen.screen, float(cutoff), policy)
        screened = stage.apply(Scores(probs=screen_probs), start)
        decided = model.apply(model_scores, screened)
        recall = recalls(y_true, decided.preds, policy.critical)
        f1 = macro_f1(y_true, decided.preds)
        keeps_floor = all(r is None or r >= floor - 1e-12 for r in recall)
        keeps_f1 = max_macro_f1_drop is None or f1 >= baseline - max_macro_f1_drop - 1e-12
        if keeps_floor and keeps_f1:
            best = CutoffFit(float(cutoff), float((decided.stage == stage_one).mean()), recall, f1)
    return best


def _candidates(scores: np.ndarray) -> np.ndarray:
    """Ascending cutoffs: midpoints between distinct (quantiles of) scores, then one above them all."""
    if scores.size == 0:
        return np.zeros(0)
    values = np.unique(scores)
    if values.size > MAX_CANDIDATES:
        values = np.unique(np.quantile(scores, np.linspace(0, 1, MAX_CANDIDATES + 1)))
    top = values[-1] + (1 - values[-1]) / 2 if values[-1] < 1 else np.nextafter(1.0, 2.0)
    return np.append((values[1:] + values[:-1]) / 2, top)
