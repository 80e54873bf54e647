"""Which characters of a text a model saw: tokens with their character spans, under the encoding's rule.

:func:`seen_spans` is the one place that knows how :func:`mindscreen.inference.encode_texts` cuts a long
text (today: truncation to ``max_length`` tokens, special tokens included). Words outside its spans get
no score (``seen: false``). A new long-text mode (keeping the head and the tail, overlapping chunks)
changes :func:`seen_spans` only: everything else asks it.

Tokenizers: a Hugging Face fast tokenizer (a run) or a ``tokenizers.Tokenizer`` with truncation set (an
ONNX export). Character offsets need a fast tokenizer.

Shapes: ``T`` tokens, ``W`` words.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from mindscreen.explain.words import Span, words_in

if TYPE_CHECKING:
    from mindscreen.predictors import Predictor


@dataclass(frozen=True)
class Tokens:
    """One text as the model reads it.

    Attributes:
        ids: ``(T,)`` token ids, special tokens included, as :func:`~mindscreen.inference.encode_texts`
            makes them.
        spans: ``(T,)`` character span of each token in the original text (``(0, 0)`` for specials).
        special: ``(T,)`` whether each token is a special token.
        full: whether ``ids`` hold as many tokens as the model takes (the text may go on past them).
    """

    ids: list[int]
    spans: list[Span]
    special: list[bool]
    full: bool


def tokenize(tokenizer: Any, text: str, max_length: int) -> Tokens:
    """``text`` tokenised as the model reads it, with character offsets (a fast tokenizer is needed)."""
    if hasattr(tokenizer, "encode_batch"):  # a tokenizers.Tokenizer, truncation set to max_length
        encoding = tokenizer.encode(text)
        ids, spans, special = encoding.ids, encoding.offsets, encoding.special_tokens_mask
    else:
        if not getattr(tokenizer, "is_fast", False):
            raise ValueError(
                "explaining needs character offsets, which only a fast tokenizer (tokenizer.json) gives; "
                f"this model's tokenizer is {type(tokenizer).__name__}. Save the run with a fast tokenizer"
            )
        encoding = tokenizer(
            text,
            truncation=True,
            max_length=max_length,
            add_special_tokens=True,
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
        )
        ids, spans = encoding["input_ids"], encoding["offset_mapping"]
        special = encoding["special_tokens_mask"]
    return Tokens(list(ids), [tuple(s) for s in spans], [bool(s) for s in special], len(ids) >= max_length)


def seen_spans(tokenizer: Any, text: str, max_length: int) -> list[Span]:
    """The character spans of ``text`` the model sees: everything up to the last kept token when the text
    fills ``max_length`` tokens, else the whole text."""
    return visible(tokenize(tokenizer, text, max_length), len(text))


def visible(tokens: Tokens, length: int) -> list[Span]:
    """The character spans of a ``length``-character text that ``tokens`` cover (see :func:`seen_spans`)."""
    if not tokens.full:
        return [(0, length)]
    ends = [end for (_, end), special in zip(tokens.spans, tokens.special, strict=True) if not special]
    return [(0, max(ends, default=0))]


def token_words(tokens: Tokens, words: list[Span]) -> list[int]:
    """``(T,)`` index of the word each token belongs to (-1: special tokens and tokens in no word).

    A token belongs to the word its first character lies in; BERT ``##`` pieces and BPE pieces of one
    word land on that word by their offsets."""
    starts = [start for start, _ in words]
    owners = []
    for (start, end), special in zip(tokens.spans, tokens.special, strict=True):
        w = bisect.bisect_right(starts, start) - 1
        inside = not special and end > start and w >= 0 and start < words[w][1]
        owners.append(w if inside else -1)
    return owners


def pool_words(tokens: Tokens, text: str, words: list[Span], token_scores: np.ndarray) -> np.ndarray:
    """Token scores ``(L, T)`` summed per word into ``(L, W)``: NaN for words the model never saw, 0 for
    seen words without a token of their own (characters the tokenizer drops)."""
    owners = np.asarray(token_words(tokens, words), dtype=np.int64)  # (T,)
    seen = np.asarray(words_in(words, visible(tokens, len(text))), dtype=bool)  # (W,)
    scores = np.where(seen, 0.0, np.nan)[None, :].repeat(len(token_scores), axis=0)  # (L, W)
    for w in np.unique(owners[owners >= 0]):
        scores[:, w] = token_scores[:, owners == w].sum(axis=1)
    return scores


def _model_view(predictor: Predictor, text: str) -> list[Span]:
    if predictor.kind == "onnx":
        encoder = predictor.tokenizer  # type: ignore[attr-defined]
        return seen_spans(encoder.backend, text, predictor.max_length)  # type: ignore[attr-defined]
    tokenizer, spec = predictor.tokenizer, predictor.model.spec  # type: ignore[attr-defined]
    return seen_spans(tokenizer, text, spec.max_length)


# How each kind of the registry reads a text; a kind not listed reads all of it (the TF-IDF model does).
READERS: dict[str, Callable[[Predictor, str], list[Span]]] = {"run": _model_view, "onnx": _model_view}


def seen_words(predictor: Predictor, text: str, words: list[Span]) -> list[bool]:
    """Per word of ``text``: whether ``predictor`` sees it (an ensemble: whether any member does)."""
    members = getattr(predictor, "members", None)
    if members is not None:
        views = [seen_words(member.predictor, text, words) for member in members]
        return [any(flags) for flags in zip(*views, strict=True)]
    reader = READERS.get(getattr(predictor, "kind", ""))
    return words_in(words, reader(predictor, text)) if reader else [True] * len(words)
