"""Which characters of a text a model saw: tokens with their character spans, under the run's long-text mode.

:func:`seen_spans` is the one place that knows which characters survive the cut of a long text: it asks
:func:`mindscreen.long_text.window_positions` (the rule prediction uses) which token positions the
windows keep (``truncate``: the head; ``head_tail``: the head and the tail; ``chunks``: every window).
Words outside its spans get no score (``seen: false``); everything else asks it.

Tokenizers: a Hugging Face fast tokenizer (a run) or a ``tokenizers.Tokenizer`` (an ONNX export). Character
offsets need a fast tokenizer.

Shapes: ``T`` tokens, ``W`` words.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from mindscreen.explain.words import Span, words_in
from mindscreen.long_text import window_positions

if TYPE_CHECKING:
    from mindscreen.predictors import Predictor


@dataclass(frozen=True)
class Tokens:
    """One text as the model reads it.

    Attributes:
        ids: ``(T,)`` token ids, special tokens included, as :func:`~mindscreen.inference.encode_windows`
            makes them.
        spans: ``(T,)`` character span of each token in the original text (``(0, 0)`` for specials).
        special: ``(T,)`` whether each token is a special token.
        seen: the character spans of the text these tokens cover (see :func:`seen_spans`).
    """

    ids: list[int]
    spans: list[Span]
    special: list[bool]
    seen: list[Span]


def full_tokens(tokenizer: Any, text: str) -> tuple[list[int], list[Span], list[bool]]:
    """All of ``text``'s tokens (no cut), their character spans and which are special tokens."""
    if hasattr(tokenizer, "encode_batch"):  # a tokenizers.Tokenizer, without truncation
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
            truncation=False,
            add_special_tokens=True,
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
            verbose=False,
        )
        ids, spans = encoding["input_ids"], encoding["offset_mapping"]
        special = encoding["special_tokens_mask"]
    return list(ids), [(int(a), int(b)) for a, b in spans], [bool(s) for s in special]


def tokenize(tokenizer: Any, text: str, max_length: int, long_text: str = "truncate") -> Tokens:
    """``text`` as the model reads it in one window, with character offsets (a fast tokenizer is needed).

    Raises:
        ValueError: under ``chunks``, a text the model reads in several windows (token-level methods
            explain one input; occlusion explains any).
    """
    ids, spans, special = full_tokens(tokenizer, text)
    windows = window_positions(special, max_length, long_text)
    if len(windows) > 1:
        raise ValueError(
            f"this run reads the text in {len(windows)} windows (model.long_text={long_text}); attention "
            "and integrated gradients explain a single window: use method 'occlusion'"
        )
    (kept,) = windows
    return Tokens(
        [ids[p] for p in kept],
        [spans[p] for p in kept],
        [special[p] for p in kept],
        covered(spans, special, kept, len(text)),
    )


def seen_spans(tokenizer: Any, text: str, max_length: int, long_text: str = "truncate") -> list[Span]:
    """The character spans of ``text`` the model sees under ``long_text``: the whole text when it fits in
    ``max_length`` tokens; else the spans of the tokens its windows keep (see :func:`covered`)."""
    _, spans, special = full_tokens(tokenizer, text)
    kept = sorted({p for window in window_positions(special, max_length, long_text) for p in window})
    return covered(spans, special, kept, len(text))


def covered(spans: list[Span], special: list[bool], kept: list[int], length: int) -> list[Span]:
    """Character spans of a ``length``-character text covered by the kept token positions ``kept``.

    Consecutive kept content tokens make one span, from the first token's start to the last one's end;
    a span holding the first content token starts at 0 and one holding the last ends at ``length``
    (leading and trailing whitespace count as seen).
    """
    content = [p for p, s in enumerate(special) if not s]
    if not content:
        return [(0, length)]
    kept_set = set(kept)
    runs: list[list[int]] = []
    for p in content:
        if p not in kept_set:
            continue
        if runs and runs[-1][-1] == p - 1:
            runs[-1].append(p)
        else:
            runs.append([p])
    result = []
    for run in runs:
        start = 0 if run[0] == content[0] else spans[run[0]][0]
        end = length if run[-1] == content[-1] else spans[run[-1]][1]
        result.append((start, end))
    return result


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
    seen = np.asarray(words_in(words, tokens.seen), dtype=bool)  # (W,)
    scores = np.where(seen, 0.0, np.nan)[None, :].repeat(len(token_scores), axis=0)  # (L, W)
    for w in np.unique(owners[owners >= 0]):
        scores[:, w] = token_scores[:, owners == w].sum(axis=1)
    return scores


def _model_view(predictor: Predictor, text: str) -> list[Span]:
    if predictor.kind == "onnx":
        encoder = predictor.tokenizer  # type: ignore[attr-defined]
        return seen_spans(encoder.backend, text, encoder.max_length, encoder.long_text)
    tokenizer, spec = predictor.tokenizer, predictor.model.spec  # type: ignore[attr-defined]
    return seen_spans(tokenizer, text, spec.max_length, spec.long_text)


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
