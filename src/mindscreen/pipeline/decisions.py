"""The decision rules of the pipeline as pure array functions, and the record that carries them.

Each stage (:mod:`mindscreen.pipeline.stages`) takes a :class:`Decisions` record and returns it updated;
these functions are the rules the stages apply (no models, no I/O).

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
from dataclasses import dataclass, replace

import numpy as np

from mindscreen.thresholds import apply_thresholds

RISK_LEVELS = ("none", "low", "moderate", "high", "crisis")
REVIEW_REASONS = ("uncertain", "disagreement", "crisis_phrase")
NONE, LOW, MODERATE, HIGH, CRISIS = range(5)


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


UNDECIDED = -1  # Decisions.stage of a text no stage has decided yet


@dataclass(frozen=True)
class Decisions:
    """The running record of one pipeline pass: every stage takes it and returns it updated.

    ``stage`` holds, per text, the index in :data:`~mindscreen.pipeline.stages.STAGES` of the stage
    that decided it (``UNDECIDED`` until one does); ``probs`` and ``preds`` are that stage's. ``risk``
    and ``crisis_phrase`` are filled at the end (:func:`finish`).
    """

    probs: np.ndarray  # (N, C) the deciding stage's probabilities
    preds: np.ndarray  # (N, C) 0/1
    stage: np.ndarray  # (N,) index into STAGES, UNDECIDED before
    flagged: np.ndarray  # (N,) crisis phrase matched
    uncertain: np.ndarray  # (N,)
    disagreement: np.ndarray  # (N,)
    risk: np.ndarray  # (N,) index into RISK_LEVELS
    crisis_phrase: np.ndarray  # (N,) phrase matched but no critical label predicted

    @classmethod
    def start(cls, num_texts: int, num_labels: int) -> Decisions:
        """Nothing decided, nothing flagged."""
        flags = np.zeros(num_texts, dtype=bool)
        return cls(
            probs=np.zeros((num_texts, num_labels)),
            preds=np.zeros((num_texts, num_labels), dtype=np.int64),
            stage=np.full(num_texts, UNDECIDED),
            flagged=flags,
            uncertain=flags,
            disagreement=flags,
            risk=np.zeros(num_texts, dtype=np.int64),
            crisis_phrase=flags,
        )

    @property
    def undecided(self) -> np.ndarray:
        return self.stage == UNDECIDED  # (N,)

    @property
    def needs_review(self) -> np.ndarray:
        return self.uncertain | self.disagreement | self.crisis_phrase  # (N,)

    def reasons(self, i: int) -> list[str]:
        values = (self.uncertain[i], self.disagreement[i], self.crisis_phrase[i])
        return [name for name, on in zip(REVIEW_REASONS, values, strict=True) if on]

    def decide(
        self, rows: np.ndarray, stage: int, probs: np.ndarray, preds: np.ndarray, **flags: np.ndarray
    ) -> Decisions:
        """A copy with the texts ``rows`` (bool ``(N,)``) decided by ``stage``: their probabilities and 0/1
        predictions (``(R, C)`` for those rows) and any review flags (``(R,)`` each)."""
        changes: dict[str, np.ndarray] = {"stage": np.where(rows, stage, self.stage)}
        for name, values in (("probs", probs), ("preds", preds), *flags.items()):
            updated = getattr(self, name).copy()
            updated[rows] = values
            changes[name] = updated
        return replace(self, **changes)


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


def finish(decisions: Decisions, policy: Policy) -> Decisions:
    """Risk levels and the ``crisis_phrase`` review flag, once every stage has run."""
    no_critical = ~decisions.preds[:, policy.critical].any(axis=1)
    return replace(
        decisions,
        risk=risk_levels(decisions.probs, decisions.preds, decisions.flagged, policy),
        crisis_phrase=decisions.flagged & no_critical,
    )
