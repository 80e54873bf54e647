"""Checking a model directory against its contract before anything loads from it.

A directory with a file missing, truncated, unreadable or inconsistent with the rest must be refused
with a message naming the file, never loaded into a model that predicts something else (a run without
its tokenizer files loads an empty tokenizer that maps every word to ``[UNK]``). Every kind's
``from_dir`` calls these checks; ``serve`` therefore fails before it reports ready.

Checks are on files and their headers only (JSON parsed, safetensors headers read, not the weights), so
they cost milliseconds.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np


class ContractError(ValueError):
    """A model directory that breaks its contract; the message names the file and the fix."""


FIX = "restore the directory from a backup, or create it again (train, export or build it anew)"


def require_files(directory: Path, names: tuple[str, ...], what: str) -> None:
    """Raise naming the first of ``names`` missing from ``directory``."""
    for name in names:
        if not (directory / name).exists():
            raise ContractError(f"{directory / name} is missing: {what} needs it; {FIX}")


def read_json_file(path: Path) -> Any:
    """A JSON file's content; a missing, unreadable or invalid file raises naming it."""
    if not path.is_file():
        raise ContractError(f"{path} is missing; {FIX}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ContractError(f"{path} is not valid JSON ({err}); {FIX}") from None


def safetensors_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Tensor shapes from a safetensors header, checking that the file holds every byte it declares."""
    if not path.is_file():
        raise ContractError(f"{path} is missing; {FIX}")
    size = path.stat().st_size
    try:
        with path.open("rb") as handle:
            (header_size,) = struct.unpack("<Q", handle.read(8))
            if header_size <= 0 or 8 + header_size > size:
                raise ValueError("header length beyond the end of the file")
            header = json.loads(handle.read(header_size))
    except (OSError, struct.error, ValueError) as err:
        raise ContractError(
            f"{path} cannot be read as safetensors (truncated or corrupt: {err}); {FIX}"
        ) from None
    entries = {name: entry for name, entry in header.items() if name != "__metadata__"}
    end = max((int(entry["data_offsets"][1]) for entry in entries.values()), default=0)
    if 8 + header_size + end > size:
        raise ContractError(
            f"{path} is truncated: it declares {8 + header_size + end} bytes and holds {size}; {FIX}"
        )
    return {name: tuple(int(d) for d in entry["shape"]) for name, entry in entries.items()}


def check_labels(path: Path, labels: Any) -> list[str]:
    """``labels`` as a list of distinct strings, or an error naming the file that held them."""
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
        raise ContractError(f"{path} must list the labels as a non-empty list of names; {FIX}")
    if len(set(labels)) != len(labels):
        raise ContractError(f"{path} lists a label twice; {FIX}")
    return labels


def check_thresholds(directory: Path, labels: list[str], multi_label: bool) -> None:
    """thresholds.json: the model's labels in order, one finite threshold each (> 0 for multi-class)."""
    path = directory / "thresholds.json"
    payload = read_json_file(path)
    if not isinstance(payload, dict) or payload.get("labels") != labels:
        found = payload.get("labels") if isinstance(payload, dict) else None
        raise ContractError(f"{path} lists labels {found}, but the model has {labels}; {FIX}")
    values = payload.get("thresholds")
    if not isinstance(values, list) or len(values) != len(labels):
        count = len(values) if isinstance(values, list) else 0
        raise ContractError(f"{path} holds {count} thresholds for {len(labels)} labels; {FIX}")
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in values):
        raise ContractError(f"{path} holds a threshold that is not a finite number; {FIX}")
    if not multi_label and any(v <= 0 for v in values):
        raise ContractError(f"{path}: multi-class thresholds are scales and must be > 0; {FIX}")


def check_calibration(directory: Path, labels: list[str]) -> None:
    """calibration.json, when present: the model's labels, 1 or C temperatures, each finite and > 0."""
    path = directory / "calibration.json"
    if not path.exists():
        return
    payload = read_json_file(path)
    values = payload.get("temperature") if isinstance(payload, dict) else None
    if not isinstance(payload, dict) or payload.get("labels") != labels:
        raise ContractError(f"{path} was fitted for other labels than the model's {labels}; {FIX}")
    if not isinstance(values, list) or len(values) not in (1, len(labels)):
        raise ContractError(f"{path} must hold 1 or {len(labels)} temperatures; {FIX}")
    array = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(array)) or np.any(array <= 0):
        raise ContractError(f"{path} holds a temperature that is not a finite number > 0: {values}; {FIX}")


TOKENIZER_VOCAB = ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model", "sentencepiece.bpe.model")


def check_tokenizer_dir(directory: Path) -> None:
    """A saved tokenizer: its config and a vocabulary file (``tokenizer.json`` or a slow tokenizer's)."""
    require_files(directory, ("tokenizer_config.json",), "the tokenizer")
    if not any((directory / name).is_file() for name in TOKENIZER_VOCAB):
        raise ContractError(
            f"{directory} holds no tokenizer vocabulary (expected one of {', '.join(TOKENIZER_VOCAB)}): "
            f"without it every word would become an unknown token; {FIX}"
        )
    if (directory / "tokenizer.json").is_file():
        read_json_file(directory / "tokenizer.json")
    read_json_file(directory / "tokenizer_config.json")


def check_tokenizer_size(directory: Path, tokenizer_size: int, vocab_size: int) -> None:
    """A loaded tokenizer must know about as many tokens as the encoder embeds (half at least)."""
    if tokenizer_size < vocab_size // 2:
        raise ContractError(
            f"the tokenizer in {directory} knows {tokenizer_size} tokens, the encoder embeds {vocab_size}: "
            f"its vocabulary files are incomplete or from another model; {FIX}"
        )
