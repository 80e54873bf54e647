"""What an explanation holds: word scores with character offsets, per explained label, per text.

Nothing here holds the text itself: offsets point into the text the caller already has, so an
explanation can travel (a JSONL file, an HTTP answer) without quoting what a person wrote.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from mindscreen.explain.words import Span


@dataclass(frozen=True)
class WordScore:
    """One word: its character span and its signed score (None: the model never saw it).

    A positive score moved the explained probability toward the label, a negative one away from it.
    """

    start: int
    end: int
    score: float | None

    @property
    def seen(self) -> bool:
        return self.score is not None

    def to_dict(self) -> dict[str, Any]:
        score = None if self.score is None else round(float(self.score), 6)
        return {"start": self.start, "end": self.end, "score": score, "seen": self.seen}


@dataclass(frozen=True)
class LabelExplanation:
    """Why one label got its probability.

    Attributes:
        label: the explained label.
        probability: the probability explained, as ``predict`` reports it (calibrated; an ensemble's
            combined probability; the deciding pipeline stage's).
        method: the method that scored the words (``occlusion``, ``integrated_gradients``).
        words: every word of the text in order, seen or not.
        note: why another method than the one asked for was used, if it was.
    """

    label: str
    probability: float
    method: str
    words: list[WordScore]
    note: str | None = None

    def top(self, count: int, sign: int = 0) -> list[WordScore]:
        """The ``count`` seen words with the largest scores: toward the label (``sign`` 1), against it
        (-1), or by absolute size (0)."""
        scored = [w for w in self.words if w.score is not None and (sign == 0 or w.score * sign > 0)]
        key = (lambda w: -abs(w.score)) if sign == 0 else (lambda w: -w.score * sign)
        return sorted(scored, key=key)[:count]

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "probability": round(float(self.probability), 6),
            "method": self.method,
            "words": [w.to_dict() for w in self.words],
            "note": self.note,
        }


@dataclass(frozen=True)
class Explanation:
    """One text: the decision (as ``predict`` answers it), the label explanations, the crisis phrases.

    Attributes:
        decision: the pipeline's answer (labels, probabilities, risk, stage, review flags).
        labels: one explanation per explained label.
        crisis_phrases: character spans of crisis-lexicon matches: the whole explanation of the
            lexicon's rule (risk ``crisis``, never decided by the screen).
    """

    decision: dict[str, Any]
    labels: list[LabelExplanation]
    crisis_phrases: list[Span] = field(default_factory=list)

    @property
    def stage(self) -> str:
        return str(self.decision.get("stage", "model"))

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.decision,
            "explanations": [label.to_dict() for label in self.labels],
            "crisis_phrases": [{"start": s, "end": e} for s, e in self.crisis_phrases],
        }


def word_scores(words: list[Span], scores: list[float | None]) -> list[WordScore]:
    """Words with their scores; a NaN or None score marks a word the model did not see."""
    return [
        WordScore(start, end, None if value is None or math.isnan(value) else float(value))
        for (start, end), value in zip(words, scores, strict=True)
    ]
