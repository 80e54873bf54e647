"""``mindscreen predict --input``: a table of texts in, the same table plus the decisions out.

Every directory goes through the pipeline (:func:`~mindscreen.pipeline.load_pipeline` wraps a bare run,
ensemble, TF-IDF model or export in a one-stage pipeline), so ``predict`` and ``serve`` on the same
directory give the same labels, probabilities, risk and review flags. :func:`result_columns` turns results
into those columns for this path and for the corpus engine (:mod:`mindscreen.corpus`) alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mindscreen.data import MAX_CHARS, cut_texts, read_texts, warn_cut, write_table
from mindscreen.pipeline.pipeline import Pipeline, Result
from mindscreen.pipeline.store import load_pipeline, model_dir_of
from mindscreen.predictors import LoadOptions, in_chunks
from mindscreen.rundir import run_data_config


def default_text_column(path: str | Path) -> str:
    """The text column the model in ``path`` was trained with (a pipeline: its stage-2 model's)."""
    return run_data_config(model_dir_of(Path(path))).text_column


def predict_table(
    pipeline: str | Path | Pipeline,
    input_path: str | Path,
    output_path: str | Path,
    text_column: str | None = None,
    progress: bool = False,
    max_chars: int = MAX_CHARS,
    hints: Mapping[str, str] | None = None,
    options: LoadOptions | None = None,
) -> int:
    """Classify every text of a table and write it back with the decisions.

    Adds ``labels``, ``risk``, ``stage``, ``needs_review``, ``review_reasons`` and one ``prob_<label>``
    column per class to the input columns; list columns are joined with ``|`` in CSV and TSV.

    Args:
        pipeline: a pipeline, or a pipeline / run / ensemble / linear / export directory.
        input_path: CSV, TSV, JSONL or Parquet file.
        output_path: where to write, format by extension.
        text_column: the column holding the texts; None: the one the model was trained with.
        progress: show a progress bar over the texts.
        max_chars: characters of each text read (every stage sees only these); longer texts are cut,
            with a warning naming the rows.
        hints: ``{"text_column": "--text-column"}``: how the user names the text column, suggested
            when it is missing (default: this function's ``text_column``).
        options: how the model loads (e.g. ``allow_failed_int8`` for an ONNX export).

    Returns:
        The number of rows written.
    """
    if text_column is None:
        text_column = default_text_column(pipeline) if not isinstance(pipeline, Pipeline) else "text"
    if not isinstance(pipeline, Pipeline):
        pipeline = load_pipeline(pipeline, options)
    frame, texts = read_texts(input_path, text_column, (hints or {}).get("text_column", "text_column"))
    texts, cut = cut_texts(texts, max_chars)
    warn_cut(str(input_path), cut, len(texts), max_chars)
    results = [result for part in in_chunks(texts, pipeline.classify, progress) for result in part]
    delimited = Path(output_path).suffix.lower() in {".csv", ".tsv"}
    frame = frame.assign(**result_columns(results, pipeline.labels, delimited))
    write_table(frame, output_path)
    return len(frame)


def result_columns(
    results: Sequence[Result | None], labels: Sequence[str], delimited: bool = False
) -> dict[str, list[Any]]:
    """The columns ``predict`` adds to a table, one value per result, in this order: ``labels``,
    ``risk``, ``stage``, ``needs_review``, ``review_reasons``, then ``prob_<label>`` per class.

    Args:
        results: one result per row; None for a row that was not scored (all its values are None).
        labels: the pipeline's labels, for the probability columns.
        delimited: join the list columns with ``|`` (CSV and TSV cells), else keep them as lists.
    """

    def listed(values: list[str]) -> str | list[str]:
        return "|".join(values) if delimited else values

    def column(value: Any) -> list[Any]:
        return [None if r is None else value(r) for r in results]

    columns: dict[str, list[Any]] = {
        "labels": column(lambda r: listed(r.labels)),
        "risk": column(lambda r: r.risk),
        "stage": column(lambda r: r.stage),
        "needs_review": column(lambda r: r.needs_review),
        "review_reasons": column(lambda r: listed(r.review_reasons)),
    }
    for label in labels:
        columns[f"prob_{label}"] = column(lambda r, label=label: r.probabilities[label])
    return columns
