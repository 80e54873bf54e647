"""Pipeline stages: each takes the texts and the running decisions and returns the decisions updated.

A stage works in two halves, so that fitting can score every dev text once and then try many settings:
``score(texts)`` does the model work (on the texts it is given) and ``apply(scores, decisions)`` the
cheap array rules, with ``scores`` covering every text of the pass. Calling a stage does both, scoring
only the texts no earlier stage decided. The stages, in order:

- :class:`LexiconStage` (``lexicon``): flags texts holding a crisis phrase; decides nothing.
- :class:`ScreenStage` (``screen``): decides clear-cut low-risk texts (no crisis phrase, screen score
  below the cutoff) with safe labels only.
- :class:`ModelStage` (``model``): decides every remaining text with the stage-2 model's thresholded
  labels, and flags uncertain texts and texts ensemble members disagree on.

:data:`STAGES` lists the names of the stages that decide: what the service reports as a text's stage.
A new stage is a class here (or in its own module, added to :data:`STAGE_TYPES`), its settings in the
spec and its place in the pipeline directory (:mod:`mindscreen.pipeline.store`).

Shapes: ``N`` texts, ``M`` ensemble members, ``C`` classes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from mindscreen.pipeline.decisions import Decisions, Policy, disagree, screen_labels, screen_scores, uncertain
from mindscreen.pipeline.lexicon import Lexicon
from mindscreen.thresholds import apply_thresholds

if TYPE_CHECKING:
    from mindscreen.predictors import Predictor


@dataclass(frozen=True)
class Scores:
    """What a stage's model work produced, one row per text of the pass (unscored rows are zeros).

    Attributes:
        probs: ``(N, C)`` probabilities.
        members: ``(M, N, C)`` each ensemble member's probabilities (one member for a single model).
        flags: ``(N,)`` bool.
    """

    probs: np.ndarray | None = None
    members: np.ndarray | None = None
    flags: np.ndarray | None = None

    def scatter(self, rows: np.ndarray, num_texts: int) -> Scores:
        """Scores of the texts at ``rows`` (int indices) placed in ``num_texts`` rows."""

        def place(values: np.ndarray | None, axis: int) -> np.ndarray | None:
            if values is None:
                return None
            shape = list(values.shape)
            shape[axis] = num_texts
            full = np.zeros(shape, dtype=values.dtype)
            index: list[Any] = [slice(None)] * values.ndim
            index[axis] = rows
            full[tuple(index)] = values
            return full

        return Scores(place(self.probs, 0), place(self.members, 1), place(self.flags, 0))


class Stage:
    """Base of the stages: ``stage(texts, decisions) -> decisions``."""

    name: ClassVar[str]
    decides: ClassVar[bool]

    def score(self, texts: list[str]) -> Scores:
        raise NotImplementedError

    def apply(self, scores: Scores, decisions: Decisions) -> Decisions:
        raise NotImplementedError

    def __call__(self, texts: list[str], decisions: Decisions) -> Decisions:
        """Score the texts no earlier stage decided, then apply the rules."""
        rows = np.flatnonzero(decisions.undecided)
        if len(rows) == 0:
            return decisions
        scores = self.score([texts[i] for i in rows])
        return self.apply(scores.scatter(rows, len(texts)), decisions)


class LexiconStage(Stage):
    """Crisis phrases: a text holding one is flagged (risk ``crisis``, and stage 1 never decides it)."""

    name = "lexicon"
    decides = False

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon

    def score(self, texts: list[str]) -> Scores:
        return Scores(flags=self.lexicon.flags(texts))

    def apply(self, scores: Scores, decisions: Decisions) -> Decisions:
        assert scores.flags is not None
        return replace(decisions, flagged=decisions.flagged | (scores.flags & decisions.undecided))


class ScreenStage(Stage):
    """Stage 1: a fast screen decides texts whose highest risk-label probability is below ``cutoff``."""

    name = "screen"
    decides = True

    def __init__(self, screen: Predictor, cutoff: float, policy: Policy) -> None:
        if not policy.can_screen:
            raise ValueError(
                "a stage-1 screen needs, for a multi-class task, at least one safe label (safe_labels) "
                "for stage 1 to answer with"
            )
        self.screen, self.cutoff, self.policy = screen, cutoff, policy

    def score(self, texts: list[str]) -> Scores:
        return Scores(probs=np.asarray(self.screen.predict_proba(texts)))

    def apply(self, scores: Scores, decisions: Decisions) -> Decisions:
        assert scores.probs is not None
        rows = (
            decisions.undecided
            & ~decisions.flagged
            & (screen_scores(scores.probs, self.policy) < self.cutoff)
        )
        probs = scores.probs[rows]
        preds = screen_labels(probs, self.screen.thresholds, self.policy)
        return decisions.decide(rows, STAGES.index(self.name), probs, preds)


class ModelStage(Stage):
    """Stage 2: the model's thresholded labels for every text still undecided, with review flags."""

    name = "model"
    decides = True

    def __init__(self, model: Predictor, thresholds: np.ndarray, policy: Policy) -> None:
        self.model, self.thresholds, self.policy = model, np.asarray(thresholds, dtype=float), policy

    def score(self, texts: list[str]) -> Scores:
        members = np.asarray(self.model.member_probas(texts))  # (M, R, C)
        return Scores(probs=np.asarray(self.model.combine(members)), members=members)

    def apply(self, scores: Scores, decisions: Decisions) -> Decisions:
        assert scores.probs is not None and scores.members is not None
        rows = decisions.undecided
        probs, members = scores.probs[rows], scores.members[:, rows]
        preds = apply_thresholds(probs, self.thresholds, self.policy.multi_label) if len(probs) else probs
        return decisions.decide(
            rows,
            STAGES.index(self.name),
            probs,
            preds,
            uncertain=uncertain(probs, self.thresholds, self.policy),
            disagreement=disagree(members, self.thresholds, self.policy),
        )


STAGE_TYPES: tuple[type[Stage], ...] = (LexiconStage, ScreenStage, ModelStage)
#: Names of the stages that decide texts, in pipeline order: the ``stage`` of every result.
STAGES: tuple[str, ...] = tuple(stage.name for stage in STAGE_TYPES if stage.decides)


def run_stages(stages: list[Stage], texts: list[str], num_labels: int) -> Decisions:
    """Every stage in order over ``texts``, from nothing decided."""
    decisions = Decisions.start(len(texts), num_labels)
    for stage in stages:
        decisions = stage(texts, decisions)
    return decisions


def apply_stages(stages: list[Stage], scores: list[Scores], num_texts: int, num_labels: int) -> Decisions:
    """Every stage's rules over scores computed beforehand for all ``num_texts`` texts (fitting)."""
    decisions = Decisions.start(num_texts, num_labels)
    for stage, stage_scores in zip(stages, scores, strict=True):
        decisions = stage.apply(stage_scores, decisions)
    return decisions
