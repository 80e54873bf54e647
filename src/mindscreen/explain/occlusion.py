"""Occlusion: a word's score is how much the explained probability falls when the word is deleted.

Model-agnostic: it calls only ``predict_proba`` of the :class:`~mindscreen.predictors.Predictor`
protocol, so it explains every kind (a run, an ensemble's combined probability, the TF-IDF screen, an
ONNX export) exactly as it predicts, calibration included. Every text with each of its seen words
deleted in turn is predicted in one batched pass; one pass scores every label at once.

Shapes: ``W`` words of a text, ``C`` classes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mindscreen.explain.words import Span, remove
from mindscreen.predictors import predict_proba_chunked

if TYPE_CHECKING:
    from mindscreen.predictors import Predictor


def occlusion(
    predictor: Predictor, texts: list[str], words: list[list[Span]], seen: list[list[bool]]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per text: its probabilities ``(C,)`` and word scores ``(W, C)``, ``p(text) - p(text without the
    word)`` for every label; NaN rows for words the model does not see (they are not deleted).

    Args:
        predictor: any model kind.
        texts: the texts.
        words: their words (:func:`~mindscreen.explain.words.segment`).
        seen: per word, whether the model sees it (:func:`~mindscreen.explain.seen.seen_words`).
    """
    variants: list[str] = []
    for text, spans, flags in zip(texts, words, seen, strict=True):
        variants.append(text)
        variants.extend(remove(text, [span]) for span, on in zip(spans, flags, strict=True) if on)
    probs = predict_proba_chunked(predictor, variants).astype(np.float64)  # (sum of (1 + W_seen), C)
    results, row = [], 0
    for flags in seen:
        kept = int(sum(flags))
        base, dropped = probs[row], probs[row + 1 : row + 1 + kept]  # (C,), (W_seen, C)
        scores = np.full((len(flags), probs.shape[1]), np.nan)  # (W, C)
        scores[np.asarray(flags, dtype=bool)] = base - dropped
        results.append((base, scores))
        row += 1 + kept
    return results
