"""Remote code for a ``--format transformers`` export: copied into the folder as ``modeling_mindscreen.py``.

``transformers`` loads it with ``trust_remote_code=True`` through ``auto_map`` in config.json, so this
module must never import mindscreen: it rebuilds the encoder from its saved config, the pooler and the
residual head exactly as :mod:`mindscreen.pooling` and :mod:`mindscreen.modeling` define them, and
returns calibrated logits (divided by the run's temperature). A softmax (multi-class) or sigmoid
(multi-label, ``problem_type``) of them is what the run's ``predict_proba`` returns;
:meth:`MindscreenForSequenceClassification.decide` applies the run's thresholds.

Shapes: ``B`` batch, ``T`` tokens, ``H`` encoder width, ``C`` classes.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput


class MindscreenConfig(PretrainedConfig):
    """The encoder's config (``encoder``) plus the pooler, head, temperature and thresholds of the run."""

    model_type = "mindscreen"

    def __init__(
        self,
        encoder: dict[str, Any] | None = None,
        pooling: str = "mean",
        head_blocks: int = 1,
        head_hidden: int = 0,
        head_dropout: float = 0.1,
        multi_label: bool = False,
        calibration_temperature: list[float] | None = None,
        thresholds: list[float] | None = None,
        calibration_method: str = "none",
        max_tokens: int = 512,
        **kwargs: Any,
    ) -> None:
        self.encoder = encoder or {}
        self.pooling = pooling
        self.head_blocks = head_blocks
        self.head_hidden = head_hidden
        self.head_dropout = head_dropout
        self.multi_label = multi_label
        self.calibration_temperature = calibration_temperature or [1.0]
        self.thresholds = thresholds or []
        self.calibration_method = calibration_method
        self.max_tokens = max_tokens
        super().__init__(**kwargs)

    def encoder_config(self) -> PretrainedConfig:
        settings = dict(self.encoder)
        return AutoConfig.for_model(settings.pop("model_type"), **settings)


def _mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)  # (B, H)


def _max(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    masked = hidden.masked_fill(~mask.bool().unsqueeze(-1), torch.finfo(hidden.dtype).min)  # (B, T, H)
    return masked.max(dim=1).values  # (B, H)


class Pooler(nn.Module):
    """cls, mean, max, mean_max or attention pooling over the real tokens (padding never counts)."""

    def __init__(self, name: str, width: int) -> None:
        super().__init__()
        self.name = name
        self.output_size = 2 * width if name == "mean_max" else width
        if name == "attention":
            self.scorer = nn.Sequential(
                nn.Linear(width, max(width // 2, 1)), nn.Tanh(), nn.Linear(max(width // 2, 1), 1)
            )
        elif name not in ("cls", "mean", "max", "mean_max"):
            raise ValueError(f"unknown pooling {name!r}")

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.name == "cls":
            return hidden[:, 0]
        if self.name == "mean":
            return _mean(hidden, mask)
        if self.name == "max":
            return _max(hidden, mask)
        if self.name == "mean_max":
            return torch.cat([_mean(hidden, mask), _max(hidden, mask)], dim=-1)  # (B, 2H)
        scores = self.scorer(hidden).squeeze(-1).float().masked_fill(~mask.bool(), float("-inf"))  # (B, T)
        weights = torch.softmax(scores, dim=-1).to(hidden.dtype)
        return torch.einsum("bt,bth->bh", weights, hidden)  # (B, H)


class ResidualBlock(nn.Module):
    def __init__(self, width: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.up = nn.Linear(width, hidden)
        self.down = nn.Linear(hidden, width)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dropout(nn.functional.gelu(self.up(self.norm(x))))
        return x + self.dropout(self.down(y))


class Head(nn.Module):
    def __init__(self, width: int, num_labels: int, blocks: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.Sequential(*(ResidualBlock(width, hidden, dropout) for _ in range(blocks)))
        self.norm = nn.LayerNorm(width)
        self.out = nn.Linear(width, num_labels)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.out(self.norm(self.blocks(self.dropout(pooled))))  # (B, C)


class MindscreenForSequenceClassification(PreTrainedModel):
    """A mindscreen run as a transformers model: encoder, pooler, residual head, temperature."""

    config_class = MindscreenConfig
    base_model_prefix = "encoder"

    def __init__(self, config: MindscreenConfig) -> None:
        super().__init__(config)
        self.encoder = AutoModel.from_config(config.encoder_config())
        width = int(self.encoder.config.hidden_size)
        self.pooler = Pooler(config.pooling, width)
        hidden = config.head_hidden or width
        self.head = Head(
            self.pooler.output_size, len(config.thresholds), config.head_blocks, hidden, config.head_dropout
        )
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        """Every weight comes from model.safetensors; nothing to initialise."""

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> SequenceClassifierOutput:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        encoded = self.encoder(input_ids=input_ids, attention_mask=attention_mask)
        hidden = encoded.last_hidden_state  # (B, T, H)
        # The temperature stays in the config, not in a buffer: loading builds the model on the meta
        # device and only restores what model.safetensors holds.
        temperature = torch.tensor(
            self.config.calibration_temperature, dtype=hidden.dtype, device=hidden.device
        )  # (1,) or (C,)
        logits = self.head(self.pooler(hidden, attention_mask)) / temperature  # (B, C)
        return SequenceClassifierOutput(logits=logits)

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """What the run's ``predict_proba`` returns for these (calibrated) logits."""
        return torch.sigmoid(logits) if self.config.multi_label else torch.softmax(logits, dim=-1)

    def decide(self, probabilities: torch.Tensor) -> list[list[str]]:
        """Label names per text with the run's thresholds (multi-class: argmax of probability / threshold)."""
        thresholds = torch.tensor(self.config.thresholds, dtype=probabilities.dtype)
        id2label: dict[Any, str] = dict(self.config.id2label or {})
        names = [id2label[i] for i in range(len(thresholds))]
        if self.config.multi_label:
            chosen = probabilities >= thresholds
            return [[names[c] for c in range(len(names)) if row[c]] for row in chosen.tolist()]
        return [[names[int(i)]] for i in (probabilities / thresholds).argmax(dim=-1).tolist()]
