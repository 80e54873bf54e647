"""Poolers: turn token states into one vector per text.

Shapes: ``B`` batch, ``T`` tokens, ``H`` encoder width, ``P`` pooled width.
Every pooler takes ``hidden (B, T, H)`` and ``mask (B, T)`` (1 for real tokens) and
ignores padded positions, so padding a text never changes its pooled vector.
"""

from __future__ import annotations

import torch
from torch import nn


class Pooler(nn.Module):
    """Base of the poolers: ``output_size`` is the pooled width ``P``."""

    output_size: int


class ClsPooler(Pooler):
    """The first token's state (``[CLS]`` / ``<s>``)."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.output_size = hidden_size

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return hidden[:, 0]  # (B, H)


class MeanPooler(Pooler):
    """Average of the real tokens' states."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.output_size = hidden_size

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        weights = mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
        total = (hidden * weights).sum(dim=1)  # (B, H)
        return total / weights.sum(dim=1).clamp(min=1.0)


class MaxPooler(Pooler):
    """Element-wise maximum over the real tokens' states."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.output_size = hidden_size

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        lowest = torch.finfo(hidden.dtype).min
        masked = hidden.masked_fill(~mask.bool().unsqueeze(-1), lowest)  # (B, T, H)
        return masked.max(dim=1).values  # (B, H)


class MeanMaxPooler(Pooler):
    """Mean and max pooling side by side: ``P = 2H``."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.mean = MeanPooler(hidden_size)
        self.max = MaxPooler(hidden_size)
        self.output_size = 2 * hidden_size

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.mean(hidden, mask), self.max(hidden, mask)], dim=-1)  # (B, 2H)


class AttentionPooler(Pooler):
    """A learned weighted average: one score per token, softmax over the real tokens.

    The scorer is a small MLP (``H -> H/2 -> 1``), as in attentive pooling for
    sentence classification; padded tokens get zero weight.
    """

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.scorer = nn.Sequential(
            nn.Linear(hidden_size, max(hidden_size // 2, 1)),
            nn.Tanh(),
            nn.Linear(max(hidden_size // 2, 1), 1),
        )
        self.output_size = hidden_size

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        scores = self.scorer(hidden).squeeze(-1).float()  # (B, T)
        scores = scores.masked_fill(~mask.bool(), float("-inf"))
        weights = torch.softmax(scores, dim=-1).to(hidden.dtype)  # (B, T)
        return torch.einsum("bt,bth->bh", weights, hidden)  # (B, H)


POOLERS: dict[str, type[Pooler]] = {
    "cls": ClsPooler,
    "mean": MeanPooler,
    "max": MaxPooler,
    "mean_max": MeanMaxPooler,
    "attention": AttentionPooler,
}
POOLER_NAMES = tuple(POOLERS)


def build_pooler(name: str, hidden_size: int) -> Pooler:
    """A pooler from the registry; its ``output_size`` attribute gives ``P``."""
    if name not in POOLERS:
        raise ValueError(f"unknown pooling {name!r}; choose one of: {', '.join(POOLER_NAMES)}")
    return POOLERS[name](hidden_size)
