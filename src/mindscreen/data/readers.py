"""Tables on disk: CSV, TSV, JSON lines and Parquet, chosen by file extension.

CSV and TSV cells are read as strings exactly as written (``NA`` or ``null`` in a text is
text, not a missing value; an empty cell is ``""``), so labels such as ``0``/``1`` arrive
as strings and ids keep their leading zeros. JSON lines and Parquet keep their own types,
including list cells for multi-label rows.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mindscreen.data.errors import (
    DataError,
    column_fix,
    describe_rows,
    list_names,
    looks_like_name,
    missing_header,
)
from mindscreen.data.texts import has_lone_surrogate

FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "jsonl", ".parquet": "parquet"}
SUPPORTED = ", ".join(FORMATS)
_GUESS_ROWS = 1000  # rows looked at to guess which column holds the texts


def table_format(path: Path) -> str:
    """The format of a table file from its extension; DataError for an unknown one."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(
            f"{path}: unknown extension {path.suffix or '(none)'!r}; "
            f"supported extensions are: {SUPPORTED}. Rename the file or convert it to one of these"
        )
    return fmt


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a whole table, its format chosen by the file's extension.

    Args:
        path: a ``.csv``, ``.tsv``, ``.jsonl``/``.json`` (JSON lines, or one JSON array of
            objects) or ``.parquet`` file.

    Returns:
        The table with a fresh 0-based index, one row per data row of the file.

    Raises:
        DataError: missing, unreadable, malformed or empty file, or unknown extension.
    """
    path = Path(path)
    fmt = table_format(path)
    if not path.is_file():
        raise DataError(f"file not found: {path} (expected a {fmt} file at this path; check the path)")
    try:
        if fmt == "jsonl":
            frame = _read_json_lines(path)
        elif fmt == "parquet":
            frame = pd.read_parquet(path)
        else:
            sep = "\t" if fmt == "tsv" else ","
            frame = _read_delimited(path, sep)
    except UnicodeDecodeError as err:
        raise DataError(
            f"cannot read {path}: not UTF-8 text ({err.reason} at byte {err.start}); re-save it as UTF-8"
        ) from None
    except (OSError, ValueError) as err:
        if isinstance(err, DataError):
            raise
        raise DataError(f"cannot read {path} as {fmt}: {err}") from None
    if len(frame) == 0:
        raise DataError(f"{path} has no data rows; expected a header and at least one row")
    return frame.reset_index(drop=True)


def _read_delimited(path: Path, sep: str) -> pd.DataFrame:
    # Blank lines stay rows, so row numbers in messages match the file; trailing ones go.
    frame = pd.read_csv(
        path, sep=sep, dtype=str, na_filter=False, skip_blank_lines=False, encoding="utf-8-sig"
    )
    filled = np.flatnonzero(frame.apply(lambda column: column.str.strip() != "").to_numpy().any(axis=1))
    return frame.iloc[: filled[-1] + 1 if len(filled) else 0]


def _read_json_array(path: Path, content: str) -> pd.DataFrame:
    try:
        records = json.loads(content)
    except json.JSONDecodeError as err:
        raise DataError(f"{path}: not valid JSON at line {err.lineno}: {err.msg}") from None
    for position, record in enumerate(records):
        _check_object(path, record, f"item {position + 1} of the array")
    return pd.DataFrame.from_records(records)


def _read_json_lines(path: Path) -> pd.DataFrame:
    content = path.read_text(encoding="utf-8-sig")
    if content.lstrip().startswith("["):
        return _read_json_array(path, content)
    records: list[dict[str, Any]] = []
    last_filled = 0
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            records.append({})  # a blank line stays a (textless) row, so row numbers match lines
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(
                f"{path}, line {number}: not valid JSON ({err.msg}, column {err.colno}); "
                "expected one JSON object per line"
            ) from None
        _check_object(path, record, f"line {number}")
        records.append(record)
        last_filled = number
    return pd.DataFrame.from_records(records[:last_filled])


def _check_object(path: Path, record: Any, place: str) -> None:
    if not isinstance(record, dict):
        raise DataError(
            f'{path}, {place}: expected a JSON object like {{"text": ..., "label": ...}}, '
            f"found a JSON {type(record).__name__}"
        )
    if any(isinstance(value, str) and has_lone_surrogate(value) for value in record.values()):
        raise DataError(
            f"{path}, {place}: invalid Unicode (a lone UTF-16 surrogate escape such as \\ud83d: half of "
            "a character, e.g. an emoji cut in two); re-export the row from the original text"
        )


def write_table(frame: pd.DataFrame, path: str | Path) -> None:
    """Write a table, its format chosen by the file's extension; parent folders are created.

    ``.json`` is written as JSON lines, like ``.jsonl``.

    Raises:
        DataError: unknown extension or a file that cannot be written.
    """
    path = Path(path)
    fmt = table_format(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "jsonl":
            frame.to_json(path, orient="records", lines=True, force_ascii=False)
        elif fmt == "parquet":
            frame.to_parquet(path, index=False)
        else:
            frame.to_csv(path, sep="\t" if fmt == "tsv" else ",", index=False)
    except OSError as err:
        raise DataError(f"cannot write {path}: {err.strerror or err}") from None


def require_column(frame: pd.DataFrame, column: str, source: str, setting: str) -> None:
    """DataError unless ``column`` is in the table, listing the columns there are.

    The message suggests the column that looks like text (:func:`guess_text_column`), in the
    caller's terms (``setting``), and never quotes a value of the table.

    Args:
        frame: the table.
        column: the column needed.
        source: the file, for the message.
        setting: how the user picks the column: a flag (``--text-column``), a config key
            (``data.text_column``) or a keyword argument (``text_column``).
    """
    if column in frame.columns:
        return
    columns = [str(name) for name in frame.columns]
    if (headerless := missing_header(column, source, columns, setting)) is not None:
        raise DataError(headerless)
    guess = guess_text_column(frame)
    fix = (
        column_fix(setting, guess)
        if guess is None or looks_like_name(guess)
        else "Add a header row to the file"
    )
    raise DataError(f"column {column!r} not found in {source}; columns are: {list_names(columns)}. {fix}")


def guess_text_column(frame: pd.DataFrame) -> str | None:
    """The column that looks like it holds the texts, or None when no column holds strings.

    Among columns whose cells are mostly strings, the one with the longest average string, judged on
    the first 1000 rows; columns of several-word strings come first (ids, labels and flags are single
    tokens, however long). No value is ever shown.
    """
    best, best_key = None, (False, 0.0)
    for name in frame.columns:
        cells = frame[name].iloc[:_GUESS_ROWS]
        strings = cells[cells.map(lambda cell: isinstance(cell, str))].astype(str)
        if len(strings) == 0 or len(strings) < len(cells) / 2:
            continue
        key = (bool(strings.str.strip().str.contains(r"\s").mean() >= 0.5), float(strings.str.len().mean()))
        if best is None or key > best_key:
            best, best_key = str(name), key
    return best


def extract_texts(frame: pd.DataFrame, column: str, source: str, setting: str) -> list[str]:
    """The texts of a table's column, rejecting missing, non-string and blank ones.

    Texts are kept exactly as written (no stripping).

    Raises:
        DataError: missing column, or rows without a non-blank string, naming the rows.
    """
    require_column(frame, column, source, setting)
    texts = frame[column].tolist()
    not_strings = [i for i, text in enumerate(texts) if not isinstance(text, str)]
    if not_strings:
        found = sorted({_kind(texts[i]) for i in not_strings})
        raise DataError(
            f"{source}: column {column!r} has no text in {describe_rows(not_strings)}; "
            f"expected a string, found {', '.join(found)}. Fill in or remove these rows"
        )
    blank = [i for i, text in enumerate(texts) if not text.strip()]
    if blank:
        raise DataError(
            f"{source}: column {column!r} is empty or blank in {describe_rows(blank)}; "
            "every row needs a non-blank text. Fill in or remove these rows"
        )
    return texts


def _kind(value: Any) -> str:
    missing = value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))
    return "nothing (null, missing key or blank line)" if missing else f"a {type(value).__name__}"


def read_texts(
    path: str | Path, text_column: str = "text", setting: str = "text_column"
) -> tuple[pd.DataFrame, list[str]]:
    """Read a table to predict on: the whole table (for writing back) and its texts.

    Args:
        path: a table file in any supported format; no label column is needed.
        text_column: the column holding the texts.
        setting: how the caller's user names that column (``--text-column`` for a CLI flag),
            suggested when the column is missing.

    Returns:
        ``(frame, texts)`` with ``texts[i]`` the text of ``frame.iloc[i]``.

    Raises:
        DataError: unreadable file, missing text column or rows without text.
    """
    frame = read_table(path)
    return frame, extract_texts(frame, text_column, str(path), setting)
