"""The decision rules of the pipeline, as pure array functions (no models, no I/O).

Stage 1 decides a text as low risk when no crisis phrase matched and its screen score (the highest
stage-1 probability over risk labels, i.e. labels not marked safe) is below the cutoff; such a text gets
safe labels only and risk 'none' or 'low'. Every other text goes to stage 2, whose thresholded labels
give the risk level:

- ``crisis``: a crisis phrase matched, or a critical label is predicted;
- ``high``: a risk label is predicted and the highest risk-label probability is ``>= risk.high``;
- ``moderate``: a risk label is predicted (below ``risk.high``);
- ``low``: no risk label is predicted, but the highest risk-label probability is ``>= risk.low``;
- ``none``: otherwise.

A stage-2 result ``needs_review`` when it is ``uncertain`` (a review label within ``abstain_band`` of its
decision boundary), when ensemble members ``disagree`` on a review label, or when a crisis phrase matched
but no critical label is predicted (``crisis_phrase``). Review labels are the critical labels when there
are any, else every label.

Shapes: ``N`` texts, ``R`` texts sent to stage 2, ``M`` ensemble members, ``C`` classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mindscreen.thresholds import apply_thresholds

RISK_LEVELS = ("none", "low", "moderate", "high", "crisis")
STAGES = ("screen", "model")
REVIEW_REASONS = ("uncertain", "disagreement", "crisis_phrase")
NONE, LOW, MODERATE, HIGH, CRISIS = range(5)
SCREEN, MODEL = range(2)


@dataclass(frozen=True)
class Policy:
    """Which labels are critical, safe and reviewed, and the review and risk settings."""

    labels: list[str]
    multi_label: bool
    critical: np.ndarray  # (C,) bool
    safe: np.ndarray  # (C,) bool
    abstain_band: float = 0.1
    disagreement: float | None = 0.3
    risk_high: float = 0.8
    risk_low: float = 0.2

    @classmethod
    def build(
        cls,
        labels: list[str],
        multi_label: bool,
        critical: Sequence[str],
        safe: Sequence[str],
        **settings: float | None,
    ) -> Policy:
        """A policy for ``labels``; unknown label names raise a ValueError listing the valid ones."""
        for kind, names in (("critical_labels", critical), ("safe_labels", safe)):
            unknown = [name for name in names if name not in labels]
            if unknown:
                raise ValueError(
                    f"{kind} {unknown} are not labels of the model; its labels are: {', '.join(labels)}"
                )
        mask = [np.array([label in names for label in labels]) for names in (critical, safe)]
        return cls(list(labels), multi_label, mask[0], mask[1], **settings)  # type: ignore[arg-type]

    @property
    def risk(self) -> np.ndarray:
        return ~self.safe  # (C,)

    @property
    def reviewed(self) -> np.ndarray:
        return self.critical if self.critical.any() else np.ones_like(self.critical)  # (C,)

    @property
    def can_screen(self) -> bool:
        """Stage 1 needs a safe label to answer with on a multi-class task."""
        return self.multi_label or bool(self.safe.any())


@dataclass(frozen=True)
class Decisions:
    """Per-text outcome arrays of one pipeline pass."""

    probs: np.ndarray  # (N, C) the deciding stage's probabilities
    preds: np.ndarray  # (N, C) 0/1
    stage: np.ndarray  # (N,) SCREEN or MODEL
    risk: np.ndarray  # (N,) index into RISK_LEVELS
    flagged: np.ndarray  # (N,) crisis phrase matched
    uncertain: np.ndarray  # (N,)
    disagreement: np.ndarray  # (N,)
    crisis_phrase: np.ndarray  # (N,) phrase matched but no critical label predicted

    @property
    def needs_review(self) -> np.ndarray:
        return self.uncertain | self.disagreement | self.crisis_phrase  # (N,)

    def reasons(self, i: int) -> list[str]:
        values = (self.uncertain[i], self.disagreement[i], self.crisis_phrase[i])
        return [name for name, on in zip(REVIEW_REASONS, values, strict=True) if on]


def screen_scores(probs: np.ndarray, policy: Policy) -> np.ndarray:
    """``(N,)`` highest probability over risk labels (0 when every label is safe)."""
    if not policy.risk.any():
        return np.zeros(len(probs))
    return probs[:, policy.risk].max(axis=1)


def route(scores: np.ndarray, flagged: np.ndarray, cutoff: float | None) -> np.ndarray:
    """``(N,)`` bool: decided at stage 1 (no crisis phrase and a score below the cutoff)."""
    if cutoff is None:
        return np.zeros(len(scores), dtype=bool)
    return ~flagged & (scores < cutoff)


def screen_labels(probs: np.ndarray, thresholds: np.ndarray, policy: Policy) -> np.ndarray:
    """``(N, C)`` 0/1 safe labels for stage-1 texts: the likeliest safe class, or safe labels >= threshold."""
    out = np.zeros(probs.shape, dtype=np.int64)
    if policy.multi_label:
        out[:, policy.safe] = (probs[:, policy.safe] >= thresholds[policy.safe]).astype(np.int64)
    elif policy.safe.any() and len(probs):
        safe = np.flatnonzero(policy.safe)
        out[np.arange(len(probs)), safe[np.argmax(probs[:, safe], axis=1)]] = 1
    return out


def uncertain(probs: np.ndarray, thresholds: np.ndarray, policy: Policy) -> np.ndarray:
    """``(N,)`` bool: a review label lies within ``abstain_band`` of its decision boundary.

    Multi-label: ``|p_c - t_c| < band``. Multi-class: with scores ``s = p / t``, the best two classes
    (one of them a review label) have ``(s1 - s2) / (2 (s1 + s2)) < band``, which is ``|p - 0.5| < band``
    for a binary task with default thresholds.
    """
    if policy.abstain_band <= 0 or len(probs) == 0:
        return np.zeros(len(probs), dtype=bool)
    if policy.multi_label:
        near = np.abs(probs - thresholds) < policy.abstain_band  # (N, C)
        return near[:, policy.reviewed].any(axis=1)
    scores = probs / thresholds  # (N, C)
    top2 = np.argsort(-scores, axis=1, kind="stable")[:, :2]  # (N, 2)
    rows = np.arange(len(probs))
    best, second = scores[rows, top2[:, 0]], scores[rows, top2[:, 1]]
    margin = (best - second) / np.maximum(2 * (best + second), 1e-12)
    involved = policy.reviewed[top2[:, 0]] | policy.reviewed[top2[:, 1]]
    return involved & (margin < policy.abstain_band)


def disagree(members: np.ndarray, thresholds: np.ndarray, policy: Policy) -> np.ndarray:
    """``(R,)`` bool: at least ``disagreement`` of the members vote against the rest on a review label."""
    if policy.disagreement is None or members.shape[0] < 2 or members.shape[1] == 0:
        return np.zeros(members.shape[1], dtype=bool)
    votes = np.stack([apply_thresholds(m, thresholds, policy.multi_label) for m in members])  # (M, R, C)
    share = votes.mean(axis=0)[:, policy.reviewed]  # (R, C')
    return (np.minimum(share, 1 - share) >= policy.disagreement - 1e-9).any(axis=1)


def risk_levels(probs: np.ndarray, preds: np.ndarray, flagged: np.ndarray, policy: Policy) -> np.ndarray:
    """``(N,)`` index into RISK_LEVELS, by the rules in the module docstring."""
    top = screen_scores(probs, policy)  # (N,)
    risky = preds[:, policy.risk].any(axis=1)
    critical = preds[:, policy.critical].any(axis=1)
    levels = np.where(top >= policy.risk_low, LOW, NONE)
    levels = np.where(risky, np.where(top >= policy.risk_high, HIGH, MODERATE), levels)
    return np.where(critical | flagged, CRISIS, levels)


def compose(
    at_screen: np.ndarray,
    flagged: np.ndarray,
    screen_probs: np.ndarray | None,
    screen_thresholds: np.ndarray | None,
    model_probs: np.ndarray,
    model_thresholds: np.ndarray,
    members: np.ndarray | None,
    policy: Policy,
) -> Decisions:
    """Merge both stages into per-text decisions.

    Args:
        at_screen: ``(N,)`` bool, texts decided at stage 1 (see :func:`route`).
        flagged: ``(N,)`` bool, crisis phrase matched.
        screen_probs: ``(N, C)`` stage-1 probabilities (may be None when nothing is decided at stage 1).
        screen_thresholds: ``(C,)`` stage-1 thresholds.
        model_probs: ``(R, C)`` stage-2 probabilities of the texts not decided at stage 1, in order.
        model_thresholds: ``(C,)`` stage-2 thresholds (recall floors applied).
        members: ``(M, R, C)`` ensemble member probabilities, or None.
        policy: labels, review and risk settings.
    """
    n, c = len(at_screen), len(policy.labels)
    rest = np.flatnonzero(~at_screen)
    if len(rest) != len(model_probs):
        raise ValueError(f"{len(rest)} texts go to stage 2 but model_probs has {len(model_probs)} rows")
    probs, preds = np.zeros((n, c)), np.zeros((n, c), dtype=np.int64)
    if at_screen.any():
        assert screen_probs is not None and screen_thresholds is not None
        probs[at_screen] = screen_probs[at_screen]
        preds[at_screen] = screen_labels(screen_probs[at_screen], screen_thresholds, policy)
    probs[rest] = model_probs
    preds[rest] = apply_thresholds(model_probs, model_thresholds, policy.multi_label) if len(rest) else 0
    unsure, split = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    unsure[rest] = uncertain(model_probs, model_thresholds, policy)
    if members is not None:
        split[rest] = disagree(members, model_thresholds, policy)
    no_critical = ~preds[:, policy.critical].any(axis=1)
    return Decisions(
        probs=probs,
        preds=preds,
        stage=np.where(at_screen, SCREEN, MODEL),
        risk=risk_levels(probs, preds, flagged, policy),
        flagged=flagged,
        uncertain=unsure,
        disagreement=split,
        crisis_phrase=flagged & no_critical,
    )
