"""Scoring a run on a labelled file, and writing predictions for a file of texts."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from mindscreen.config import DataConfig
from mindscreen.data import load_labelled_file, read_texts, write_table
from mindscreen.metrics import compute_metrics
from mindscreen.predictor import load_predictor, predict_proba_chunked
from mindscreen.rundir import CONFIG_FILE

# What a library caller sets to pick the columns: this module's keyword arguments.
ARGUMENT_HINTS = {"text_column": "text_column", "label_column": "label_column"}


def run_data_config(run_dir: Path, **changes: Any) -> DataConfig:
    """The data settings the run was trained with (columns, label format), with ``changes`` applied."""
    path = run_dir / CONFIG_FILE
    saved = (yaml.safe_load(path.read_text()) or {}) if path.is_file() else {}
    data = DataConfig.model_validate(saved.get("data", {}))
    return data.model_copy(update={k: v for k, v in changes.items() if v is not None})


def evaluate_run(
    run_dir: str | Path,
    data_path: str | Path,
    progress: bool = False,
    allow_failed_int8: bool = False,
    hints: Mapping[str, str] | None = None,
    **column_changes: Any,
) -> dict[str, Any]:
    """Metrics of a run on a labelled file, with the run's fitted thresholds.

    Args:
        run_dir: a finished run directory.
        data_path: CSV, TSV, JSONL or Parquet file with texts and labels.
        progress: show a progress bar over the texts.
        allow_failed_int8: run an export's int8 model even when its check failed or never ran.
        hints: how the user picks the columns, suggested when one is missing (default: this
            function's ``text_column=`` / ``label_column=``; the CLI passes its flags).
        column_changes: DataConfig fields to change for this file, e.g. ``text_column='body'``.
    """
    run_dir = Path(run_dir)
    predictor = load_predictor(run_dir, allow_failed_int8)
    cfg = run_data_config(run_dir, **column_changes)
    hints = {**ARGUMENT_HINTS, **(hints or {})}
    split = load_labelled_file(data_path, cfg, predictor.labels, predictor.multi_label, hints)
    probs = predict_proba_chunked(predictor, split.texts, progress, desc="evaluate")
    return compute_metrics(split.labels, probs, predictor.labels, predictor.multi_label, predictor.thresholds)


def predict_file(
    run_dir: str | Path,
    input_path: str | Path,
    output_path: str | Path,
    text_column: str | None = None,
    progress: bool = False,
    allow_failed_int8: bool = False,
    hints: Mapping[str, str] | None = None,
) -> int:
    """Write the input table plus ``labels`` and one ``prob_<label>`` column per class; return rows.

    ``progress`` shows a progress bar over the texts; ``allow_failed_int8`` runs an export's int8
    model even when its check failed or never ran; ``hints["text_column"]`` is how the user names
    the text column (default ``text_column``, this function's argument), suggested when it is missing.
    """
    run_dir = Path(run_dir)
    predictor = load_predictor(run_dir, allow_failed_int8)
    column = text_column or run_data_config(run_dir).text_column
    frame, texts = read_texts(input_path, column, {**ARGUMENT_HINTS, **(hints or {})}["text_column"])
    probs = predict_proba_chunked(predictor, texts, progress)
    frame = frame.copy()
    delimited = Path(output_path).suffix.lower() in {".csv", ".tsv"}
    decided = predictor.decide(probs)
    frame["labels"] = ["|".join(row) for row in decided] if delimited else decided
    for c, label in enumerate(predictor.labels):
        frame[f"prob_{label}"] = probs[:, c].round(6)
    write_table(frame, output_path)
    return len(frame)
