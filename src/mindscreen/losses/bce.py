"""Binary cross-entropy per label (sigmoid): the multi-label default (``train.loss.name=auto``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mindscreen.losses.base import LossContext, LossParams, register

if TYPE_CHECKING:
    import torch


@register("bce")
def bce(logits: torch.Tensor, targets: torch.Tensor, params: LossParams, ctx: LossContext) -> torch.Tensor:
    """Per-label sigmoid binary cross-entropy, averaged over labels and batch."""
    from torch.nn import functional as F

    logits, soft = logits.float(), ctx.targets(targets)
    if ctx.positive is None:
        return F.binary_cross_entropy_with_logits(logits, soft)
    pos = ctx.weigh_positive(soft * F.logsigmoid(logits))  # (B, C)
    neg = ctx.weigh_negative((1 - soft) * F.logsigmoid(-logits))  # (B, C)
    return -(pos + neg).mean()
