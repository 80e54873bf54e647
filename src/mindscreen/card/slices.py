"""Dev metrics on slices of the data, for a card's known failure modes (no texts, only counts).

``length_slices`` compares texts the model saw whole with texts cut at ``max_length`` (the model
never saw their end) and the longest quarter of dev with the rest. Written to metrics.json as
``dev_slices`` at the end of training; the card reads it from there.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mindscreen.metrics import compute_metrics

# A slice smaller than this is reported with its size but without metrics: too noisy to read.
MIN_SLICE = 5


def token_lengths(tokenizer: Any, texts: list[str]) -> np.ndarray:
    """``(N,)`` token counts with special tokens and without truncation."""
    if not texts:
        return np.zeros(0, dtype=np.int64)
    encoded = tokenizer(texts, add_special_tokens=True, truncation=False, verbose=False)
    return np.array([len(ids) for ids in encoded["input_ids"]], dtype=np.int64)


def length_slices(
    truth: np.ndarray,
    probs: np.ndarray,
    thresholds: np.ndarray,
    lengths: np.ndarray,
    max_length: int,
    labels: list[str],
    multi_label: bool,
) -> dict[str, Any]:
    """Macro-F1 and micro-F1 of ``probs (N, C)`` on length slices of ``truth (N, C)``.

    Returns:
        ``{"max_length", "cut": {...}, "whole": {...}, "longest_quarter": {...}, "rest": {...}}``;
        each slice holds ``texts``, ``min_tokens`` and, from :data:`MIN_SLICE` texts on,
        ``macro_f1`` and ``micro_f1``.
    """
    cut = lengths > max_length
    quarter = lengths >= np.quantile(lengths, 0.75) if len(lengths) else cut
    masks = {"cut": cut, "whole": ~cut, "longest_quarter": quarter, "rest": ~quarter}
    result: dict[str, Any] = {"max_length": int(max_length)}
    for name, mask in masks.items():
        result[name] = _slice(truth[mask], probs[mask], thresholds, lengths[mask], labels, multi_label)
    return result


def _slice(
    truth: np.ndarray,
    probs: np.ndarray,
    thresholds: np.ndarray,
    lengths: np.ndarray,
    labels: list[str],
    multi_label: bool,
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "texts": len(lengths),
        "min_tokens": int(lengths.min()) if len(lengths) else None,
    }
    if len(lengths) >= MIN_SLICE:
        metrics = compute_metrics(truth, probs, labels, multi_label, thresholds=thresholds)
        found.update(macro_f1=metrics["macro_f1"], micro_f1=metrics["micro_f1"])
    return found
