"""Temperature scaling (Guo et al. 2017): fitted on dev logits, saved with the run, applied at prediction.

Shapes: ``N`` examples, ``C`` classes; ``logits`` (N, C); a temperature is ``(1,)`` or ``(C,)``.

``temperature`` divides every logit by one number ``T`` fitted to minimise the dev negative
log-likelihood (softmax cross-entropy for multi-class, BCE for multi-label). It leaves the
multi-class argmax and the per-label ranking unchanged and only makes the probabilities honest:
``T > 1`` softens an over-confident model. ``per_class`` fits one ``T_c`` per class: for
multi-label each label is calibrated on its own (labels without both positives and negatives in dev
keep the shared ``T``); for multi-class it is vector scaling without bias, which can move the argmax.

Decision thresholds are fitted afterwards on the calibrated dev probabilities, so what
``Predictor.predict_proba`` returns and the thresholds applied to it belong together.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch.nn import functional as F

CalibrationMethod = Literal["none", "temperature", "per_class"]

# Temperatures are kept in this range: beyond it a dev set is too small or degenerate to trust.
MIN_TEMPERATURE, MAX_TEMPERATURE = 0.05, 20.0


def fit_temperature(
    logits: np.ndarray, labels: np.ndarray, multi_label: bool, method: CalibrationMethod = "temperature"
) -> np.ndarray:
    """Temperatures minimising the negative log-likelihood of ``labels`` given ``logits / T``.

    Args:
        logits: (N, C) uncalibrated dev logits.
        labels: (N, C) 0/1 dev labels (one-hot rows for multi-class).
        multi_label: Sigmoid per label (True) or softmax over classes (False).
        method: ``'temperature'`` (one T), ``'per_class'`` (one per class) or ``'none'`` (T = 1).

    Returns:
        ``(1,)`` for one temperature, ``(C,)`` for per-class ones.
    """
    z = torch.as_tensor(np.asarray(logits), dtype=torch.float64)  # (N, C)
    y = torch.as_tensor(np.asarray(labels) >= 0.5, dtype=torch.float64)  # (N, C)
    if z.ndim != 2 or z.shape != y.shape or z.shape[0] == 0:
        raise ValueError(
            f"logits and labels must be non-empty (N, C) arrays of one shape; got {tuple(z.shape)} and "
            f"{tuple(y.shape)}"
        )
    if method == "none":
        return np.ones(1)
    if method not in ("temperature", "per_class"):
        raise ValueError(f"unknown calibration {method!r}; choose one of: none, temperature, per_class")
    shared = _minimise(z, y, multi_label, torch.zeros(1, dtype=torch.float64))
    if method == "temperature":
        return shared
    per_class = _minimise(z, y, multi_label, torch.full((z.shape[1],), float(np.log(shared[0]))))
    if multi_label:
        degenerate = (y.sum(0) == 0) | (y.sum(0) == y.shape[0])  # (C,): NLL would push T to a bound
        per_class[degenerate.numpy()] = shared[0]
    return per_class


def _minimise(z: torch.Tensor, y: torch.Tensor, multi_label: bool, start: torch.Tensor) -> np.ndarray:
    """L-BFGS on log-temperatures (so T stays positive), from ``start``; deterministic on CPU."""
    log_t = start.clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS([log_t], lr=1.0, max_iter=200, line_search_fn="strong_wolfe")

    def nll() -> torch.Tensor:
        optimizer.zero_grad()
        scaled = z / log_t.exp()  # (N, C)
        if multi_label:
            loss = F.binary_cross_entropy_with_logits(scaled, y)
        else:
            loss = F.cross_entropy(scaled, y.argmax(dim=1))
        loss.backward()
        return loss

    optimizer.step(nll)
    temperature = log_t.detach().exp().numpy()
    if not np.all(np.isfinite(temperature)):
        return np.ones_like(temperature)
    return np.clip(temperature, MIN_TEMPERATURE, MAX_TEMPERATURE)
