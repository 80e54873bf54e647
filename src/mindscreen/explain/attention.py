"""The attention-weight baseline: how much attention each word receives in the encoder's last layer.

Offered only as a baseline for the faithfulness benchmark (``benchmarks/explain.py``), not as an
explanation method: attention weights are not explanations (Jain & Wallace 2019), and they carry no
sign and no label. A token's weight is the last layer's attention paid to it, averaged over heads and
over the tokens attending; a word's is the sum over its tokens.

Shapes: ``T`` tokens, ``W`` words.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from mindscreen.explain.seen import pool_words, tokenize
from mindscreen.explain.words import Span


@torch.no_grad()
def attention_scores(predictor: Any, text: str, words: list[Span]) -> np.ndarray:
    """``(W,)`` last-layer attention received per word of a trained run's text; NaN for unseen words."""
    model, tokenizer = predictor.model, predictor.tokenizer
    tokens = tokenize(tokenizer, text, model.spec.max_length, model.spec.long_text)
    device = next(model.parameters()).device
    ids = torch.tensor([tokens.ids], device=device)  # (1, T)
    encoder = model.encoder
    previous = encoder.config._attn_implementation
    encoder.set_attn_implementation("eager")  # SDPA kernels do not return their weights
    try:
        out = encoder(input_ids=ids, attention_mask=torch.ones_like(ids), output_attentions=True)
    finally:
        encoder.set_attn_implementation(previous)
    received = out.attentions[-1][0].mean(dim=0).mean(dim=0)  # (T,): heads, then attending tokens
    return pool_words(tokens, text, words, received.double().cpu().numpy()[None, :])[0]
