"""Softmax cross-entropy for one-hot targets: the multi-class default (``train.loss.name=auto``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mindscreen.losses.base import LossContext, LossParams, register

if TYPE_CHECKING:
    import torch


@register(
    "cross_entropy",
    tasks=("multi_class",),
    hint="use train.loss=bce (or train.loss=auto) for multi-label data",
)
def cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, params: LossParams, ctx: LossContext
) -> torch.Tensor:
    """Softmax cross-entropy, ``-sum_c y_c log p_c`` averaged over the batch."""
    from torch.nn import functional as F

    logits = logits.float()
    if ctx.positive is None and ctx.label_smoothing == 0:
        return F.cross_entropy(logits, targets.argmax(dim=-1))
    terms = ctx.targets(targets) * F.log_softmax(logits, dim=-1)  # (B, C)
    return -ctx.weigh_positive(terms).sum(dim=-1).mean()
