"""Crisis-phrase matching: whole-word, case-insensitive, one compiled pattern for the whole list.

The phrases themselves are data (``resources/crisis_lexicon.txt`` by default); only a yes/no per text,
or the character offsets of a match inside the caller's own text (:meth:`Lexicon.spans`, for
explanations), leaves this module, never the phrase that matched or the text around it.

Shapes: ``N`` texts.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

import numpy as np

LEXICON_FILE = "lexicon.txt"  # the phrases a pipeline directory was fitted with
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})


def default_lexicon_path() -> Path:
    """The crisis-phrase list shipped with mindscreen."""
    return Path(str(resources.files("mindscreen") / "resources" / "crisis_lexicon.txt"))


def normalize_text(text: str) -> str:
    """NFKC, lower case, straight apostrophes: what both phrases and texts are matched in."""
    return unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).casefold()


def read_phrases(path: str | Path) -> list[str]:
    """Phrases of a lexicon file: one per line, blank lines and ``#`` comments skipped."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(
            f"cannot read crisis lexicon {path}: {err}; expected a UTF-8 file with one phrase per line"
        ) from None
    return [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]


class Lexicon:
    """A list of phrases and one regular expression that finds any of them as whole words."""

    def __init__(self, phrases: Iterable[str]) -> None:
        cleaned = [" ".join(normalize_text(p).split()) for p in phrases]
        self.phrases = sorted({p for p in cleaned if p}, key=lambda p: (-len(p), p))
        if not self.phrases:
            raise ValueError("a crisis lexicon needs at least one phrase; set lexicon.enabled=false for none")
        # Longest first, so a phrase is never cut short by one of its prefixes.
        body = "|".join(r"\s+".join(re.escape(word) for word in p.split()) for p in self.phrases)
        self._pattern = re.compile(rf"(?<!\w)(?:{body})(?!\w)")

    @classmethod
    def load(cls, path: str | Path | None = None, extra: Iterable[str] = ()) -> Lexicon:
        """The phrases of ``path`` (default: the shipped list) plus ``extra``."""
        return cls([*read_phrases(path or default_lexicon_path()), *extra])

    def flags(self, texts: list[str]) -> np.ndarray:
        """``(N,)`` bool: whether each text contains a phrase."""
        return np.array([self._pattern.search(normalize_text(t)) is not None for t in texts], dtype=bool)

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of ``text`` (offsets into ``text`` itself) where a phrase matched."""
        normal, starts, ends = _normalize_with_offsets(text)
        return [
            (starts[m.start()], ends[m.end() - 1])
            for m in self._pattern.finditer(normal)
            if m.end() > m.start()
        ]

    def save(self, path: Path) -> None:
        path.write_text("".join(f"{phrase}\n" for phrase in self.phrases), encoding="utf-8")


def _normalize_with_offsets(text: str) -> tuple[str, list[int], list[int]]:
    """:func:`normalize_text` of ``text``, and for each of its characters the span of ``text`` it came from.

    Each base character is normalised with the combining marks that follow it, so composition (``e`` +
    acute accent) and expansion (``ß`` to ``ss``) keep their place in the original text."""
    pieces: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    cluster = 0
    for i in range(1, len(text) + 1):
        if i < len(text) and unicodedata.combining(text[i]):
            continue
        piece = normalize_text(text[cluster:i])
        pieces.append(piece)
        starts += [cluster] * len(piece)
        ends += [i] * len(piece)
        cluster = i
    return "".join(pieces), starts, ends
