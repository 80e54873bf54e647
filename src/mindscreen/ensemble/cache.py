"""Member logits on dev and test, cached so that re-weighting takes seconds instead of re-predicting.

``ENSEMBLE/cache/NAME-KEY.npz`` holds one member's raw logits on the ensemble's dev and test splits, never
the texts. ``KEY`` hashes the member's identity (the files its registry kind names, e.g. a run's
model.json and head weights, so a retrained run is predicted again; a TF-IDF member fitted by the
ensemble: its settings and training data) together with the dev and test data (texts, labels and label
order). Without a cache entry, the member's own saved ``predictions/dev.npz`` and ``test.npz`` (a run's)
are used when it was trained with the same data settings and its saved labels equal the ensemble's;
otherwise the member predicts.

Shapes: ``N`` examples, ``C`` classes.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mindscreen.config import DataConfig
from mindscreen.data import Split, Splits, resolve_data_dir
from mindscreen.ensemble.members import Member
from mindscreen.rundir import CONFIG_FILE, PREDICTIONS_DIR, read_predictions, run_data_config

CACHE_DIR = "cache"
KEY_LENGTH = 16

Source = Literal["cache", "run", "predicted"]


@dataclass(frozen=True)
class SplitLogits:
    """A member's raw logits on dev ``(N_dev, C)`` and test ``(N_test, C)`` (None: no test split)."""

    dev: np.ndarray
    test: np.ndarray | None
    source: Source


def split_fingerprint(split: Split | None, labels: list[str]) -> str:
    """A hash of a split's texts, label matrix and label order (``'none'`` for a missing split)."""
    if split is None:
        return "none"
    digest = hashlib.sha256(json.dumps(labels).encode())
    for text in split.texts:
        digest.update(text.encode("utf-8", "surrogatepass") + b"\0")
    digest.update(np.ascontiguousarray(split.labels, dtype=np.float32).tobytes())
    return digest.hexdigest()


def settings_identity(settings: dict[str, Any], splits: Splits) -> str:
    """A hash of a fitted member's settings and the training data it is fitted on."""
    payload = json.dumps(settings, sort_keys=True) + split_fingerprint(splits.train, splits.label_names)
    return hashlib.sha256(payload.encode()).hexdigest()


def load_logits(
    member: Member, identity: str, splits: Splits, data: DataConfig, ensemble_dir: Path
) -> SplitLogits:
    """The member's raw dev and test logits: from the cache, from its run directory, or predicted.

    Whatever is not from the cache is written to it, replacing the member's stale entries.
    """
    data_key = split_fingerprint(splits.dev, splits.label_names) + split_fingerprint(
        splits.test, splits.label_names
    )
    key = hashlib.sha256(f"{identity}:{data_key}".encode()).hexdigest()[:KEY_LENGTH]
    folder = ensemble_dir / CACHE_DIR
    path = folder / f"{member.name}-{key}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as saved:
            return SplitLogits(saved["dev"], saved.get("test"), "cache")
    found = _saved_predictions(member.path, splits, data)
    if found is None:
        test = member.logits(splits.test.texts) if splits.test is not None else None
        found = SplitLogits(member.logits(splits.dev.texts), test, "predicted")
    folder.mkdir(parents=True, exist_ok=True)
    stale = re.compile(rf"{re.escape(member.name)}-[0-9a-f]{{{KEY_LENGTH}}}\.npz")
    for old in folder.iterdir():
        if stale.fullmatch(old.name):
            old.unlink()
    if found.test is None:
        np.savez(path, dev=found.dev)
    else:
        np.savez(path, dev=found.dev, test=found.test)
    return found


def _saved_predictions(model_dir: Path, splits: Splits, data: DataConfig) -> SplitLogits | None:
    """The dev/test logits a model directory saved (a run's ``predictions/``), when they are logits of
    exactly the ensemble's dev/test rows: same data settings, same labels."""
    if not (model_dir / PREDICTIONS_DIR).is_dir() or not (model_dir / CONFIG_FILE).is_file():
        return None
    try:
        trained_on = run_data_config(model_dir)
    except (OSError, ValueError):
        return None
    if _data_identity(trained_on) != _data_identity(data):
        return None
    found: dict[str, np.ndarray | None] = {}
    for name, split in (("dev", splits.dev), ("test", splits.test)):
        saved = read_predictions(model_dir, name) if split is not None else None
        if split is not None and (saved is None or not np.array_equal(saved[1], split.labels)):
            return None
        found[name] = None if saved is None else saved[0].astype(np.float64)
    dev = found["dev"]
    return None if dev is None else SplitLogits(dev, found["test"], "run")


def _data_identity(cfg: DataConfig) -> dict[str, Any]:
    """The data settings with file and folder paths made absolute, for comparing two configs."""
    identity = cfg.model_dump(mode="json")
    for key in ("dir", "train", "dev", "test"):
        if identity[key] is not None:
            path = resolve_data_dir(identity[key]) if key == "dir" else Path(identity[key])
            identity[key] = str(path.resolve())
    return identity
