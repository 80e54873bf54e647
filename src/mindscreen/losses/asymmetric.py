"""Asymmetric loss for multi-label (Ridnik et al. 2021, *Asymmetric Loss For Multi-Label Classification*).

Per label ``-[y (1-p)^gamma_pos log p + (1-y) p_m^gamma_neg log(1 - p_m)]`` with the shifted probability
``p_m = max(p - clip, 0)``: easy negatives (``p < clip``) are discarded and the rest down-weighted.
Averaged over batch and labels (the paper sums); ``gamma_pos = gamma_neg = clip = 0`` is exactly BCE.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from mindscreen.losses.base import LossContext, LossParams, register

if TYPE_CHECKING:
    import torch

TINY = 1e-12  # keeps pow() and log() finite where a probability reaches exactly 0 or 1


class AsymmetricParams(LossParams):
    gamma_pos: float = Field(0.0, ge=0, description="Focusing on positives.")
    gamma_neg: float = Field(4.0, ge=0, description="Focusing on negatives.")
    clip: float = Field(0.05, ge=0, lt=1, description="Probability margin shifted off easy negatives.")


@register(
    "asymmetric",
    AsymmetricParams,
    tasks=("multi_label",),
    hint="for multi-class use train.loss=focal (with train.loss.focal.gamma) instead",
)
def asymmetric(
    logits: torch.Tensor, targets: torch.Tensor, params: AsymmetricParams, ctx: LossContext
) -> torch.Tensor:
    """Asymmetric loss: focusing and a probability margin for the many negatives of each label."""
    import torch
    from torch.nn import functional as F

    logits, soft = logits.float(), ctx.targets(targets)
    prob, one_minus = logits.sigmoid(), (-logits).sigmoid()  # (B, C) each
    if params.clip > 0:
        shifted = (prob - params.clip).clamp(min=TINY)
        log_neg = torch.log((one_minus + params.clip).clamp(max=1.0))
    else:
        shifted, log_neg = prob.clamp(min=TINY), F.logsigmoid(-logits)
    pos = soft * one_minus.clamp(min=TINY).pow(params.gamma_pos) * F.logsigmoid(logits)
    neg = (1 - soft) * shifted.pow(params.gamma_neg) * log_neg
    return -(ctx.weigh_positive(pos) + ctx.weigh_negative(neg)).mean()
