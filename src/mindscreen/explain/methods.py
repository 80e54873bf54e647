"""The explanation methods users can ask for, and the one used when they do not ask.

- ``occlusion`` (:mod:`~mindscreen.explain.occlusion`): every model kind; the default. In
  ``benchmarks/explain.py`` (BENCHMARKS.md) it was the most comprehensive method on dreaddit and SAD
  (11x and 4.8x random); as sufficient as Integrated Gradients on dreaddit, more so on SAD.
- ``integrated_gradients`` (:mod:`~mindscreen.explain.gradients`): trained runs, and ensembles that
  average trained runs; needs the ``explain`` extra (Captum). It also beat random clearly (9.6x and
  4.8x), and costs a fixed number of passes: faster than occlusion on long texts, slower on short ones.
  A model without a gradient path is explained by occlusion instead, and the explanation says so in
  its ``note``.

Attention weights and random scores are baselines of the benchmark, not methods.

Shapes: ``L`` explained labels of a text, ``W`` its words, ``C`` classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mindscreen.explain.occlusion import occlusion
from mindscreen.explain.words import Span

if TYPE_CHECKING:
    from mindscreen.predictors import Predictor

METHODS = ("occlusion", "integrated_gradients")
DEFAULT_METHOD = "occlusion"
STEPS = 20  # Integrated Gradients steps along the path (see BENCHMARKS.md for what they cost)


@dataclass(frozen=True)
class Scored:
    """Word scores ``(L, W)`` of one text, the method that gave them, and why it replaced another."""

    scores: np.ndarray
    method: str
    note: str | None = None


def check_method(method: str | None) -> str:
    """``method``, or the default; a ValueError names the valid ones."""
    chosen = method or DEFAULT_METHOD
    if chosen not in METHODS:
        raise ValueError(f"unknown explanation method {chosen!r}; choose one of: {', '.join(METHODS)}")
    return chosen


def score_words(
    predictor: Predictor,
    method: str,
    texts: list[str],
    words: list[list[Span]],
    seen: list[list[bool]],
    targets: list[list[int]],
    steps: int,
) -> list[Scored]:
    """Word scores of each text toward each of its target classes, by ``method``.

    Args:
        predictor: the model whose probabilities are explained (a pipeline stage's model).
        method: one of :data:`METHODS`.
        texts: the texts; ``words`` and ``seen`` their words and which of them the model sees.
        targets: per text, the indices of the classes to explain.
        steps: Integrated Gradients steps.
    """
    note = None
    if method == "integrated_gradients":
        from mindscreen.explain.gradients import gradient_path, gradient_scores

        path = gradient_path(predictor)
        if path is not None:
            return [
                Scored(gradient_scores(path, text, spans, classes, steps), method)
                for text, spans, classes in zip(texts, words, targets, strict=True)
            ]
        kind = getattr(predictor, "kind", type(predictor).__name__)
        note = (
            f"integrated_gradients needs a gradient path through the model, and this {kind} model has "
            "none (only trained runs reading one window per text, and ensembles averaging them, do); "
            "occlusion was used"
        )
    occluded = occlusion(predictor, texts, words, seen)
    return [
        Scored(scores[:, classes].T, "occlusion", note)
        for (_, scores), classes in zip(occluded, targets, strict=True)
    ]
