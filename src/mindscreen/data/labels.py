"""Label cells to label lists to the (N, C) 0/1 matrix.

Multi-label rows arrive in three shapes: a list per row (JSON lines, Parquet list
columns), a delimited string (``data.label_delimiter``, e.g. ``stress|anxiety``) or one
0/1 column per label (``data.label_columns``). All of them, and single labels, first
become a list of label names per row; one encoder then builds the matrix. Labels that
look like numbers become strings (``1`` and ``1.0`` both become ``"1"``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from mindscreen.config import DataConfig
from mindscreen.data.errors import DataError, describe_rows, list_names, looks_like_name

_LIST_TYPES = (list, tuple, np.ndarray)
_FLAGS = {"0": 0, "1": 1, "0.0": 0, "1.0": 1, "false": 0, "true": 1}


def resolve_label_column(
    frame: pd.DataFrame, cfg: DataConfig, source: str, setting: str = "data.label_column"
) -> str:
    """The column holding the labels: ``cfg.label_column``, else ``labels`` if present, else ``label``.

    ``setting`` is how the caller's user picks it (``--label-column`` for a CLI flag), for messages.
    """
    column = cfg.label_column or ("labels" if "labels" in frame.columns else "label")
    if column == cfg.text_column:
        raise DataError(
            f"the label column and the text column are both {column!r}; "
            f"set {setting} to the column holding the labels"
        )
    if column not in frame.columns:
        expected = repr(column) if cfg.label_column else "'labels' or 'label'"
        others = [str(name) for name in frame.columns if name != cfg.text_column]
        guess = others[0] if others and looks_like_name(others[0]) else None
        columns = list_names(list(frame.columns))
        if setting.startswith("--"):
            fix = f"Pass {setting} {guess or 'NAME'} (the column holding the labels)"
        else:
            named = f"{setting}={guess} or " if guess else ""
            fix = f"Set {named}data.label_columns=[...] (one 0/1 column per label)"
        raise DataError(f"no label column in {source}: expected {expected}; columns are: {columns}. {fix}")
    return column


def read_label_lists(
    frame: pd.DataFrame, cfg: DataConfig, source: str, setting: str = "data.label_column"
) -> tuple[list[list[str]], bool]:
    """Each row's label names, and whether the table is shaped as multi-label.

    The table is shaped as multi-label when ``cfg.label_columns`` or ``cfg.label_delimiter``
    is set or any row carries a list. An empty list is a row with no label (multi-label).
    ``setting`` names how the user picks the label column, for messages.

    Raises:
        DataError: missing label column, rows without a label or with an unreadable one.
    """
    if cfg.label_columns:
        return _read_flag_columns(frame, cfg.label_columns, source), True
    column = resolve_label_column(frame, cfg, source, setting)
    lists: list[list[str]] = []
    missing: list[int] = []
    carries_lists = cfg.label_delimiter is not None
    for position, cell in enumerate(frame[column].tolist()):
        carries_lists = carries_lists or isinstance(cell, _LIST_TYPES)
        labels = _parse_cell(cell, cfg.label_delimiter)
        if labels is None:
            missing.append(position)
        lists.append(labels or [])
    if missing:
        raise DataError(
            f"{source}: column {column!r} has no label in {describe_rows(missing)}; expected a label name "
            "(or a list of them) in every row, with no empty or null entries. Fill in or remove these rows"
        )
    return lists, carries_lists


def label_lists_by_row(
    frame: pd.DataFrame, cfg: DataConfig, source: str
) -> tuple[list[list[str] | None], bool]:
    """:func:`read_label_lists` for reports that list bad rows instead of stopping at the first.

    Returns:
        Each row's label names (None for a row without a readable label), and whether the
        table is shaped as multi-label.

    Raises:
        DataError: the label column (or a label column) is missing.
    """
    if cfg.label_columns:
        names = cfg.label_columns
        _require_flag_columns(frame, names, source)
        flags = [[_FLAGS.get(_flag_text(cell)) for cell in frame[name].tolist()] for name in names]
        rows = zip(*flags, strict=True)  # per row: 0, 1 or None (unreadable) for each label column
        return [
            None if None in row else [n for n, f in zip(names, row, strict=True) if f] for row in rows
        ], True
    column = resolve_label_column(frame, cfg, source)
    cells = frame[column].tolist()
    carries_lists = cfg.label_delimiter is not None or any(isinstance(cell, _LIST_TYPES) for cell in cells)
    return [_parse_cell(cell, cfg.label_delimiter) for cell in cells], carries_lists


def _parse_cell(cell: Any, delimiter: str | None) -> list[str] | None:
    """The label names in one cell; None when a label is missing, blank or not a name."""
    try:
        if isinstance(cell, _LIST_TYPES):
            names = [_label_name(item) for item in cell]
            return None if None in names else [name for name in names if name is not None]
        label = _label_name(cell)
    except TypeError:
        return None
    if label is None:
        return None
    if delimiter is None:
        return [label]
    return [part.strip() for part in label.split(delimiter) if part.strip()] or None


def _label_name(value: Any) -> str | None:
    """A label cell as a name; None for a missing or blank one; TypeError for a non-name."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower()
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return None
        return str(int(value)) if float(value).is_integer() else str(float(value))
    raise TypeError(f"expected a label name (a string or number), found a {type(value).__name__}")


