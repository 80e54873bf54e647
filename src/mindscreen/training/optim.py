"""Optimizer (with layer-wise learning-rate decay and a head learning rate) and learning-rate schedule.

Layer-wise learning-rate decay (LLRD; Howard & Ruder 2018, Clark et al. 2020): with ``L`` encoder
layers, layer ``l`` (1 = lowest) trains at ``lr * decay^(L - l)`` and the embeddings at
``lr * decay^L``, so the general features near the input move least. Layers are found by the
``layer.N.`` / ``layers.N.`` part of parameter names (BERT, RoBERTa, DeBERTa, MPNet, MiniLM,
ModernBERT); encoder parameters outside any layer count as embeddings when their name mentions
``embed`` and as the top layer otherwise. The pooler and head (every parameter outside
``encoder.``) train at ``head_lr``.
"""

from __future__ import annotations

import logging
import math
import re
from typing import Any

import torch
from torch import nn

logger = logging.getLogger(__name__)

_LAYER = re.compile(r"(?:^|\.)layers?\.(\d+)\.")
ENCODER_PREFIX = "encoder."


def layer_depths(model: nn.Module) -> tuple[dict[str, int], int]:
    """Depth of each encoder parameter (0 embeddings, ``l`` for layer ``l``) and the layer count ``L``."""
    names = [name for name, _ in model.named_parameters() if name.startswith(ENCODER_PREFIX)]
    indices = {name: int(match.group(1)) for name in names if (match := _LAYER.search(name))}
    num_layers = max(indices.values()) + 1 if indices else 0
    depths = {}
    for name in names:
        if name in indices:
            depths[name] = indices[name] + 1
        else:
            depths[name] = 0 if "embed" in name.lower() else num_layers
    return depths, num_layers


def build_optimizer(
    model: nn.Module,
    lr: float,
    weight_decay: float,
    layer_decay: float | None = None,
    head_lr: float | None = None,
) -> torch.optim.AdamW:
    """AdamW with weight decay on weight matrices only: never on biases or norm weights.

    Args:
        model: The classifier; encoder parameters are named ``encoder.*``.
        lr: Peak learning rate of the encoder's top layer.
        weight_decay: AdamW decay of weight matrices.
        layer_decay: LLRD factor in (0, 1]; None: one rate for the whole encoder.
        head_lr: Rate of the pooler and head; None: ``lr``.

    Returns:
        With neither ``layer_decay`` nor ``head_lr``, two groups (decayed, not decayed); otherwise
        one group per distinct rate and decay, each with a ``name`` key such as ``layer 3``.
    """
    depths, num_layers = layer_depths(model) if layer_decay is not None else ({}, 0)
    if layer_decay is not None and num_layers == 0:
        logger.warning("train.llrd is set but no 'layer.N.' parameters were found; using one encoder lr")
    grouped: dict[tuple[str, float, float], list[nn.Parameter]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        no_decay = param.ndim < 2 or "norm" in name.lower()
        decay_value = 0.0 if no_decay else weight_decay
        if not name.startswith(ENCODER_PREFIX):
            key = ("head", head_lr if head_lr is not None else lr, decay_value)
        elif layer_decay is not None and num_layers:
            depth = depths[name]
            key = (
                f"layer {depth}" if depth else "embeddings",
                lr * layer_decay ** (num_layers - depth),
                decay_value,
            )
        else:
            key = ("encoder", lr, decay_value)
        grouped.setdefault(key, []).append(param)
    fused = all(p.is_cuda for p in model.parameters())
    if layer_decay is None and head_lr is None:
        decay = [p for (_, _, wd), ps in grouped.items() if wd > 0 for p in ps]
        plain = [p for (_, _, wd), ps in grouped.items() if wd == 0 for p in ps]
        groups: list[dict[str, Any]] = [
            {"params": decay, "weight_decay": weight_decay},
            {"params": plain, "weight_decay": 0.0},
        ]
    else:
        groups = [
            {"params": params, "lr": group_lr, "weight_decay": wd, "name": name}
            for (name, group_lr, wd), params in grouped.items()
        ]
    # One fused kernel per step on CUDA. Elsewhere torch's default is a Python loop over every
    # parameter tensor; the multi-tensor (foreach) path is measurably cheaper per step on CPU too.
    return torch.optim.AdamW(groups, lr=lr, fused=fused or None, foreach=None if fused else True)


def cosine_with_warmup(
    optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warmup from 0 to the peak rate, then cosine decay to 0 at ``total_steps``.

    Every parameter group follows the same curve relative to its own peak rate.
    """

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / (warmup_steps + 1)
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
