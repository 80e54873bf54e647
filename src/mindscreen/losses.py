"""Training losses, chosen by name from ``LOSSES``.

Shapes: ``B`` batch, ``C`` classes. Every loss takes ``logits (B, C)`` and
``targets (B, C)`` of 0/1 floats (one-hot rows for multi-class) and returns a scalar.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F


class CrossEntropyLoss(nn.Module):
    """Softmax cross-entropy for multi-class targets given one-hot."""

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.float(), targets.argmax(dim=-1))


class BCELoss(nn.Module):
    """Per-class sigmoid binary cross-entropy, averaged over classes and batch."""

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(logits.float(), targets.float())


LOSSES: dict[str, Callable[[], nn.Module]] = {
    "cross_entropy": CrossEntropyLoss,
    "bce": BCELoss,
}


def build_loss(name: str, multi_label: bool) -> nn.Module:
    """The loss ``name``; ``'auto'`` is BCE for multi-label and cross-entropy otherwise."""
    if name == "auto":
        name = "bce" if multi_label else "cross_entropy"
    if name == "cross_entropy" and multi_label:
        raise ValueError("loss 'cross_entropy' needs single-label data; use train.loss=bce for multi-label")
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of: auto, {', '.join(LOSSES)}")
    return LOSSES[name]()
