"""Train/dev/test splits: find the files, read them against one label set, split what is missing.

Files come from ``data.dir`` (``train.*``, ``dev.*`` or ``validation.*``, ``test.*`` in any
supported format; ``demo`` is the folder shipped with mindscreen) and/or the explicit
``data.train``/``data.dev``/``data.test`` paths, which win. The label set comes from the
training file, in the order a ``dataset.json`` beside it declares, else sorted. Missing
dev and/or test splits are carved from train by :mod:`mindscreen.data.stratify`.

Shapes: ``N`` rows, ``C`` labels.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from mindscreen.config import DataConfig
from mindscreen.data.errors import DataError
from mindscreen.data.labels import build_label_names, decide_multi_label, encode_labels, read_label_lists
from mindscreen.data.quality import warn_data_quality
from mindscreen.data.readers import FORMATS, extract_texts, read_table
from mindscreen.data.stratify import split_rows, stratum_keys

logger = logging.getLogger(__name__)

SPLIT_STEMS = {"train": ("train",), "dev": ("dev", "validation", "val"), "test": ("test",)}
CONFIG_HINTS = {"text_column": "data.text_column", "label_column": "data.label_column"}


@dataclass(frozen=True, eq=False)
class Split:
    """One split's texts and their labels.

    Attributes:
        name: ``train``, ``dev``, ``test``, or the file stem of an evaluation file.
        texts: the texts, exactly as in the file.
        labels: (N, C) float32 0/1 matrix in the label order of :class:`Splits`.
        source: the file the rows came from.
    """

    name: str
    texts: list[str]
    labels: np.ndarray  # (N, C)
    source: str


@dataclass(frozen=True, eq=False)
class Splits:
    """The data of one run: train, dev, optional test, and their shared label set."""

    train: Split
    dev: Split
    test: Split | None
    label_names: list[str]
    multi_label: bool


def resolve_data_dir(value: str) -> Path:
    """The folder named by ``data.dir``: ``demo`` is the demo set shipped in the package."""
    if value == "demo":
        return Path(str(resources.files("mindscreen") / "demo"))
    return Path(value)


def load_splits(cfg: DataConfig) -> Splits:
    """Read the train, dev and test data that ``cfg`` names, splitting train when needed.

    Dev and test rows are checked against the labels of train. A missing dev split is
    carved from train with ``cfg.split.dev_fraction``; a missing test split with
    ``cfg.split.test_fraction`` (0: no test split). Duplicate texts (within or between splits,
    or with conflicting labels) and near-empty texts are warned about with their counts
    (:func:`~mindscreen.data.quality.warn_data_quality`).

    Raises:
        DataError: missing or unreadable files, missing columns, rows without text or
            label, labels in dev/test unknown to train; messages name file and row.
    """
    train_path, other_paths = find_split_files(cfg)
    declared = (
        cfg.labels or cfg.label_columns or (declared_labels(train_path.parent) if cfg.train is None else None)
    )
    train, label_names, multi_label = _read_train(train_path, cfg, declared)
    given = {
        name: dataclasses.replace(_read_other(path, name, cfg, label_names, multi_label), name=name)
        for name, path in other_paths.items()
        if path is not None
    }
    dev_fraction = 0.0 if "dev" in given else cfg.split.dev_fraction
    test_fraction = 0.0 if "test" in given else cfg.split.test_fraction
    parts = {**_carve(train, dev_fraction, test_fraction, cfg.split.seed), **given}
    warn_data_quality([parts[name] for name in SPLIT_STEMS if name in parts])
    return Splits(parts["train"], parts["dev"], parts.get("test"), label_names, multi_label)


def _read_train(path: Path, cfg: DataConfig, declared: list[str] | None) -> tuple[Split, list[str], bool]:
    """The training file, the label set it defines and whether the task is multi-label."""
    source = str(path)
    frame = read_table(path)
    texts = extract_texts(frame, cfg.text_column, source, "data.text_column")
    lists, carries_lists = read_label_lists(frame, cfg, source)
    multi_label = decide_multi_label(cfg.task, carries_lists)
    label_names = build_label_names(lists, declared, multi_label, source)
    train = Split("train", texts, encode_labels(lists, label_names, multi_label, source), source)
    return train, label_names, multi_label


def _read_other(path: Path, split: str, cfg: DataConfig, label_names: list[str], multi_label: bool) -> Split:
    """A dev or test file; where it came from data.dir beside an explicit data.train, errors say so."""
    try:
        return load_labelled_file(path, cfg, label_names, multi_label)
    except DataError as err:
        if cfg.train is None or getattr(cfg, split) is not None:
            raise
        raise DataError(
            f"{err}. Note: this {split} file was found in data.dir={cfg.dir}, while data.train={cfg.train} "
            f"is set; pass data.dir=null to split {split} from the training file, or set data.{split}=FILE"
        ) from None


def load_labelled_file(
    path: str | Path,
    cfg: DataConfig,
    label_names: list[str],
    multi_label: bool,
    hints: Mapping[str, str] | None = None,
) -> Split:
    """Read a labelled file against an existing label set, e.g. to evaluate a trained run.

    Args:
        path: a table in any supported format, with the columns ``cfg`` names.
        cfg: how to read texts and labels (columns, delimiter).
        label_names: the label set and order of the run.
        multi_label: whether rows may carry several labels (or none).
        hints: how the caller's user picks the columns, by ``text_column`` and ``label_column``
            (e.g. the flags ``--text-column``); messages about a missing column suggest these.
            Default: the config keys ``data.text_column`` and ``data.label_column``.

    Returns:
        The split, named after the file's stem.

    Raises:
        DataError: unreadable file, missing columns, rows without text or label, or a
            label outside ``label_names``.
    """
    path = Path(path)
    source = str(path)
    hints = {**CONFIG_HINTS, **(hints or {})}
    frame = read_table(path)
    texts = extract_texts(frame, cfg.text_column, source, hints["text_column"])
    lists, _ = read_label_lists(frame, cfg, source, hints["label_column"])
    return Split(path.stem, texts, encode_labels(lists, label_names, multi_label, source), source)


def find_split_files(cfg: DataConfig) -> tuple[Path, dict[str, Path | None]]:
    """The training file, and the dev and test files where there are any."""
    folder = resolve_data_dir(cfg.dir) if cfg.dir is not None else None
    if folder is not None and not folder.is_dir():
        raise DataError(
            f"data folder not found: {folder} (data.dir={cfg.dir}); expected a folder holding "
            "train/dev/test files, or data.dir=demo for the shipped demo set"
        )
    files: dict[str, Path | None] = {}
    for split, stems in SPLIT_STEMS.items():
        explicit: str | None = getattr(cfg, split)
        if explicit is not None and not Path(explicit).is_file():
            raise DataError(f"{split} file not found: {explicit} (set by data.{split}); check the path")
        files[split] = Path(explicit) if explicit is not None else _find_in(folder, split, stems)
    train = files.pop("train")
    if train is not None:
        return train, files
    if folder is None:
        raise DataError("no training data: set data.dir=FOLDER (or data.dir=demo) or data.train=FILE")
    found = ", ".join(sorted(entry.name for entry in folder.iterdir())) or "nothing"
    raise DataError(
        f"no train file in {folder}: expected train with one of the extensions {', '.join(FORMATS)}; "
        f"found: {found}. Rename the file or set data.train=FILE"
    )


def _find_in(folder: Path | None, split: str, stems: tuple[str, ...]) -> Path | None:
    if folder is None:
        return None
    matches = [
        folder / f"{stem}{ext}" for stem in stems for ext in FORMATS if (folder / f"{stem}{ext}").is_file()
    ]
    if len(matches) > 1:
        names = ", ".join(match.name for match in matches)
        raise DataError(f"{folder} holds several {split} files: {names}; keep one, or set data.{split}=FILE")
    return matches[0] if matches else None


def declared_labels(folder: Path) -> list[str] | None:
    """The label order a ``dataset.json`` beside the training file declares, if any."""
    path = folder / "dataset.json"
    if not path.is_file():
        return None
    try:
        labels = json.loads(path.read_text(encoding="utf-8")).get("labels")
    except (OSError, ValueError, AttributeError) as err:
        raise DataError(f"cannot read {path}: {err}; expected a JSON object with a 'labels' list") from None
    if isinstance(labels, list) and labels and all(isinstance(label, str) for label in labels):
        return labels
    return None


def _carve(train: Split, dev_fraction: float, test_fraction: float, seed: int) -> dict[str, Split]:
    """Hold dev and/or test rows out of train, stratified and seeded; returns train and each part made."""
    if dev_fraction == 0 and test_fraction == 0:
        return {"train": train}
    if dev_fraction + test_fraction >= 1:
        raise DataError(
            f"data.split.dev_fraction + data.split.test_fraction = {dev_fraction + test_fraction:g}; "
            "expected below 1 so that train keeps rows. Lower the fractions"
        )
    rows = split_rows(stratum_keys(train.labels), dev_fraction, test_fraction, seed)
    wanted = {"train": 1.0, "dev": dev_fraction, "test": test_fraction}
    if any(share > 0 and len(part) == 0 for share, part in zip(wanted.values(), rows, strict=True)):
        raise DataError(
            f"{train.source} has {len(train.texts)} rows, too few to hold out dev/test rows with "
            f"data.split.dev_fraction={dev_fraction:g} and test_fraction={test_fraction:g}; "
            "provide dev/test files, add rows or raise the fractions"
        )
    logger.info(
        "split %s (seed %d): train %d, dev %d, test %d rows",
        train.source,
        seed,
        *(len(part) for part in rows),
    )
    return {
        name: Split(name, [train.texts[i] for i in part], train.labels[part], train.source)
        for (name, share), part in zip(wanted.items(), rows, strict=True)
        if share > 0
    }
