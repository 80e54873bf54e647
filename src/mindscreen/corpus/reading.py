"""Reading one part's rows: the input columns as an Arrow table, the texts, and rows that could not be read.

Each format is read the way :func:`mindscreen.data.readers.read_table` reads a whole file (CSV and TSV
cells as strings exactly as written, JSON lines and Parquet with their own types), but only the part's
rows. A row that cannot be read is not a failed part: a JSON line that does not parse, or is not an
object, gets a reason and no values. Messages name the file and rows, never a text.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from mindscreen.corpus.plan import BOM, Part
from mindscreen.data import DataError

PARQUET_BATCH = 8192  # rows decoded at a time from a Parquet row group


@dataclass
class PartRows:
    """A part's rows: ``table`` (its input columns), ``texts`` (the text column's values as read, None
    where missing) and ``errors`` (a reason per row that could not be read, else None)."""

    table: pa.Table
    texts: list[Any]
    errors: list[str | None]


def read_part(part: Part, text_column: str) -> PartRows:
    """The rows of ``part``; DataError when the file does not hold the rows the plan says it does."""
    readers = {
        "csv": _read_delimited,
        "tsv": _read_delimited,
        "jsonl": _read_json_lines,
        "parquet": _read_parquet,
    }
    if part.file.changed():
        raise DataError(
            f"{part.file.path} changed since the job was planned (size or modification time); "
            "restore it, or start the job again with a new --output"
        )
    rows = readers[part.file.format](part, text_column)
    if rows.table.num_rows != part.rows:
        raise DataError(
            f"{part.describe()}: read {rows.table.num_rows} rows where the plan found {part.rows}; "
            "the file's quoting cannot be split into parts here: convert it to JSON lines or Parquet"
        )
    return rows


def _read_bytes(path: str, start: int, stop: int) -> bytes:
    with open(path, "rb") as handle:
        handle.seek(start)
        return handle.read(stop - start)


def _read_delimited(part: Part, text_column: str) -> PartRows:
    raw = _read_bytes(part.file.path, *part.header) + _read_bytes(
        part.file.path, part.byte_start, part.byte_stop
    )
    try:
        frame = pd.read_csv(
            io.BytesIO(raw),
            sep="\t" if part.file.format == "tsv" else ",",
            dtype=str,
            na_filter=False,
            skip_blank_lines=False,
            encoding="utf-8",
        )
    except UnicodeDecodeError as err:
        raise DataError(
            f"{part.describe()}: not UTF-8 text ({err.reason}); re-save the file as UTF-8"
        ) from None
    except pd.errors.ParserError as err:  # pandas' parser messages give positions, not cell contents
        raise DataError(f"{part.describe()}: not valid CSV ({err})") from None
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return PartRows(table, frame[text_column].tolist(), [None] * len(frame))


def _read_json_lines(part: Part, text_column: str) -> PartRows:
    data = _read_bytes(part.file.path, part.byte_start, part.byte_stop)
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()  # the part's last line break
    records: list[dict[str, Any]] = []
    errors: list[str | None] = []
    for line in lines:
        record, error = _parse_line(line)
        records.append(record)
        errors.append(error)
    texts = [record.get(text_column) for record in records]
    return PartRows(_records_table(records, text_column), texts, errors)


def _parse_line(line: bytes) -> tuple[dict[str, Any], str | None]:
    line = line.removeprefix(BOM)
    if not line.strip():
        return {}, None  # a blank line: a row without text, as read_table reads it
    try:
        record = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {}, "line is not valid JSON"
    if not isinstance(record, dict):
        return {}, f"line is a JSON {type(record).__name__}, not an object"
    return record, None


def _records_table(records: list[dict[str, Any]], text_column: str) -> pa.Table:
    """Columns in order of first appearance; the text column always a string column (non-strings null)."""
    names = list(dict.fromkeys([*(key for record in records for key in record), text_column]))
    columns = {name: _column([record.get(name) for record in records]) for name in names}
    texts = [record.get(text_column) for record in records]
    columns[text_column] = pa.array([t if isinstance(t, str) else None for t in texts], type=pa.string())
    return pa.table(columns)


def _column(values: list[Any]) -> pa.Array:
    """An Arrow column. Values of mixed types become their JSON text (Arrow's own error would quote one);
    a column with no value in this part is a string column, the likeliest type in the others."""
    try:
        column = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return pa.array([as_text(value) for value in values], type=pa.string())
    return column.cast(pa.string()) if pa.types.is_null(column.type) else column


def as_text(value: Any) -> str | None:
    """``value`` as a string cell: strings and None as they are, anything else as its JSON text."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _read_parquet(part: Part, text_column: str) -> PartRows:
    import pyarrow.parquet as pq

    source = pq.ParquetFile(part.file.path)
    groups, first = _overlapping_groups(source.metadata, part.start, part.stop)
    batches = list(_slice_batches(source.iter_batches(PARQUET_BATCH, groups), first, part.start, part.stop))
    table = pa.Table.from_batches(batches, schema=source.schema_arrow)
    return PartRows(table, table.column(text_column).to_pylist(), [None] * table.num_rows)


def _overlapping_groups(metadata: Any, start: int, stop: int) -> tuple[list[int], int]:
    """The row groups holding rows ``[start, stop)`` and the row number where the first one begins."""
    groups: list[int] = []
    first = row = 0
    for index in range(metadata.num_row_groups):
        size = metadata.row_group(index).num_rows
        if row < stop and row + size > start:
            if not groups:
                first = row
            groups.append(index)
        row += size
    return groups, first


def _slice_batches(
    batches: Iterable[pa.RecordBatch], row: int, start: int, stop: int
) -> Iterable[pa.RecordBatch]:
    for batch in batches:
        low, high = max(start - row, 0), min(stop - row, batch.num_rows)
        if high > low:
            yield batch.slice(low, high - low)
        row += batch.num_rows
        if row >= stop:
            return


def part_path(output: Path, part: Part) -> Path:
    """Where ``part``'s scored rows are written."""
    return output / f"{part.name}.parquet"
