"""A profile of a run's data, computed before training: what the defaults are chosen from.

Token lengths come from the run's own tokenizer (special tokens included, nothing cut), so they
compare directly with ``model.max_length``. Class counts, the imbalance ratio, labels per text and
exact duplicates (as ``train`` warns about them, :func:`mindscreen.data.quality.duplicate_counts`)
come from the label matrices and the texts. The profile holds numbers and label names only, never a
text.

Shapes: ``N`` rows, ``C`` labels.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from mindscreen.data.quality import duplicate_counts
from mindscreen.data.splits import Split, Splits

# Lengths a run might keep; the profile reports the share of texts longer than each.
LENGTH_CANDIDATES = (64, 128, 256, 512, 1024)
# Texts tokenised for the length statistics: beyond this a seeded sample (quantiles stay within a
# fraction of a percentile; tokenising 43k short texts takes seconds, long posts take longer).
LENGTH_SAMPLE = 20_000
QUANTILES = (50, 90, 95, 99)


@dataclass(frozen=True)
class EncoderFacts:
    """What the run's encoder allows: its width and the longest input its tokenizer accepts."""

    name: str
    width: int | None
    length_limit: int


@dataclass(frozen=True)
class TokenLengths:
    """Token counts per training text with the run's tokenizer (special tokens included)."""

    texts: int  # texts measured (all of train, or a seeded sample of LENGTH_SAMPLE)
    mean: float
    quantiles: dict[str, int]  # p50, p90, p95, p99, max
    share_longer: dict[int, float]  # candidate length -> share of texts longer than it
    lengths: np.ndarray = field(repr=False, compare=False)  # (N,) kept for share_longer_than

    def share_longer_than(self, length: int) -> float:
        """Share of the measured texts with more than ``length`` tokens."""
        return float(np.mean(self.lengths > length)) if len(self.lengths) else 0.0

    def kept_tokens(self, length: int) -> float:
        """Mean tokens per text that a run keeping ``length`` tokens processes."""
        return float(np.minimum(self.lengths, length).mean()) if len(self.lengths) else 0.0


@dataclass(frozen=True)
class DataProfile:
    """Sizes, classes, label structure, duplicates and token lengths of a run's splits."""

    task: str  # multi_class or multi_label
    labels: list[str]
    rows: dict[str, int]  # split -> rows
    class_counts: dict[str, dict[str, int]]  # split -> label -> rows carrying it
    imbalance_ratio: float | None  # largest / smallest nonzero class count in train
    labels_per_text: dict[str, float] | None  # multi-label: mean, share_none, share_two_plus
    duplicates: dict[str, int]
    tokens: TokenLengths
    encoder: EncoderFacts

    @property
    def train_rows(self) -> int:
        return self.rows["train"]

    @property
    def multi_label(self) -> bool:
        return self.task == "multi_label"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: numbers and label names only."""
        tokens = {k: v for k, v in asdict(self.tokens).items() if k != "lengths"}
        tokens["share_longer"] = {str(k): v for k, v in self.tokens.share_longer.items()}
        return {**asdict(self), "tokens": tokens, "encoder": asdict(self.encoder)}

    def summary(self) -> str:
        """One line for the log: size, classes, imbalance, lengths."""
        q = self.tokens.quantiles
        ratio = f", imbalance {self.imbalance_ratio:.1f}:1" if self.imbalance_ratio else ""
        return (
            f"{self.train_rows:,} training texts, {len(self.labels)} "
            f"{'labels' if self.multi_label else 'classes'}{ratio}; tokens p50 {q['p50']}, "
            f"p90 {q['p90']}, p95 {q['p95']}, p99 {q['p99']}, max {q['max']}"
        )


def profile_splits(splits: Splits, tokenizer: Any, encoder: EncoderFacts) -> DataProfile:
    """Profile the splits of a run with its tokenizer.

    Args:
        splits: the loaded train/dev/(test) data.
        tokenizer: the run's Hugging Face tokenizer.
        encoder: the encoder's width and length limit.
    """
    parts = {s.name: s for s in (splits.train, splits.dev, splits.test) if s is not None}
    train_counts = splits.train.labels.sum(axis=0)  # (C,)
    nonzero = train_counts[train_counts > 0]
    return DataProfile(
        task="multi_label" if splits.multi_label else "multi_class",
        labels=list(splits.label_names),
        rows={name: len(s.texts) for name, s in parts.items()},
        class_counts={name: _counts(s, splits.label_names) for name, s in parts.items()},
        imbalance_ratio=float(nonzero.max() / nonzero.min()) if len(nonzero) else None,
        labels_per_text=_labels_per_text(splits.train) if splits.multi_label else None,
        duplicates=duplicate_counts(list(parts.values())),
        tokens=measure_lengths(tokenizer, splits.train.texts),
        encoder=encoder,
    )


def measure_lengths(tokenizer: Any, texts: list[str]) -> TokenLengths:
    """Token-length statistics of ``texts`` (a seeded sample beyond LENGTH_SAMPLE)."""
    if len(texts) > LENGTH_SAMPLE:
        rows = np.random.default_rng(0).choice(len(texts), LENGTH_SAMPLE, replace=False)
        texts = [texts[i] for i in sorted(rows)]
    lengths = token_lengths(tokenizer, texts)
    values = np.percentile(lengths, QUANTILES) if len(lengths) else np.zeros(len(QUANTILES))
    quantiles = {f"p{q}": int(np.ceil(v)) for q, v in zip(QUANTILES, values, strict=True)}
    quantiles["max"] = int(lengths.max()) if len(lengths) else 0
    share = {n: float(np.mean(lengths > n)) if len(lengths) else 0.0 for n in LENGTH_CANDIDATES}
    mean = float(lengths.mean()) if len(lengths) else 0.0
    return TokenLengths(len(lengths), mean, quantiles, share, lengths)


def token_lengths(tokenizer: Any, texts: list[str], batch: int = 4096) -> np.ndarray:
    """(N,) token count of each text, special tokens included, never truncated; ``tokenizer`` is a
    transformers tokenizer or a ``tokenizers.Tokenizer``."""
    backend = tokenizer if isinstance(tokenizer, Tokenizer) else getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:  # a fast tokenizer: its Rust encoder, without truncation or padding
        backend = copy.deepcopy(backend)
        backend.no_truncation()
        backend.no_padding()
        counts = [
            len(e) for i in range(0, len(texts), batch) for e in backend.encode_batch(texts[i : i + batch])
        ]
    else:
        counts = [len(ids) for ids in tokenizer(texts, truncation=False, verbose=False)["input_ids"]]
    return np.asarray(counts, dtype=np.int64)


def _counts(split: Split, labels: list[str]) -> dict[str, int]:
    return {label: int(n) for label, n in zip(labels, split.labels.sum(axis=0), strict=True)}


def _labels_per_text(split: Split) -> dict[str, float]:
    per_text = split.labels.sum(axis=1)  # (N,)
    return {
        "mean": float(per_text.mean()) if len(per_text) else 0.0,
        "share_none": float(np.mean(per_text == 0)) if len(per_text) else 0.0,
        "share_two_plus": float(np.mean(per_text >= 2)) if len(per_text) else 0.0,
    }
