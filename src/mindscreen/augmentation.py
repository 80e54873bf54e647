"""Offline text augmentation of training texts: EDA (Wei & Zou 2019), redrawn every epoch.

Four word-level operations, each with its own rate (``augment.*`` in the config): synonym
replacement and random insertion (a synonym of a word in the text, put at a random position),
both from a word list (the one shipped in ``resources/synonyms.tsv`` or your own); random swap of
two words; random deletion of each word with a probability. No network, no model.

Each epoch, every eligible training text is augmented with probability ``augment.probability``;
the augmented version replaces the original for that epoch only. With ``minority_only`` only texts
that carry a minority class are eligible: a class whose training count is below
``minority_share`` times the count of the largest class. Everything is drawn from the generator the
caller passes (``np.random.default_rng([seed, epoch, AUGMENT_STREAM])`` in training), so an epoch's
texts are the same after a resume. Texts are never logged.
"""

from __future__ import annotations

import string
from importlib import resources
from pathlib import Path

import numpy as np

from mindscreen.config import AugmentConfig

# Third element of the epoch seed: augmentation draws from its own stream, so switching it on
# leaves the batch order of the epoch unchanged.
AUGMENT_STREAM = 1
_PUNCTUATION = string.punctuation + "“”‘’"

Synonyms = dict[str, tuple[str, ...]]


def load_synonyms(path: str | Path | None = None) -> Synonyms:
    """Read a synonym list: one group of interchangeable words per line, tab-separated.

    Every word of a group maps to the other words of the group (a word in several groups gets all
    of them). Blank lines and lines starting with ``#`` are skipped; words are lower-cased.

    Args:
        path: A TSV file; None reads the list shipped with mindscreen.
    """
    if path is None:
        text = (resources.files("mindscreen") / "resources" / "synonyms.tsv").read_text(encoding="utf-8")
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as err:
            raise OSError(
                f"cannot read the synonym list {path}: {err}; set augment.synonyms to a TSV file "
                "with one group of tab-separated words per line, or null for the shipped list"
            ) from err
    table: dict[str, list[str]] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        group = [word.strip().lower() for word in line.split("\t") if word.strip()]
        for word in group:
            known = table.setdefault(word, [])
            known.extend(other for other in group if other != word and other not in known)
    return {word: tuple(others) for word, others in table.items() if others}


def minority_classes(labels: np.ndarray, share: float) -> np.ndarray:
    """(C,) bool: classes whose training count is below ``share`` times the largest count."""
    counts = (np.asarray(labels) >= 0.5).sum(axis=0)
    return counts < share * counts.max()


def eligible_examples(labels: np.ndarray, cfg: AugmentConfig) -> np.ndarray:
    """(N,) bool: which training examples may be augmented under ``cfg``."""
    truth = np.asarray(labels) >= 0.5  # (N, C)
    if not cfg.minority_only:
        return np.ones(truth.shape[0], dtype=bool)
    return (truth & minority_classes(truth, cfg.minority_share)).any(axis=1)


def augment_text(text: str, rng: np.random.Generator, cfg: AugmentConfig, synonyms: Synonyms) -> str:
    """One augmented version of ``text``: replacement, insertion, swap, then deletion."""
    words = text.split()
    if not words:
        return text
    if cfg.synonym_replacement > 0:
        words = _replace_synonyms(words, _count(cfg.synonym_replacement, len(words)), rng, synonyms)
    if cfg.random_insertion > 0:
        words = _insert_synonyms(words, _count(cfg.random_insertion, len(words)), rng, synonyms)
    if cfg.random_swap > 0 and len(words) > 1:
        for _ in range(_count(cfg.random_swap, len(words))):
            i, j = rng.choice(len(words), size=2, replace=False)
            words[i], words[j] = words[j], words[i]
    if cfg.random_deletion > 0 and len(words) > 1:
        kept = [word for word in words if rng.random() >= cfg.random_deletion]
        words = kept or [words[int(rng.integers(len(words)))]]
    return " ".join(words)


def augment_texts(
    texts: list[str], eligible: np.ndarray, cfg: AugmentConfig, synonyms: Synonyms, rng: np.random.Generator
) -> tuple[list[str], np.ndarray]:
    """One epoch's texts: each eligible text augmented with probability ``cfg.probability``.

    Returns:
        The texts (originals where not augmented) and the indices of those that changed.
    """
    chosen = np.flatnonzero((rng.random(len(texts)) < cfg.probability) & eligible)
    result = list(texts)
    changed = []
    for i in chosen:
        result[i] = augment_text(texts[i], rng, cfg, synonyms)
        if result[i] != texts[i]:
            changed.append(i)
    return result, np.asarray(changed, dtype=np.int64)


def _count(rate: float, num_words: int) -> int:
    return max(1, round(rate * num_words))


def _core(word: str) -> tuple[str, str, str]:
    """Split a word into leading punctuation, the word itself and trailing punctuation."""
    core = word.strip(_PUNCTUATION)
    if not core:
        return word, "", ""
    start = word.index(core)
    return word[:start], core, word[start + len(core) :]


def _match_case(replacement: str, original: str) -> str:
    if original.isupper() and len(original) > 1:
        return replacement.upper()
    return replacement.capitalize() if original[:1].isupper() else replacement


def _replace_synonyms(
    words: list[str], count: int, rng: np.random.Generator, synonyms: Synonyms
) -> list[str]:
    words = list(words)
    candidates = [i for i, word in enumerate(words) if _core(word)[1].lower() in synonyms]
    for i in rng.permutation(candidates)[:count] if candidates else []:
        before, core, after = _core(words[i])
        options = synonyms[core.lower()]
        words[i] = before + _match_case(options[int(rng.integers(len(options)))], core) + after
    return words


def _insert_synonyms(words: list[str], count: int, rng: np.random.Generator, synonyms: Synonyms) -> list[str]:
    words = list(words)
    candidates = [_core(word)[1].lower() for word in words if _core(word)[1].lower() in synonyms]
    if not candidates:
        return words
    for _ in range(count):
        options = synonyms[candidates[int(rng.integers(len(candidates)))]]
        words.insert(int(rng.integers(len(words) + 1)), options[int(rng.integers(len(options)))])
    return words
