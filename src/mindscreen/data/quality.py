"""Cheap data-quality checks: what ``train`` warns about and what ``mindscreen audit`` builds on.

One definition of each finding serves both, so a count in a training warning is the count the
audit reports:

- Two texts are **exact duplicates** when they are equal after :func:`normalize_text` (Unicode
  NFKC, case folded, every run of whitespace one space, ends stripped): ``"I can't sleep"`` and
  ``"i can't  sleep "`` are duplicates; ``"I cant sleep"`` is not (that is a near-duplicate).
- A text cell has a **problem** (:func:`text_problem`) when it is missing, not a string, empty,
  only whitespace, near-empty (fewer than :data:`MIN_WORD_CHARS` letters or digits) or has no
  letter at all (only digits, punctuation, symbols or emoji).

Warnings give counts only, never a text.
"""

from __future__ import annotations

import math
import unicodedata
import warnings
from collections import defaultdict
from collections.abc import Hashable, Sequence
from itertools import combinations
from typing import TYPE_CHECKING, Any

import pandas as pd

from mindscreen.data.errors import DataQualityWarning, DuplicateTextWarning

if TYPE_CHECKING:
    from mindscreen.data.splits import Split

MIN_WORD_CHARS = 3
TEXT_PROBLEMS = {
    "missing": "no value (null, NaN, a missing key or a blank line)",
    "not_text": "a value that is not a string (a number, a list, an object)",
    "empty": "an empty string",
    "whitespace": "only whitespace",
    "near_empty": f"fewer than {MIN_WORD_CHARS} letters or digits",
    "no_letters": "no letter at all (only digits, punctuation, symbols or emoji)",
}
# Rows with these problems cannot be trained on: the data layer rejects them, the audit lists them.
UNUSABLE = ("missing", "not_text", "empty", "whitespace")


def normalize_text(text: str) -> str:
    """The form in which two texts are compared for exact duplicates (see the module docstring)."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def text_problem(cell: Any) -> str | None:
    """The first problem of :data:`TEXT_PROBLEMS` a text cell has, or None for a usable text."""
    if cell is None or cell is pd.NA or (isinstance(cell, float) and math.isnan(cell)):
        return "missing"
    if not isinstance(cell, str):
        return "not_text"
    if not cell:
        return "empty"
    if not cell.strip():
        return "whitespace"
    if sum(char.isalnum() for char in cell) < MIN_WORD_CHARS:
        return "near_empty"
    if not any(char.isalpha() for char in cell):
        return "no_letters"
    return None


def duplicate_groups(keys: Sequence[Hashable]) -> list[list[int]]:
    """Positions sharing a key, for every key seen at least twice, in order of first appearance."""
    positions: dict[Hashable, list[int]] = defaultdict(list)
    for position, key in enumerate(keys):
        positions[key].append(position)
    return [group for group in positions.values() if len(group) > 1]


def duplicate_counts(splits: Sequence[Split]) -> dict[str, int]:
    """Exact duplicates (equal after :func:`normalize_text`), counts only: extra copies within each
    split (``NAME_repeats``), distinct texts two splits share (``FIRST_SECOND_shared``), and texts that
    occur with different label rows anywhere (``conflicting_labels``)."""
    keys = [[normalize_text(text) for text in split.texts] for split in splits]
    counts = {
        f"{split.name}_repeats": sum(len(group) - 1 for group in duplicate_groups(split_keys))
        for split, split_keys in zip(splits, keys, strict=True)
    }
    for (first, first_keys), (second, second_keys) in combinations(zip(splits, keys, strict=True), 2):
        counts[f"{first.name}_{second.name}_shared"] = len(set(first_keys) & set(second_keys))
    counts["conflicting_labels"] = _conflicting_groups(splits, keys)
    return counts


def warn_data_quality(splits: Sequence[Split]) -> None:
    """Warn, with counts only, about duplicates and near-empty texts in the splits of a run.

    One :class:`DuplicateTextWarning` covers duplicates within a split, texts shared between
    splits (they inflate dev/test scores) and duplicates whose labels disagree; one
    :class:`DataQualityWarning` covers near-empty texts. ``mindscreen audit`` lists the rows.
    """
    counts = duplicate_counts(splits)
    within = {split.name: counts[f"{split.name}_repeats"] for split in splits}
    shared = {
        f"{first.name}/{second.name}": counts[f"{first.name}_{second.name}_shared"]
        for first, second in combinations(splits, 2)
    }
    found = [
        f"{title}: {_listed(group)}"
        for title, group in (("within a split (extra copies)", within), ("distinct texts shared", shared))
        if any(group.values())
    ]
    if counts["conflicting_labels"]:
        found.append(f"{counts['conflicting_labels']} duplicated text(s) carry different labels")
    if found:
        warnings.warn(
            f"duplicate texts (equal after normalising case and whitespace): {'; '.join(found)}. "
            "Texts in more than one split inflate dev/test scores; conflicting copies teach both labels. "
            "Deduplicate the files or drop these rows from dev/test; `mindscreen audit DATA` lists the rows",
            DuplicateTextWarning,
            stacklevel=3,
        )
    near_empty = {
        split.name: sum(text_problem(text) in ("near_empty", "no_letters") for text in split.texts)
        for split in splits
    }
    if any(near_empty.values()):
        warnings.warn(
            f"near-empty texts ({TEXT_PROBLEMS['near_empty']}, or no letter at all): "
            f"{_listed(near_empty)}. They carry little to learn from; check or drop them "
            "(`mindscreen audit DATA` lists the rows)",
            DataQualityWarning,
            stacklevel=3,
        )


def _listed(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in counts.items() if count)


def _conflicting_groups(splits: Sequence[Split], keys: list[list[str]]) -> int:
    """How many normalised texts appear with two or more different label rows, over all splits."""
    label_sets: dict[str, set[bytes]] = defaultdict(set)
    for split, split_keys in zip(splits, keys, strict=True):
        for key, row in zip(split_keys, split.labels, strict=True):
            label_sets[key].add(row.astype(bool).tobytes())
    return sum(len(rows) > 1 for rows in label_sets.values())
