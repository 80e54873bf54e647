"""The multistage pipeline: its stages in order, and what it answers per text.

:meth:`Pipeline.classify` returns one :class:`Result` per text; :meth:`Pipeline.run` the whole
:class:`~mindscreen.pipeline.decisions.Decisions` record. The stages
(:mod:`~mindscreen.pipeline.stages`) run in order, each on the texts no earlier one decided: the crisis
lexicon, the stage-1 screen, the stage-2 model; the risk levels come last
(:func:`~mindscreen.pipeline.decisions.finish`).

Shapes: ``N`` texts, ``C`` classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from mindscreen.pipeline.decisions import RISK_LEVELS, Decisions, Policy, finish
from mindscreen.pipeline.lexicon import Lexicon
from mindscreen.pipeline.stages import STAGES, LexiconStage, ModelStage, ScreenStage, Stage, run_stages

if TYPE_CHECKING:  # the predictor protocol; loading a model goes through the registry
    from mindscreen.predictors import Predictor


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


class Pipeline:
    """The crisis lexicon and an optional stage-1 screen in front of a stage-2 model.

    Args:
        model: stage 2, any predictor (a run, an ensemble, a TF-IDF model, an ONNX export).
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
        model: Predictor,
        policy: Policy,
        thresholds: np.ndarray,
        *,
        screen: Predictor | None = None,
        cutoff: float | None = None,
        lexicon: Lexicon | None = None,
        name: str = "pipeline",
        version: str = "unversioned",
        report: dict[str, Any] | None = None,
    ) -> None:
        _check_labels(model, policy, "stage-2 model")
        if screen is not None:
            _check_labels(screen, policy, "stage-1 screen")
        if cutoff is not None and screen is None:
            raise ValueError("a stage-1 cutoff needs a screen model")
        self.policy = policy
        self.stages: list[Stage] = [
            *([LexiconStage(lexicon)] if lexicon is not None else []),
            *([ScreenStage(screen, cutoff, policy)] if screen is not None and cutoff is not None else []),
            ModelStage(model, thresholds, policy),
        ]
        self.screen = screen  # kept (and saved) even when no cutoff lets it decide
        self.name, self.version, self.report = name, version, report or {}

    def _stage(self, kind: type[Stage]) -> Any:
        return next((stage for stage in self.stages if isinstance(stage, kind)), None)

    @property
    def model(self) -> Predictor:
        stage: ModelStage = self._stage(ModelStage)
        return stage.model

    @property
    def thresholds(self) -> np.ndarray:
        stage: ModelStage = self._stage(ModelStage)
        return stage.thresholds

    @property
    def cutoff(self) -> float | None:
        stage: ScreenStage | None = self._stage(ScreenStage)
        return stage.cutoff if stage is not None else None

    @property
    def lexicon(self) -> Lexicon | None:
        stage: LexiconStage | None = self._stage(LexiconStage)
        return stage.lexicon if stage is not None else None

    @property
    def labels(self) -> list[str]:
        return self.policy.labels

    @property
    def multi_label(self) -> bool:
        return self.policy.multi_label

    def run(self, texts: list[str]) -> Decisions:
        """The decisions for ``texts``: each stage on the texts no earlier stage decided, then risk."""
        texts = list(texts)
        return finish(run_stages(self.stages, texts, len(self.labels)), self.policy)

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

    def predict(self, texts: list[str]) -> list[list[str]]:
        """Labels per text, as decided (by stage 1 or stage 2)."""
        return [result.labels for result in self.classify(texts)]

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
            "stages": [stage.name for stage in self.stages if stage.decides],
            "screen_cutoff": self.cutoff,
            "crisis_lexicon": self.lexicon is not None,
            "abstain_band": policy.abstain_band,
            "disagreement": policy.disagreement,
            "risk_levels": list(RISK_LEVELS),
            "risk_bands": {"high": policy.risk_high, "low": policy.risk_low},
            "report": self.report,
        }


def _check_labels(model: Predictor, policy: Policy, what: str) -> None:
    if list(model.labels) != policy.labels or bool(model.multi_label) != policy.multi_label:
        raise ValueError(
            f"the {what} has labels {list(model.labels)} (multi_label={model.multi_label}); the pipeline "
            f"expects {policy.labels} (multi_label={policy.multi_label}). Train both on the same data"
        )
