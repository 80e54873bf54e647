"""How a text longer than ``max_length`` tokens is read: the long-text modes (``model.long_text``).

- ``truncate``: the first ``max_length`` tokens (special tokens included); the rest is cut.
- ``head_tail``: the first quarter of the content budget and the last three quarters (Sun et al. 2019,
  "How to Fine-Tune BERT for Text Classification?": 128 head + 382 tail tokens of 512 did best).
- ``chunks``: overlapping windows over the whole text (at most :data:`MAX_WINDOWS`), each read on its
  own; the windows' logits are aggregated back to one row per text (:func:`aggregate_logits`).
  Training reads one ``head_tail`` window per text (:func:`training_mode`); see docs/training-guide.md.

A text that fits in one window reads the same under every mode. :func:`window_positions` is the one
rule: it picks, from a text's full token sequence, the positions each window keeps. Training and runs
(:func:`mindscreen.inference.encode_windows`), ONNX exports and explanation (:mod:`mindscreen.explain.seen`)
all cut through it. Neither torch nor transformers is imported here: the ONNX path needs neither.

Shapes: ``N`` texts, ``W`` windows, ``C`` classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

LONG_TEXT_MODES = ("truncate", "head_tail", "chunks")
HEAD_SHARE = 0.25  # Sun et al.'s 128 of 510 content tokens
CHUNK_OVERLAP = 0.25  # consecutive windows share a quarter of their content tokens
MAX_WINDOWS = 16  # a huge text costs at most 16 windows; past that they spread out and leave gaps


@dataclass(frozen=True)
class Windows:
    """Token-id windows of ``count`` texts: ``ids[w]`` belongs to text ``owner[w]``, texts in order."""

    ids: list[list[int]]
    owner: np.ndarray  # (W,) text index of each window
    count: int


def training_mode(mode: str) -> str:
    """What training reads under ``mode``: one window per text (``chunks`` trains on ``head_tail``)."""
    return "head_tail" if mode == "chunks" else mode


def window_positions(special: list[bool], max_length: int, mode: str) -> list[list[int]]:
    """Positions of a text's full token sequence (special tokens included) that each window keeps.

    Args:
        special: ``(T,)`` whether each token of the untruncated sequence is a special token; the
            leading and trailing special tokens start and end every window.
        max_length: tokens per window, special tokens included.
        mode: one of :data:`LONG_TEXT_MODES`.
    """
    if mode not in LONG_TEXT_MODES:
        raise ValueError(f"unknown long-text mode {mode!r}; choose one of: {', '.join(LONG_TEXT_MODES)}")
    total = len(special)
    if total <= max_length:
        return [list(range(total))]
    first = next((i for i, s in enumerate(special) if not s), total)
    last = total - next((i for i, s in enumerate(reversed(special)) if not s), total)
    prefix, suffix = list(range(first)), list(range(last, total))
    budget = max(1, max_length - len(prefix) - len(suffix))
    if mode == "truncate":
        return [prefix + list(range(first, first + budget)) + suffix]
    if mode == "head_tail":
        head = int(budget * HEAD_SHARE)
        return [prefix + list(range(first, first + head)) + list(range(last - budget + head, last)) + suffix]
    return [
        prefix + list(range(start, start + budget)) + suffix for start in _chunk_starts(first, last, budget)
    ]


def _chunk_starts(first: int, last: int, budget: int) -> list[int]:
    """Evenly spaced window starts from ``first`` to ``last - budget``, overlapping by CHUNK_OVERLAP."""
    stride = max(1, int(budget * (1 - CHUNK_OVERLAP)))
    count = min(MAX_WINDOWS, -(-(last - first - budget) // stride) + 1)
    return [int(s) for s in np.round(np.linspace(first, last - budget, count))]


def full_encodings(tokenizer: Any, texts: list[str]) -> tuple[list[list[int]], list[list[bool]]]:
    """Untruncated token ids with special tokens, and which are special, of a Hugging Face tokenizer."""
    encoded = tokenizer(
        texts, add_special_tokens=True, truncation=False, return_special_tokens_mask=True, verbose=False
    )
    ids = [list(row) for row in encoded["input_ids"]]
    return ids, [[bool(s) for s in row] for row in encoded["special_tokens_mask"]]


def cut_windows(ids: list[list[int]], special: list[list[bool]], max_length: int, mode: str) -> Windows:
    """Each text's full token ids cut into its windows under ``mode``."""
    rows: list[list[int]] = []
    owner: list[int] = []
    for i, (row, flags) in enumerate(zip(ids, special, strict=True)):
        for positions in window_positions(flags, max_length, mode):
            rows.append([row[p] for p in positions])
            owner.append(i)
    return Windows(rows, np.asarray(owner, dtype=np.int64), len(ids))


def aggregate_logits(logits: np.ndarray, windows: Windows, multi_label: bool) -> np.ndarray:
    """Window logits ``(W, C)`` to text logits ``(N, C)``.

    Multi-label: the largest logit of each label over the windows (a label shown anywhere in the text
    counts; the sigmoid is monotone, so this is the largest window probability, before and after a
    temperature). Multi-class: the mean logit (its softmax is the normalised geometric mean of the
    windows' probabilities). One window per text returns ``logits`` unchanged.
    """
    if len(logits) == windows.count:
        return logits
    out = np.full((windows.count, logits.shape[1]), -np.inf if multi_label else 0.0, dtype=logits.dtype)
    if multi_label:
        np.maximum.at(out, windows.owner, logits)
        return out
    np.add.at(out, windows.owner, logits)
    return out / np.bincount(windows.owner, minlength=windows.count)[:, None].astype(logits.dtype)
