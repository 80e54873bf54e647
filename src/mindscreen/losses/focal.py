"""Focal loss (Lin et al. 2017, *Focal Loss for Dense Object Detection*), softmax or sigmoid.

Multi-class: ``-sum_c alpha_c y_c (1 - p_c)^gamma log p_c`` over softmax probabilities. Multi-label:
per label ``-[a y (1-p)^gamma log p + (1-a)(1-y) p^gamma log(1-p)]`` over sigmoids. ``gamma = 0`` with
``alpha = None`` is exactly cross-entropy (multi-class) or BCE (multi-label).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from mindscreen.losses.base import LossContext, LossParams, register

if TYPE_CHECKING:
    import torch

TINY = 1e-12  # keeps pow() gradients finite where a probability reaches exactly 0 or 1


class FocalParams(LossParams):
    gamma: float = Field(
        2.0, ge=0, description="Focusing gamma; larger down-weights easy examples more; 0 is CE/BCE."
    )
    alpha: float | list[float] | None = Field(
        None,
        description="One weight per label (in label order), or for multi-label one number a weighting "
        "positives (1-a the negatives); null: none.",
    )


def check_alpha(params: FocalParams, multi_label: bool, num_classes: int) -> None:
    """Raise when ``alpha`` does not fit: one number for multi-class, or a list of the wrong length."""
    alpha = params.alpha
    if alpha is not None and not multi_label and not isinstance(alpha, list):
        raise ValueError(
            f"focal alpha {alpha} is one number, but multi-class focal loss needs one alpha per class; "
            "set train.loss.focal.alpha to a list in label order, or null"
        )
    if isinstance(alpha, list) and len(alpha) != num_classes:
        raise ValueError(
            f"train.loss.focal.alpha has {len(alpha)} values but the data has {num_classes} labels; "
            "give one alpha per label in label order (see model.json), or a single number for multi-label"
        )


@register("focal", FocalParams, check=check_alpha)
def focal(logits: torch.Tensor, targets: torch.Tensor, params: FocalParams, ctx: LossContext) -> torch.Tensor:
    """Focal loss: ``-alpha (1 - p_t)^gamma log p_t``, down-weighting well-classified examples."""
    from torch.nn import functional as F

    logits, soft = logits.float(), ctx.targets(targets)
    alpha: torch.Tensor | float | None = params.alpha  # type: ignore[assignment]
    if isinstance(params.alpha, list):
        alpha = ctx.constant("alpha", params.alpha, logits)
    if not ctx.multi_label:
        log_p = F.log_softmax(logits, dim=-1)  # (B, C)
        modulation = (1 - log_p.exp()).clamp(min=TINY).pow(params.gamma)  # (B, C)
        terms = soft * modulation * log_p
        terms = terms if alpha is None else terms * alpha
        return -ctx.weigh_positive(terms).sum(dim=-1).mean()
    prob = logits.sigmoid()  # (B, C)
    pos = soft * (1 - prob).clamp(min=TINY).pow(params.gamma) * F.logsigmoid(logits)
    neg = (1 - soft) * prob.clamp(min=TINY).pow(params.gamma) * F.logsigmoid(-logits)
    if alpha is not None:
        pos, neg = pos * alpha, neg * (1 - alpha)
    return -(ctx.weigh_positive(pos) + ctx.weigh_negative(neg)).mean()
