"""Integrated Gradients (Sundararajan et al. 2017) on the token embeddings, through Captum.

The explained function is the calibrated probability ``predict`` reports: the classifier's logits over
the temperature(s), then a sigmoid (multi-label) or softmax (multi-class). The path runs from a baseline
in which every non-special token is the padding token to the text, in ``steps`` straight-line steps;
a token's attribution is the sum over the embedding width, a word's the sum over its tokens. By
completeness the token attributions add up to ``p(text) - p(baseline)`` up to the path's discretisation
error (returned as ``delta``).

An ensemble that averages its members' probabilities (``weighted`` or ``average``) and has only trained
runs as members is explained exactly as the same weighted sum of its members' attributions, each with
the ensemble's temperature for that member. A run reading long texts in chunks (``model.long_text``),
any other ensemble (stacking, a TF-IDF or ONNX member, a chunks run), and every other kind, has no
gradient path (:func:`gradient_path` returns None) and is explained by occlusion.

Shapes: ``L`` explained labels, ``T`` tokens, ``H`` embedding width, ``W`` words, ``C`` classes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from mindscreen.explain.methods import STEPS
from mindscreen.explain.seen import Tokens, pool_words, tokenize
from mindscreen.explain.words import Span
from mindscreen.extras import require_extras
from mindscreen.modeling import Classifier

if TYPE_CHECKING:
    from mindscreen.predictors import Predictor


def integrated_gradients(
    model: Classifier,
    tokens: Tokens,
    pad_id: int,
    temperature: np.ndarray,
    targets: list[int],
    steps: int = STEPS,
) -> tuple[np.ndarray, np.ndarray]:
    """Token attributions ``(L, T)`` toward each class in ``targets`` and the completeness gaps ``(L,)``
    (``sum of attributions - (p(text) - p(baseline))``)."""
    require_extras("Integrated Gradients", "captum")
    from captum.attr import LayerIntegratedGradients

    device = next(model.parameters()).device
    ids = torch.tensor([tokens.ids], device=device)  # (1, T)
    # The baseline: every token but the special ones replaced by padding.
    kept = [t if s else pad_id for t, s in zip(tokens.ids, tokens.special, strict=True)]
    baseline = torch.tensor([kept], device=device)  # (1, T)
    scale = torch.as_tensor(np.asarray(temperature, dtype=np.float32), device=device)  # (1,) or (C,)
    multi_label = model.spec.multi_label

    def probabilities(input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        logits = model(input_ids, mask) / scale  # (B, C)
        return torch.sigmoid(logits) if multi_label else torch.softmax(logits, dim=-1)

    count = len(targets)
    explainer = LayerIntegratedGradients(probabilities, model.encoder.get_input_embeddings())
    with torch.enable_grad():
        attributions, delta = explainer.attribute(
            ids.expand(count, -1),
            baselines=baseline.expand(count, -1),
            target=list(targets),
            additional_forward_args=(torch.ones_like(ids).expand(count, -1),),
            n_steps=steps,
            internal_batch_size=max(steps, 16),
            return_convergence_delta=True,
        )  # (L, T, H), (L,)
    token_scores = attributions.sum(dim=-1)  # (L, T)
    return token_scores.detach().cpu().double().numpy(), delta.detach().cpu().double().numpy()


def word_attributions(
    model: Classifier,
    tokenizer: Any,
    temperature: np.ndarray,
    text: str,
    words: list[Span],
    targets: list[int],
    steps: int = STEPS,
) -> np.ndarray:
    """``(L, W)`` word scores: token attributions summed per word; NaN for words the model never saw."""
    tokens = tokenize(tokenizer, text, model.spec.max_length, model.spec.long_text)
    token_scores, _ = integrated_gradients(
        model, tokens, tokenizer.pad_token_id or 0, temperature, targets, steps
    )
    return pool_words(tokens, text, words, token_scores)


def gradient_path(predictor: Predictor) -> list[tuple[Any, np.ndarray, float]] | None:
    """The trained runs behind ``predictor`` as ``(run, temperature, weight)``, whose weighted attributions
    explain its probabilities exactly; None when there is no such path (see the module docstring)."""
    kind = getattr(predictor, "kind", "")
    if kind == "run":
        if _reads_windows(predictor):
            return None
        return [(predictor, np.asarray(predictor.temperature), 1.0)]  # type: ignore[attr-defined]
    members = getattr(predictor, "members", None)
    if kind != "ensemble" or getattr(predictor, "method", None) not in ("weighted", "average"):
        return None
    if members is None or any(member.kind != "run" or _reads_windows(member.predictor) for member in members):
        return None
    weights = np.asarray(predictor.weights, dtype=np.float64)  # type: ignore[attr-defined]
    return [(m.predictor, np.array([m.temperature]), float(w)) for m, w in zip(members, weights, strict=True)]


def _reads_windows(run: Any) -> bool:
    """A run under ``model.long_text=chunks``: a long text is several inputs whose logits are averaged."""
    return bool(run.model.spec.long_text == "chunks")


def gradient_scores(
    path: list[tuple[Any, np.ndarray, float]],
    text: str,
    words: list[Span],
    targets: list[int],
    steps: int = STEPS,
) -> np.ndarray:
    """``(L, W)`` Integrated Gradients word scores for ``targets`` along a :func:`gradient_path`.

    A word one member never saw adds nothing to that member's share; a word no member saw has no score.
    """
    total, seen = np.zeros((len(targets), len(words))), np.zeros(len(words), dtype=bool)  # (L, W), (W,)
    for run, temperature, weight in path:
        scores = word_attributions(run.model, run.tokenizer, temperature, text, words, targets, steps)
        seen |= ~np.isnan(scores[0]) if len(targets) else seen
        total += weight * np.nan_to_num(scores)
    return np.where(seen[None, :], total, np.nan)
