"""One schema for all of a job's parts, so that the output folder reads as one table.

Each part is read on its own, so its input columns take the types of its own rows: a JSON-lines column
can be int64 in one part and string in another (a value of another type, or a part where the column
holds no value at all), and a folder of Parquet files can hold different columns. Readers of the
output folder (``pandas.read_parquet(folder)``, Arrow datasets) take one part's schema and fail on,
or silently drop, what differs. So once every part is written the driver reads each part's footer
and, when they differ, rewrites the parts that differ from the job's schema:

- a column missing from a part is added as nulls, and one with no value in a part takes the type it
  has where it holds values;
- types Arrow can widen are widened (int32 and int64 to int64, integers and floats to float64);
- any other conflict becomes a string column of each value's JSON text, the rule a part already
  applies to a column whose values have mixed types.

The input columns come first (in order of first appearance), the result columns after them. Running
it again changes nothing, so a job stopped while aligning aligns when it is started again. Messages
name columns and types, never values.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from mindscreen.corpus.plan import Part
from mindscreen.corpus.reading import as_text, part_path
from mindscreen.corpus.scoring import COLUMN_TYPES, write_atomically

logger = logging.getLogger(__name__)


def align_parts(output: Path, parts: list[Part]) -> dict[str, str]:
    """Give every part file of ``parts`` under ``output`` one schema; returns what changed, as column
    name -> a description of its types before and after (empty when the parts already agreed)."""
    paths = [part_path(output, part) for part in parts]
    schemas = [pq.read_schema(path).remove_metadata() for path in paths]
    if all(schema.equals(schemas[0]) for schema in schemas):
        return {}
    target, changes = _job_schema(paths, schemas)
    for path, schema in zip(paths, schemas, strict=True):
        if not schema.equals(target):
            write_atomically(_conform(pq.read_table(path), target), path)
    logger.info(
        "parts disagreed on column types; rewrote them to one schema: %s",
        "; ".join(f"{name} ({change})" for name, change in changes.items()),
    )
    return changes


def _job_schema(paths: list[Path], schemas: list[pa.Schema]) -> tuple[pa.Schema, dict[str, str]]:
    names = list(dict.fromkeys(name for schema in schemas for name in schema.names))
    results = [name for name in schemas[0].names if _is_result(name)]
    ordered = [name for name in names if name not in results] + results
    fields, changes = [], {}
    for name in ordered:
        kind, change = _column_type(name, paths, schemas)
        fields.append(pa.field(name, kind))
        if change:
            changes[name] = change
    return pa.schema(fields), changes


def _is_result(name: str) -> bool:
    return name in COLUMN_TYPES or name.startswith("prob_")


def _column_type(name: str, paths: list[Path], schemas: list[pa.Schema]) -> tuple[pa.DataType, str]:
    """The job's type for column ``name``, and how the parts disagreed ("" when they did not)."""
    where: dict[pa.DataType, list[int]] = {}
    for index, schema in enumerate(schemas):
        if name in schema.names:
            where.setdefault(schema.field(name).type, []).append(index)
    missing = len(schemas) - sum(map(len, where.values()))
    note = f"missing from {missing} parts" if missing else ""
    if len(where) == 1:
        return next(iter(where)), note
    valued = [kind for kind, found in where.items() if any(_has_values(paths[i], name) for i in found)]
    kind = _widest(valued or list(where))
    seen = ", ".join(str(t) for t in where)
    return kind, f"{seen} -> {kind}" + (f"; {note}" if note else "")


def _has_values(path: Path, name: str) -> bool:
    column = pq.read_table(path, columns=[name]).column(name)
    return column.null_count < len(column)


def _widest(kinds: list[pa.DataType]) -> pa.DataType:
    """One type that holds values of all ``kinds``: Arrow's permissive promotion, else strings."""
    if len(kinds) == 1:
        return kinds[0]
    try:
        unified = pa.unify_schemas([pa.schema([("c", kind)]) for kind in kinds], promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return pa.string()
    kind = unified.field("c").type
    return pa.string() if pa.types.is_null(kind) else kind


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    columns = []
    for field in schema:
        index = table.schema.get_field_index(field.name)
        column = table.column(index) if index >= 0 else None
        if column is None or column.null_count == len(column):
            columns.append(pa.nulls(table.num_rows, field.type))
        elif column.type == field.type:
            columns.append(column)
        elif pa.types.is_string(field.type) and not pa.types.is_string(column.type):
            columns.append(pa.array([as_text(value) for value in column.to_pylist()], type=pa.string()))
        else:
            columns.append(column.cast(field.type))
    return pa.Table.from_arrays(columns, schema=schema)
