"""The registered loss functions as a torch module (what the training loop calls)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from mindscreen.losses.base import LossContext, LossDefinition, LossParams
from mindscreen.losses.weights import ClassWeights


class Loss(nn.Module):
    """``definition.fn`` with its parameters, label smoothing and class weights bound.

    Shapes: ``logits (B, C)`` and 0/1 ``targets (B, C)`` in, a scalar out.
    """

    def __init__(
        self,
        definition: LossDefinition,
        params: LossParams,
        multi_label: bool,
        label_smoothing: float = 0.0,
        weights: ClassWeights | None = None,
    ) -> None:
        super().__init__()
        self.definition, self.params = definition, params
        self.context = LossContext(
            multi_label,
            label_smoothing,
            _tensor(weights.positive) if weights is not None else None,
            _tensor(weights.negative) if weights is not None and weights.negative is not None else None,
        )

    @property
    def name(self) -> str:
        return self.definition.name

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return self.definition.fn(logits, targets, self.params, self.context)

    def extra_repr(self) -> str:
        return f"{self.name}, {self.params!r}"


def _tensor(values: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(values, dtype=np.float32))
