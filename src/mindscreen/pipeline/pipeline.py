"""The multistage pipeline: crisis lexicon + stage-1 screen, stage-2 model, thresholds, risk, review.

:meth:`Pipeline.classify` returns one :class:`Result` per text; :meth:`Pipeline.predict_proba` makes a
pipeline usable wherever a predictor is. The rules are in :mod:`mindscreen.pipeline.decisions`.

Shapes: ``N`` texts, ``R`` texts sent to stage 2, ``M`` ensemble members, ``C`` classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from mindscreen.pipeline.decisions import (
    RISK_LEVELS,
    STAGES,
    Decisions,
    Policy,
    compose,
    route,
    screen_scores,
)
from mindscreen.pipeline.lexicon import Lexicon

if TYPE_CHECKING:  # importing predictor pulls in torch; a pipeline of linear models needs none
    from mindscreen.predictor import ProbabilisticClassifier


@dataclass(frozen=True)
class Result:
    """The pipeline's answer for one text (never the text itself)."""

    labels: list[str]
    probabilities: dict[str, float]
    risk: str
    stage: str
    needs_review: bool
    review_reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "labels": self.labels,
            "probabilities": self.probabilities,
            "risk": self.risk,
            "stage": self.stage,
            "needs_review": self.needs_review,
            "review_reasons": self.review_reasons,
        }


def model_outputs(model: ProbabilisticClassifier, texts: list[str]) -> tuple[np.ndarray, np.ndarray | None]:
    """Stage-2 probabilities ``(R, C)`` and, for an ensemble, its members' ``(M, R, C)``.

    An ensemble with ``member_probas`` and ``combine`` runs its members once for both.
    """
    if not texts:
        return np.zeros((0, len(model.labels))), None
    members_of = getattr(model, "member_probas", None)
    if not callable(members_of):
        return np.asarray(model.predict_proba(texts)), None
    members = np.asarray(members_of(texts))  # (M, R, C)
    combine = getattr(model, "combine", None)
    probs = combine(members) if callable(combine) else model.predict_proba(texts)
    return np.asarray(probs), members


class Pipeline:
    """Stage 1 (crisis lexicon and an optional linear screen) in front of a stage-2 model.

    Args:
        model: stage 2, anything with ``predict_proba`` (a run, an ensemble, a linear model).
        policy: labels, critical and safe labels, review and risk settings.
        thresholds: ``(C,)`` stage-2 thresholds, recall floors applied.
        screen: the stage-1 model, or None.
        cutoff: stage-1 cutoff on the screen score; None: stage 1 decides nothing.
        lexicon: crisis phrases, or None.
        name: shown by the service.
        version: identifies this exact pipeline in responses and the audit log.
        report: what fitting measured on dev and test (shown by the service).
    """

    def __init__(
        self,
        model: ProbabilisticClassifier,
        policy: Policy,
        thresholds: np.ndarray,
        *,
        screen: ProbabilisticClassifier | None = None,
        cutoff: float | None = None,
        lexicon: Lexicon | None = None,
        name: str = "pipeline",
        version: str = "unversioned",
        report: dict[str, Any] | None = None,
    ) -> None:
        _check_labels(model, policy, "stage-2 model")
        if screen is not None:
            _check_labels(screen, policy, "stage-1 screen")
        if cutoff is not None and (screen is None or not policy.can_screen):
            raise ValueError(
                "a stage-1 cutoff needs a screen model and, for a multi-class task, at least one safe label "
                "(safe_labels) for stage 1 to answer with"
            )
        self.model, self.policy, self.thresholds = model, policy, np.asarray(thresholds, dtype=float)
        self.screen, self.cutoff, self.lexicon = screen, cutoff, lexicon
        self.name, self.version, self.report = name, version, report or {}

    @property
    def labels(self) -> list[str]:
        return self.policy.labels

    @property
    def multi_label(self) -> bool:
        return self.policy.multi_label

    def run(self, texts: list[str]) -> Decisions:
        """Decision arrays for ``texts``; stage 2 runs only on texts stage 1 did not decide."""
        texts = list(texts)
        flagged = self.lexicon.flags(texts) if self.lexicon is not None else np.zeros(len(texts), dtype=bool)
        screen_probs = None
        at_screen = np.zeros(len(texts), dtype=bool)
        if self.screen is not None and self.cutoff is not None and texts:
            screen_probs = self.screen.predict_proba(texts)  # (N, C)
            at_screen = route(screen_scores(screen_probs, self.policy), flagged, self.cutoff)
        rest = [texts[i] for i in np.flatnonzero(~at_screen)]
        model_probs, members = model_outputs(self.model, rest)  # (R, C), (M, R, C)
        screen_thresholds = self.screen.thresholds if self.screen is not None else None
        return compose(
            at_screen,
            flagged,
            screen_probs,
            screen_thresholds,
            model_probs,
            self.thresholds,
            members,
            self.policy,
        )

    def classify(self, texts: list[str]) -> list[Result]:
        """One :class:`Result` per text, in order."""
        decided = self.run(texts)
        review = decided.needs_review
        return [
            Result(
                labels=[self.labels[c] for c in np.flatnonzero(decided.preds[i])],
                probabilities={
                    label: round(float(p), 6) for label, p in zip(self.labels, decided.probs[i], strict=True)
                },
                risk=RISK_LEVELS[int(decided.risk[i])],
                stage=STAGES[int(decided.stage[i])],
                needs_review=bool(review[i]),
                review_reasons=decided.reasons(i),
            )
            for i in range(len(decided.stage))
        ]

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """``(N, C)`` probabilities of the stage that decided each text."""
        return self.run(texts).probs

    def describe(self) -> dict[str, Any]:
        """Labels, thresholds and settings, for ``/v1/model`` (no texts, no phrases)."""
        policy = self.policy
        return {
            "name": self.name,
            "version": self.version,
            "labels": self.labels,
            "multi_label": self.multi_label,
            "thresholds": {label: float(t) for label, t in zip(self.labels, self.thresholds, strict=True)},
            "critical_labels": [label for label, on in zip(self.labels, policy.critical, strict=True) if on],
            "safe_labels": [label for label, on in zip(self.labels, policy.safe, strict=True) if on],
            "stages": ["screen", "model"] if self.cutoff is not None else ["model"],
            "screen_cutoff": self.cutoff,
            "crisis_lexicon": self.lexicon is not None,
            "abstain_band": policy.abstain_band,
            "disagreement": policy.disagreement,
            "risk_levels": list(RISK_LEVELS),
            "risk_bands": {"high": policy.risk_high, "low": policy.risk_low},
            "report": self.report,
        }


def _check_labels(model: ProbabilisticClassifier, policy: Policy, what: str) -> None:
    if list(model.labels) != policy.labels or bool(model.multi_label) != policy.multi_label:
        raise ValueError(
            f"the {what} has labels {list(model.labels)} (multi_label={model.multi_label}); the pipeline "
            f"expects {policy.labels} (multi_label={policy.multi_label}). Train both on the same data"
        )
