"""From logits to probabilities: a temperature, then a sigmoid per label or a softmax over classes.

Every predictor turns scores into probabilities here, so a run, its ONNX export, a TF-IDF model and an
ensemble member apply the same function to the same logits. Only numpy is imported: the ONNX and
TF-IDF paths need no torch.

Shapes: ``N`` examples, ``C`` classes; a temperature is ``(1,)`` or ``(C,)``.
"""

from __future__ import annotations

import numpy as np


def to_probabilities(logits: np.ndarray, multi_label: bool) -> np.ndarray:
    """Sigmoid per class for multi-label, softmax over classes otherwise.

    Computed in float64 and stable for logits of any size; a float32 input comes back float32.
    """
    array = np.asarray(logits)
    values = array.astype(np.float64)  # (N, C)
    with np.errstate(invalid="ignore"):  # NaN logits (a diverged model) give NaN, as in torch, quietly
        if multi_label:
            probs = np.exp(-np.logaddexp(0.0, -values))
        elif values.size:
            shifted = np.exp(values - values.max(axis=-1, keepdims=True))
            probs = shifted / shifted.sum(axis=-1, keepdims=True)
        else:
            probs = values
    return probs.astype(np.float32 if array.dtype == np.float32 else np.float64)


def apply_temperature(logits: np.ndarray, temperature: np.ndarray | float) -> np.ndarray:
    """``logits / T``; a ``(1,)`` or ``(C,)`` temperature broadcasts over the ``N`` rows.

    Divided in float64; a float32 input comes back float32, anything else float64.
    """
    temperature = np.asarray(temperature, dtype=np.float64)
    if np.any(~np.isfinite(temperature)) or np.any(temperature <= 0):
        raise ValueError(f"temperatures must be finite and > 0, got {temperature.tolist()}")
    array = np.asarray(logits)
    scaled = array.astype(np.float64) / temperature
    return scaled.astype(np.float32 if array.dtype == np.float32 else np.float64)


def to_logits(probs: np.ndarray, multi_label: bool) -> np.ndarray:
    """The inverse of :func:`to_probabilities` up to a per-row constant: log-odds for multi-label,
    log-probabilities for multi-class (what a predictor that combines probabilities reports as logits)."""
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1 - 1e-12)
    return np.log(p) - np.log1p(-p) if multi_label else np.log(p)
