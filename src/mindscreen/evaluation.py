"""Scoring a run on a labelled file, and writing predictions for a file of texts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mindscreen.config import DataConfig
from mindscreen.data import MAX_CHARS, cut_texts, load_labelled_file, read_texts, warn_cut, write_table
from mindscreen.metrics import compute_metrics
from mindscreen.predictor import load_predictor, predict_proba_chunked
from mindscreen.rundir import CONFIG_FILE


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
    max_chars: int = MAX_CHARS,
    **column_changes: Any,
) -> dict[str, Any]:
    """Metrics of a run on a labelled file, with the run's fitted thresholds.

    Args:
        run_dir: a finished run directory.
        data_path: CSV, TSV, JSONL or Parquet file with texts and labels.
        progress: show a progress bar over the texts.
        max_chars: characters of each text read; longer texts are cut, with a warning.
        column_changes: DataConfig fields to change for this file, e.g. ``text_column='body'``.
    """
    run_dir = Path(run_dir)
    predictor = load_predictor(run_dir)
    cfg = run_data_config(run_dir, **column_changes)
    split = load_labelled_file(data_path, cfg, predictor.labels, predictor.multi_label)
    texts, cut = cut_texts(split.texts, max_chars)
    warn_cut(str(data_path), cut, len(texts), max_chars)
    probs = predict_proba_chunked(predictor, texts, progress, desc="evaluate")
    return compute_metrics(split.labels, probs, predictor.labels, predictor.multi_label, predictor.thresholds)


def predict_file(
    run_dir: str | Path,
    input_path: str | Path,
    output_path: str | Path,
    text_column: str | None = None,
    progress: bool = False,
    max_chars: int = MAX_CHARS,
) -> int:
    """Write the input table plus ``labels`` and one ``prob_<label>`` column per class; return rows.

    ``progress`` shows a progress bar over the texts; texts longer than ``max_chars`` characters are
    cut to that length before tokenising, with a warning naming the rows.
    """
    run_dir = Path(run_dir)
    predictor = load_predictor(run_dir)
    column = text_column or run_data_config(run_dir).text_column
    frame, texts = read_texts(input_path, column)
    texts, cut = cut_texts(texts, max_chars)
    warn_cut(str(input_path), cut, len(texts), max_chars)
    probs = predict_proba_chunked(predictor, texts, progress)
    frame = frame.copy()
    delimited = Path(output_path).suffix.lower() in {".csv", ".tsv"}
    decided = predictor.decide(probs)
    frame["labels"] = ["|".join(row) for row in decided] if delimited else decided
    for c, label in enumerate(predictor.labels):
        frame[f"prob_{label}"] = probs[:, c].round(6)
    write_table(frame, output_path)
    return len(frame)
