"""Faithfulness of word scores: ERASER's comprehensiveness and sufficiency (DeYoung et al., ACL 2020).

For a text, a label and word scores, with ``p`` the model's probability of the label:

- **comprehensiveness**: ``p(text) - p(text without its top-k% words)``; high when the words the
  explanation ranks first are the ones the prediction needs;
- **sufficiency**: ``p(text) - p(only the top-k% words)``; low when those words alone keep the
  prediction.

Both are averaged over k = 1, 5, 10, 20 and 50% (the area over the perturbation curve, as ERASER
reports it). The top-k% are the ``ceil(k * n)`` seen words with the highest scores (toward the label),
``n`` the number of words the model sees. Random scores are the floor any method has to clear.

Shapes: ``N`` texts, ``W`` words of a text, ``K`` percentages.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from mindscreen.explain.words import Span, keep_only, remove
from mindscreen.predictors import predict_proba_chunked

if TYPE_CHECKING:
    from mindscreen.predictors import Predictor

PERCENTS = (1, 5, 10, 20, 50)


def top_words(scores: np.ndarray, percent: float) -> np.ndarray:
    """Indices of the ``ceil(percent% of seen words)`` highest-scoring seen words (NaN: unseen)."""
    seen = np.flatnonzero(~np.isnan(scores))
    count = min(len(seen), max(1, math.ceil(percent / 100 * len(seen))))
    order = seen[np.argsort(-scores[seen], kind="stable")]
    return order[:count]


def eraser(
    predictor: Predictor,
    texts: list[str],
    words: list[list[Span]],
    scores: list[np.ndarray],
    targets: list[int],
    percents: tuple[float, ...] = PERCENTS,
) -> tuple[np.ndarray, np.ndarray]:
    """Comprehensiveness and sufficiency ``(N,)`` each, averaged over ``percents``.

    Args:
        predictor: the model whose probability the scores explain.
        texts: the texts; ``words`` their words; ``scores`` one ``(W,)`` array per text (NaN: unseen).
        targets: the explained class of each text.
    """
    variants = []
    for text, spans, values in zip(texts, words, scores, strict=True):
        variants.append(text)
        for percent in percents:
            chosen = [spans[i] for i in top_words(values, percent)]
            variants += [remove(text, chosen), keep_only(text, chosen)]
    probs = predict_proba_chunked(predictor, variants)  # (N * (1 + 2K), C)
    per_text = 1 + 2 * len(percents)
    rows = probs.reshape(len(texts), per_text, -1)[np.arange(len(texts)), :, targets]  # (N, 1 + 2K)
    base = rows[:, :1]
    comprehensiveness = (base - rows[:, 1::2]).mean(axis=1)
    sufficiency = (base - rows[:, 2::2]).mean(axis=1)
    return comprehensiveness, sufficiency


def random_scores(seen: list[bool], rng: np.random.Generator) -> np.ndarray:
    """``(W,)`` uniform random scores for the seen words (NaN for the rest): the baseline to beat."""
    values = rng.random(len(seen))
    return np.where(np.asarray(seen, dtype=bool), values, np.nan)
