"""The rows an audit reads: each file of a data folder (or one file), row by row.

Unlike :func:`~mindscreen.data.load_splits`, a row without a usable text or label is a finding
here, not an error, so one pass lists every bad row. A file that cannot be read or a missing
column still stops with the data layer's :class:`~mindscreen.data.DataError`, which names the
file, the column and the fix. Rows are numbered per file: data rows from 1, header not counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mindscreen.config import DataConfig
from mindscreen.data.errors import DataError
from mindscreen.data.labels import decide_multi_label, label_lists_by_row
from mindscreen.data.quality import UNUSABLE, text_problem
from mindscreen.data.readers import read_table, require_column
from mindscreen.data.splits import declared_labels, find_split_files, resolve_data_dir


@dataclass(frozen=True, eq=False)
class AuditSplit:
    """One file's rows as the audit sees them.

    Attributes:
        name: ``train``, ``dev``, ``test``, or the stem of a single audited file.
        source: the file.
        texts: each row's text; ``""`` where the cell is not a string.
        problems: each row's text problem (:data:`~mindscreen.data.quality.TEXT_PROBLEMS`) or None.
        labels: each row's label names, sorted; None where the row has no readable label (or the
            data has no labels at all).
    """

    name: str
    source: str
    texts: list[str]
    problems: list[str | None]
    labels: list[tuple[str, ...] | None]


@dataclass(frozen=True, eq=False)
class AuditData:
    """Every audited row, split by split, and the label set.

    The pooled view numbers all rows of all splits ``0..N-1`` in split order; :meth:`locate`
    turns pooled indices back into per-file row numbers.
    """

    splits: list[AuditSplit]
    label_names: list[str]
    multi_label: bool
    labelled: bool

    @property
    def split_of(self) -> np.ndarray:
        """(N,) index into :attr:`splits` of each pooled row."""
        return np.repeat(np.arange(len(self.splits)), [len(split.texts) for split in self.splits])

    @property
    def texts(self) -> list[str]:
        """Pooled texts, (N,)."""
        return [text for split in self.splits for text in split.texts]

    @property
    def labels(self) -> list[tuple[str, ...] | None]:
        """Pooled label tuples, (N,)."""
        return [labels for split in self.splits for labels in split.labels]

    def usable(self) -> np.ndarray:
        """(N,) bool: rows with a text that can be trained on (near-empty ones included)."""
        return np.array([p not in UNUSABLE for split in self.splits for p in split.problems], dtype=bool)

    def where(self, index: int) -> tuple[str, int]:
        """A pooled index as ``(split name, row number from 1)``."""
        for split in self.splits:
            if index < len(split.texts):
                return split.name, int(index) + 1
            index -= len(split.texts)
        raise IndexError(f"pooled row {index} is past the last split")

    def locate(self, indices: Sequence[int] | np.ndarray) -> dict[str, list[int]]:
        """Pooled indices as ``{split name: [row numbers from 1]}``, in split and row order."""
        rows: dict[str, list[int]] = {}
        for index in sorted(int(i) for i in indices):
            split, row = self.where(index)
            rows.setdefault(split, []).append(row)
        return rows


def read_audit_data(data: str | Path, cfg: DataConfig) -> AuditData:
    """Read a data folder (``train``/``dev``/``test`` files, or ``demo``) or a single file.

    Args:
        data: the folder or file; ``demo`` is the shipped demo set.
        cfg: how to read texts and labels; ``cfg.train``/``dev``/``test`` replace the folder's files.

    Raises:
        DataError: no such file or folder, an unreadable file, or a missing text or label column.
    """
    files, folder = _files(str(data), cfg)
    tables = {name: read_table(path) for name, path in files.items()}
    for name, frame in tables.items():
        require_column(frame, cfg.text_column, str(files[name]), "--text-column")
    first = next(iter(tables.values()))
    labelled = bool(cfg.label_columns or cfg.label_column) or bool({"labels", "label"} & set(first.columns))
    splits, carries_lists = [], False
    for name, frame in tables.items():
        cells = frame[cfg.text_column].tolist()
        lists: list[list[str] | None] = [None] * len(cells)
        if labelled:
            lists, carries = label_lists_by_row(frame, cfg, str(files[name]))
            carries_lists = carries_lists or carries
        splits.append(
            AuditSplit(
                name,
                str(files[name]),
                [cell if isinstance(cell, str) else "" for cell in cells],
                [text_problem(cell) for cell in cells],
                [None if labels is None else tuple(sorted(set(labels))) for labels in lists],
            )
        )
    declared = cfg.labels or cfg.label_columns or (declared_labels(folder) if folder else None)
    found = {label for split in splits for labels in split.labels if labels for label in labels}
    names = list(declared or []) + sorted(found - set(declared or []))
    return AuditData(splits, names, decide_multi_label(cfg.task, carries_lists), labelled)


def _files(data: str, cfg: DataConfig) -> tuple[dict[str, Path], Path | None]:
    """The files to audit by split name (one file as itself, or a folder's split files) and the folder."""
    path = Path(data)
    if path.is_file():
        return {path.stem: path}, None
    folder = resolve_data_dir(data)
    if not folder.is_dir():
        raise DataError(
            f"not found: {data}; expected a data folder holding train/dev/test files, one data file "
            "(.csv, .tsv, .jsonl, .json, .parquet), or demo for the shipped demo set"
        )
    train, others = find_split_files(cfg.model_copy(update={"dir": data}))
    return {"train": train} | {name: found for name, found in others.items() if found is not None}, folder
