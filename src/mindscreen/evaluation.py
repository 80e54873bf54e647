"""Scoring a model directory on a labelled file."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mindscreen.data import MAX_CHARS, cut_texts, load_labelled_file, warn_cut
from mindscreen.metrics import compute_metrics
from mindscreen.predictors import LoadOptions, load_predictor, predict_proba_chunked
from mindscreen.rundir import run_data_config

# What a library caller sets to pick the columns: this module's keyword arguments.
ARGUMENT_HINTS = {"text_column": "text_column", "label_column": "label_column"}


def evaluate_run(
    run_dir: str | Path,
    data_path: str | Path,
    progress: bool = False,
    max_chars: int = MAX_CHARS,
    allow_failed_int8: bool = False,
    hints: Mapping[str, str] | None = None,
    options: LoadOptions | None = None,
    **column_changes: Any,
) -> dict[str, Any]:
    """Metrics of a run, ensemble, TF-IDF model or ONNX export on a labelled file, with its thresholds.

    Args:
        run_dir: the model directory.
        data_path: CSV, TSV, JSONL or Parquet file with texts and labels.
        progress: show a progress bar over the texts.
        max_chars: characters of each text read; longer texts are cut, with a warning.
        allow_failed_int8: run an export's int8 model even when its check failed or never ran.
        hints: how the user picks the columns, suggested when one is missing (default: this
            function's ``text_column=`` / ``label_column=``; the CLI passes its flags).
        options: how the model loads (e.g. ``precision='bf16'``); ``allow_failed_int8`` is added to it.
        column_changes: DataConfig fields to change for this file, e.g. ``text_column='body'``.
    """
    run_dir = Path(run_dir)
    options = options or LoadOptions()
    allow = allow_failed_int8 or options.allow_failed_int8
    predictor = load_predictor(run_dir, options, allow_failed_int8=allow)
    cfg = run_data_config(run_dir, **column_changes)
    hints = {**ARGUMENT_HINTS, **(hints or {})}
    split = load_labelled_file(data_path, cfg, predictor.labels, predictor.multi_label, hints)
    texts, cut = cut_texts(split.texts, max_chars)
    warn_cut(str(data_path), cut, len(texts), max_chars)
    probs = predict_proba_chunked(predictor, texts, progress, desc="evaluate")
    return compute_metrics(split.labels, probs, predictor.labels, predictor.multi_label, predictor.thresholds)
