"""Words with character offsets: the units every explanation scores, and texts with some of them removed.

A text is cut into units without changing a character: runs of letters and digits (with the combining
marks that follow them and apostrophes inside them, so ``don't`` and ``e\u0301`` stay one word), and
symbols (an emoji with its modifiers, joiners and variation selectors; a run of punctuation). Whitespace,
CRLF included, belongs to no unit. Offsets are Python string indices (Unicode code points), so
``text[start:end]`` is the unit exactly; JavaScript counts UTF-16 units instead (use
``Array.from(text)``).

Shapes: ``W`` units of one text.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

Span = tuple[int, int]

_ZWJ = "\u200d"
_APOSTROPHES = {"'", "\u2019"}
_WORD, _PUNCT, _SYMBOL, _SPACE, _ATTACH = range(5)


def _kind(char: str) -> int:
    if char.isspace():
        return _SPACE
    if char.isalnum() or char == "_":
        return _WORD
    category = unicodedata.category(char)
    # Combining marks, variation selectors, emoji skin tones and joiners belong to the unit before them.
    if category in ("Mn", "Mc", "Me", "Sk") or char == _ZWJ:
        return _ATTACH
    return _PUNCT if category.startswith("P") else _SYMBOL


def segment(text: str) -> list[Span]:
    """The units of ``text`` as ``(start, end)`` character offsets, in order (see the module docstring)."""
    spans: list[Span] = []
    start, current = -1, _SPACE  # the open unit's start and kind (_SPACE: none open)
    for i, char in enumerate(text):
        kind = _kind(char)
        if current != _SPACE and kind != _SPACE and _continues(text, i, kind, current):
            continue
        if current != _SPACE:
            spans.append((start, i))
        start, current = i, (_SYMBOL if kind == _ATTACH else kind)
    if current != _SPACE:
        spans.append((start, len(text)))
    return spans


def _continues(text: str, i: int, kind: int, current: int) -> bool:
    """Whether character ``i`` (of ``kind``) extends the open unit (of kind ``current``)."""
    if kind == _ATTACH or text[i - 1] == _ZWJ:
        return True
    if kind == current and kind in (_WORD, _PUNCT):
        return True
    # An apostrophe between two letters stays inside the word: don't, I'm, it’s.
    following = text[i + 1] if i + 1 < len(text) else " "
    return current == _WORD and text[i] in _APOSTROPHES and _kind(following) == _WORD


def remove(text: str, spans: Iterable[Span]) -> str:
    """``text`` with the characters of ``spans`` deleted (everything else, whitespace included, kept)."""
    keep, last = [], 0
    for start, end in sorted(spans):
        keep.append(text[last:start])
        last = max(last, end)
    keep.append(text[last:])
    return "".join(keep)


def keep_only(text: str, spans: Iterable[Span]) -> str:
    """Only the units of ``spans``, in text order, separated by single spaces."""
    return " ".join(text[start:end] for start, end in sorted(spans))


def words_in(spans: list[Span], ranges: list[Span]) -> list[bool]:
    """Per unit: whether it starts inside one of ``ranges`` (character spans, e.g. what a model saw)."""
    return [any(lo <= start < hi for lo, hi in ranges) for start, _ in spans]
