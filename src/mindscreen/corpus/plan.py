"""Splitting input files into parts: fixed row ranges, found the same way on every run.

A part is rows ``[start, stop)`` of one file (data rows from 0, header not counted), ``part_rows`` rows
long except a file's last. Its name comes from the file and the range, so a restarted job recognises
the parts it finished. For CSV, TSV and JSON lines the plan also records each part's byte range, so a
worker reads its rows without parsing the file from the top:

- JSON lines: one row per line; a blank line is a row (without text), trailing blank lines are dropped.
- CSV and TSV: one row per record; a line break inside a quoted cell stays inside its record (RFC 4180
  quoting: a record ends at a line break after an even number of ``"``). As in :func:`read_table`, blank
  lines are rows and trailing blank lines are dropped.
- Parquet: row ranges only; a worker reads the row groups that overlap its range.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from mindscreen.corpus.inputs import InputFile
from mindscreen.data import DataError
from mindscreen.data.readers import require_column

BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Part:
    """Rows ``[start, stop)`` of ``file``; for text formats, their bytes ``[byte_start, byte_stop)`` and
    the header's bytes ``header`` (CSV/TSV)."""

    file: InputFile
    start: int
    stop: int
    byte_start: int = 0
    byte_stop: int = 0
    header: tuple[int, int] = (0, 0)

    @property
    def rows(self) -> int:
        return self.stop - self.start

    @property
    def name(self) -> str:
        """``<stem>-<path hash>-<start>-<stop>``: unique per file and row range, sorted in row order."""
        path = Path(self.file.path)
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", path.stem)[:60]
        digest = hashlib.sha256(self.file.path.encode()).hexdigest()[:8]
        return f"{stem}-{digest}-{self.start:010d}-{self.stop:010d}"

    def describe(self) -> str:
        """Where the part is, for messages: file and rows counted from 1 (never any text)."""
        return f"{self.file.path}, rows {self.start + 1}-{self.stop}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file.to_dict(),
            "start": self.start,
            "stop": self.stop,
            "bytes": [self.byte_start, self.byte_stop],
            "header": list(self.header),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Part:
        start, stop = (int(x) for x in data["bytes"])
        first, last = (int(x) for x in data["header"])
        return cls(
            InputFile.from_dict(data["file"]),
            int(data["start"]),
            int(data["stop"]),
            start,
            stop,
            (first, last),
        )


def plan_parts(files: list[InputFile], part_rows: int, text_column: str) -> list[Part]:
    """Every part of every file, in file order then row order.

    Raises:
        DataError: a CSV/TSV or Parquet file without ``text_column``, or a JSON file that is one array.
    """
    if part_rows < 1:
        raise ValueError(f"part_rows must be at least 1, found {part_rows}")
    parts: list[Part] = []
    for file in files:
        parts.extend(plan_file(file, part_rows, text_column))
    return parts


def plan_file(file: InputFile, part_rows: int, text_column: str) -> list[Part]:
    """The parts of one file (none for a file without data rows)."""
    if file.format == "parquet":
        rows = _parquet_rows(file, text_column)
        return [Part(file, start, min(start + part_rows, rows)) for start in range(0, rows, part_rows)]
    path = Path(file.path)
    quoted = file.format in ("csv", "tsv")
    if not quoted and _is_json_array(path):
        raise DataError(
            f"{path} holds one JSON array; the corpus engine reads JSON lines: one object per line"
        )
    scan = scan_records(path, part_rows, quoted)
    if quoted:
        _check_header(file, scan.header, text_column)
    ends = [*scan.starts[1:], scan.end]
    return [
        Part(file, i * part_rows, min((i + 1) * part_rows, scan.rows), begin, end, scan.header)
        for i, (begin, end) in enumerate(zip(scan.starts, ends, strict=True))
    ]


@dataclass(frozen=True)
class Scan:
    """Records of a text file: ``rows`` (trailing blank ones dropped), the byte offset where every
    ``part_rows``-th record starts, the byte offset after the last kept record, the header's bytes."""

    rows: int
    starts: list[int]
    end: int
    header: tuple[int, int]


def scan_records(path: Path, part_rows: int, quoted: bool) -> Scan:
    """One pass over ``path`` in binary, a line at a time: its rows and where every part starts."""
    records = _records(path, quoted)
    header = next(records, (0, 0, True))[:2] if quoted else (0, 0)
    starts: list[int] = []
    kept = end = 0
    for row, (start, stop, blank) in enumerate(records):
        if row % part_rows == 0:
            starts.append(start)
        if not blank:
            kept, end = row + 1, stop
    return Scan(kept, starts[: -(-kept // part_rows)], end, header)


def _records(path: Path, quoted: bool) -> Iterator[tuple[int, int, bool]]:
    """``(start, stop, blank)`` byte range of every record, ``blank`` when it holds only whitespace."""
    offset = start = 0
    in_quotes, blank = False, True
    with path.open("rb") as handle:
        for number, line in enumerate(handle):
            if number == 0 and line.startswith(BOM):
                offset = start = len(BOM)
                line = line[len(BOM) :]
            offset += len(line)
            blank = blank and not line.strip()
            if quoted and line.count(b'"') % 2:
                in_quotes = not in_quotes
            if not in_quotes:  # else a quoted cell goes on over the next line
                yield start, offset, blank
                start, blank = offset, True
    if offset > start:  # an unterminated quoted cell runs to the end of the file
        yield start, offset, blank


def _check_header(file: InputFile, header: tuple[int, int], text_column: str) -> None:
    with open(file.path, "rb") as handle:
        handle.seek(header[0])
        raw = handle.read(header[1] - header[0])
    frame = pd.read_csv(io.BytesIO(raw), sep="\t" if file.format == "tsv" else ",", dtype=str, nrows=0)
    require_column(frame, text_column, file.path, "--text-column")


def _parquet_rows(file: InputFile, text_column: str) -> int:
    import pyarrow.parquet as pq

    metadata = pq.ParquetFile(file.path)
    require_column(pd.DataFrame(columns=metadata.schema_arrow.names), text_column, file.path, "--text-column")
    return int(metadata.metadata.num_rows)


def _is_json_array(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(4096).lstrip(BOM + b" \t\r\n")
    return head.startswith(b"[")
