"""Scoring one part: read its rows, classify the valid texts, write the columns ``predict`` writes.

The output part holds the input columns, then the columns of
:func:`~mindscreen.pipeline.batch.result_columns` (``labels``, ``risk``, ``stage``, ``needs_review``,
``review_reasons``, ``prob_<label>``) and ``error``: a short reason for a row that was not scored (no
text, an empty text, a text that is not a string, a line that is not JSON, the model failing on that
row), with the other result columns null. A bad row never fails its part.

It is written to a temporary name, flushed to disk and renamed, so a part file that exists is complete.

Privacy: texts never reach an exception message, a log line or the returned summary. Whatever fails
while scoring a part is re-raised as :class:`PartError` naming the part's file and rows, with the
original message only for errors whose messages mindscreen writes or that name files (data, contract
and OS errors); for anything else only the exception's type, since library messages may quote input.
"""

from __future__ import annotations

import math
import os
import resource
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from mindscreen.contract import ContractError
from mindscreen.corpus.plan import Part
from mindscreen.corpus.reading import part_path, read_part
from mindscreen.data import MAX_CHARS, DataError
from mindscreen.extras import MissingExtraError
from mindscreen.pipeline.batch import result_columns
from mindscreen.pipeline.pipeline import Pipeline, Result

TEMP_PREFIX = ".tmp-"
_LIST = pa.list_(pa.string())
COLUMN_TYPES = {
    "labels": _LIST,
    "risk": pa.string(),
    "stage": pa.string(),
    "needs_review": pa.bool_(),
    "review_reasons": _LIST,
    "error": pa.string(),
}  # and float64 for every prob_<label>
_SAFE_MESSAGES = (DataError, ContractError, MissingExtraError, OSError)


class CorpusError(RuntimeError):
    """A corpus job stopped; the message says why without quoting any text. Finished parts are kept."""


class PartError(CorpusError):
    """A part could not be scored; the message names the file and rows and never quotes a text."""


def text_error(value: Any) -> str | None:
    """Why ``value`` cannot be classified as a text, or None when it can."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "no text (null, missing or a blank line)"
    if not isinstance(value, str):
        return f"text is not a string (found {type(value).__name__})"
    if not value.strip():
        return "text is empty or blank"
    return None


def classify_rows(
    pipeline: Pipeline, texts: list[Any], errors: list[str | None], batch_size: int
) -> list[Result | None]:
    """A result per row whose error is None, in chunks of ``batch_size`` texts; ``errors`` is updated in
    place for rows that fail. A chunk that raises is classified row by row, so one text the model cannot
    take marks its row and no other; when every row of a chunk of several fails, the failure is the
    model's, not the texts', and is raised (without its message)."""
    results: list[Result | None] = [None] * len(texts)
    valid = [i for i, error in enumerate(errors) if error is None]
    for start in range(0, len(valid), batch_size):
        rows = valid[start : start + batch_size]
        chunk: list[Result | None]
        try:
            chunk = list(pipeline.classify([texts[i] for i in rows]))
        except Exception:  # isolate the row: the message may quote a text, so it is dropped
            chunk = [_classify_one(pipeline, texts[i]) for i in rows]
            if len(rows) > 1 and all(result is None for result in chunk):
                raise PartError(f"the model failed on each of the {len(rows)} rows of a batch") from None
        for i, result in zip(rows, chunk, strict=True):
            results[i] = result
            if result is None:
                errors[i] = "the model failed on this row"
    return results


def _classify_one(pipeline: Pipeline, text: str) -> Result | None:
    try:
        return pipeline.classify([text])[0]
    except Exception:  # the row gets an error column instead; the message may quote the text
        return None


def score_part(
    pipeline: Pipeline,
    part: Part,
    output: Path,
    text_column: str,
    batch_size: int,
    max_chars: int = MAX_CHARS,
) -> dict[str, Any]:
    """Score ``part`` and write it to ``output``; a summary without texts (rows, errors, texts cut to
    ``max_chars`` characters, seconds, the process and its peak memory). Any failure is raised as a
    text-free :class:`PartError`."""
    started = time.perf_counter()
    rows = guarded(part, lambda: read_part(part, text_column))
    errors = [error or text_error(text) for error, text in zip(rows.errors, rows.texts, strict=True)]
    texts = list(rows.texts)
    cut = [i for i, error in enumerate(errors) if error is None and len(texts[i]) > max_chars]
    for i in cut:
        texts[i] = texts[i][:max_chars]
    results = guarded(part, lambda: classify_rows(pipeline, texts, errors, batch_size))
    table = guarded(part, lambda: output_table(rows.table, results, errors, pipeline.labels))
    guarded(part, lambda: write_atomically(table, part_path(output, part)))
    return {
        "part": part.name,
        "rows": table.num_rows,
        "errors": sum(error is not None for error in errors),
        "cut": len(cut),
        "seconds": time.perf_counter() - started,
        "pid": os.getpid(),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def output_table(
    table: pa.Table, results: list[Result | None], errors: list[str | None], labels: list[str]
) -> pa.Table:
    """The input columns with the result columns and ``error`` set (replacing input columns of the
    same name in place, as ``predict_table`` does)."""
    columns = {**result_columns(results, labels), "error": errors}
    for name, values in columns.items():
        column = pa.array(values, type=COLUMN_TYPES.get(name, pa.float64()))
        index = table.schema.get_field_index(name)
        table = table.set_column(index, name, column) if index >= 0 else table.append_column(name, column)
    return table


def write_atomically(table: pa.Table, path: Path) -> None:
    """Write ``table`` to a temporary file beside ``path``, flush it to disk, rename it to ``path``."""
    temporary = path.with_name(f"{TEMP_PREFIX}{uuid.uuid4().hex}-{path.name}")
    try:
        with temporary.open("wb") as handle:
            pq.write_table(table, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def guarded(part: Part, step: Callable[[], Any]) -> Any:
    """``step()``, with any failure re-raised as a :class:`PartError` that cannot carry a text: raised
    outside the ``except`` block, so the original exception is not even its context."""
    try:
        return step()
    except PartError as err:
        reason = str(err)
    except _SAFE_MESSAGES as err:
        reason = f"{type(err).__name__}: {err}"
    except Exception as err:  # any other library's message may quote input: keep its type only
        reason = type(err).__name__
    raise PartError(f"{part.describe()} could not be scored: {reason}")