def _require_flag_columns(frame: pd.DataFrame, columns: list[str], source: str) -> None:
    absent = [name for name in columns if name not in frame.columns]
    if absent:
        raise DataError(
            f"label columns not found in {source}: {list_names(absent)}; columns are: "
            f"{list_names(list(frame.columns))}. data.label_columns must name columns of the file"
        )


def _read_flag_columns(frame: pd.DataFrame, columns: list[str], source: str) -> list[list[str]]:
    _require_flag_columns(frame, columns, source)
    flags = np.zeros((len(frame), len(columns)), dtype=bool)
    for j, name in enumerate(columns):
        values = [_FLAGS.get(_flag_text(cell)) for cell in frame[name].tolist()]
        bad = [i for i, value in enumerate(values) if value is None]
        if bad:
            raise DataError(
                f"{source}: label column {name!r} holds something other than 0/1 in {describe_rows(bad)}; "
                "expected 0 or 1 (or true/false) in every row of each label column"
            )
        flags[:, j] = np.array(values, dtype=bool)
    return [[columns[j] for j in np.flatnonzero(row)] for row in flags]


def _flag_text(cell: Any) -> str:
    try:
        return (_label_name(cell) or "").lower()
    except TypeError:
        return ""


def decide_multi_label(task: str, carries_lists: bool) -> bool:
    """Multi-label for ``task='multi_label'``; for ``'auto'``, when the table is shaped as multi-label."""
    return task == "multi_label" or (task == "auto" and carries_lists)


def build_label_names(
    lists: Sequence[Sequence[str]], declared: list[str] | None, multi_label: bool, source: str
) -> list[str]:
    """The label set: ``declared`` (e.g. from dataset.json), else the sorted labels found.

    Raises:
        DataError: a label missing from ``declared``, or fewer than two labels for multi-class.
    """
    found = {label for labels in lists for label in labels}
    if declared is not None:
        undeclared = sorted(found - set(declared))
        if undeclared:
            raise DataError(
                f"{source} has labels not in the declared label list: {list_names(undeclared)}; "
                f"declared are: {list_names(declared)}. Add them to the list or fix the rows"
            )
        names = list(declared)
    else:
        names = sorted(found)
    if len(names) < (1 if multi_label else 2):
        raise DataError(
            f"{source} has {len(names)} distinct label(s) ({list_names(names)}); a multi-class task needs at "
            "least two. Check data.label_column, or set data.task=multi_label for a single yes/no label"
        )
    return names


def encode_labels(
    lists: Sequence[Sequence[str]], label_names: list[str], multi_label: bool, source: str
) -> np.ndarray:
    """The (N, C) float32 0/1 matrix in ``label_names`` order; multi-class rows are one-hot.

    Raises:
        DataError: a label not in ``label_names`` (naming it and the known ones), or, for
            multi-class, a row with no label or several.
    """
    index = {name: j for j, name in enumerate(label_names)}
    matrix = np.zeros((len(lists), len(label_names)), dtype=np.float32)  # (N, C)
    unknown: dict[str, list[int]] = {}
    for i, labels in enumerate(lists):
        for label in labels:
            if label in index:
                matrix[i, index[label]] = 1.0
            else:
                unknown.setdefault(label, []).append(i)
    if unknown:
        rows = sorted({i for positions in unknown.values() for i in positions})
        raise DataError(
            f"{source}: unknown label(s) {list_names(sorted(unknown))} in {describe_rows(rows)}; "
            f"the known labels (from the training data) are: {list_names(label_names)}. "
            "Fix these labels, or add training rows that carry them"
        )
    if not multi_label:
        _check_one_per_row(matrix, source)
    return matrix


def _check_one_per_row(matrix: np.ndarray, source: str) -> None:
    per_row = matrix.sum(axis=1)
    several = np.flatnonzero(per_row > 1).tolist()
    if several:
        raise DataError(
            f"{source}: {describe_rows(several)} carry several labels, but the task is multi-class "
            "(one label per row). Set data.task=multi_label, or give each row one label"
        )
    empty = np.flatnonzero(per_row == 0).tolist()
    if empty:
        raise DataError(
            f"{source}: {describe_rows(empty)} carry no label, but the task is multi-class "
            "(one label per row). Give each row one label, or set data.task=multi_label"
        )
