"""Exponential moving average of the weights (Polyak & Juditsky 1992), evaluated and saved instead.

After every optimizer step ``shadow = d * shadow + (1 - d) * weights`` with
``d = min(decay, (1 + step) / (10 + step))``: the warm-up keeps the average from clinging to the
random initial head in short runs. Evaluation, the best checkpoint and the saved model use the
shadow weights; training continues from the raw ones. The shadow is part of the resumable
checkpoint, so a resumed run ends exactly where an uninterrupted one does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


class EMA:
    """A shadow copy of a model's trainable parameters."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0 < decay < 1:
            raise ValueError(f"EMA decay must be in (0, 1), e.g. 0.999; got {decay}")
        self.decay = decay
        self.shadow = {
            name: param.detach().clone() for name, param in model.named_parameters() if param.requires_grad
        }

    def decay_at(self, step: int) -> float:
        """The decay used after optimizer step ``step`` (0-based), with warm-up."""
        return min(self.decay, (1 + step) / (10 + step))

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        """Move the shadow toward the current weights after optimizer step ``step``."""
        weight = 1.0 - self.decay_at(step)
        for name, param in model.named_parameters():
            if name in self.shadow:
                self.shadow[name].lerp_(param.detach(), weight)

    @contextmanager
    def applied(self, model: nn.Module) -> Iterator[None]:
        """Swap the shadow weights into ``model`` for the duration of the block, then restore."""
        params = dict(model.named_parameters())
        backup = {name: params[name].detach().clone() for name in self.shadow}
        with torch.no_grad():
            for name, value in self.shadow.items():
                params[name].copy_(value)
        try:
            yield
        finally:
            with torch.no_grad():
                for name, value in backup.items():
                    params[name].copy_(value)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {name: value.detach().cpu().contiguous() for name, value in self.shadow.items()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        missing = sorted(set(self.shadow) - set(state))
        if missing:
            raise ValueError(f"EMA state lacks {len(missing)} parameters, e.g. {missing[:3]}")
        for name, value in self.shadow.items():
            value.copy_(state[name].to(value.device))
