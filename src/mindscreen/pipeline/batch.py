"""``mindscreen predict`` through a pipeline: a table of texts in, the same table plus decisions out."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from tqdm.auto import tqdm

from mindscreen.data import read_texts, write_table
from mindscreen.pipeline.pipeline import Pipeline
from mindscreen.pipeline.store import load_pipeline

CHUNK = 256  # texts per pipeline call, so progress and memory stay bounded on large files


def predict_table(
    pipeline: str | Path | Pipeline,
    input_path: str | Path,
    output_path: str | Path,
    text_column: str = "text",
    progress: bool = False,
    hints: Mapping[str, str] | None = None,
) -> int:
    """Classify every text of a table and write it back with the pipeline's decisions.

    Adds ``labels``, ``risk``, ``stage``, ``needs_review``, ``review_reasons`` and one ``prob_<label>``
    column per class to the input columns; list columns are joined with ``|`` in CSV and TSV.

    Args:
        pipeline: a pipeline, or a pipeline / run / ensemble / linear directory.
        input_path: CSV, TSV, JSONL or Parquet file.
        output_path: where to write, format by extension.
        text_column: the column holding the texts.
        progress: show a progress bar over the texts.
        hints: ``{"text_column": "--text-column"}``: how the user names the text column, suggested
            when it is missing (default: this function's ``text_column``).

    Returns:
        The number of rows written.
    """
    if not isinstance(pipeline, Pipeline):
        pipeline = load_pipeline(pipeline)
    frame, texts = read_texts(input_path, text_column, (hints or {}).get("text_column", "text_column"))
    results = []
    with tqdm(total=len(texts), desc="predict", unit="text", disable=not progress) as bar:
        for start in range(0, len(texts), CHUNK):
            results.extend(pipeline.classify(texts[start : start + CHUNK]))
            bar.update(min(CHUNK, len(texts) - start))
    delimited = Path(output_path).suffix.lower() in {".csv", ".tsv"}
    frame = frame.copy()

    def listed(values: list[str]) -> str | list[str]:
        return "|".join(values) if delimited else values

    frame["labels"] = [listed(r.labels) for r in results]
    frame["risk"] = [r.risk for r in results]
    frame["stage"] = [r.stage for r in results]
    frame["needs_review"] = [r.needs_review for r in results]
    frame["review_reasons"] = [listed(r.review_reasons) for r in results]
    for label in pipeline.labels:
        frame[f"prob_{label}"] = [r.probabilities[label] for r in results]
    write_table(frame, output_path)
    return len(frame)
