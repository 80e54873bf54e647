"""The end of a run: reload the best model, calibrate, fit thresholds, score dev and test.

Order matters: the temperature is fitted on raw dev logits, thresholds on the calibrated dev
probabilities, and dev/test metrics use both, as ``Predictor`` does at prediction time. With
``train.threshold_folds`` set, a fitted threshold is kept only where it beats the default out of
fold on dev (:func:`~mindscreen.thresholds.fit_thresholds_checked`); the check goes to
thresholds.json and to metrics.json's ``thresholds``. The saved ``predictions/*.npz`` hold the raw
logits (ensembles fit their own temperatures on them). metrics.json's ``dev_slices`` (dev scores of
long and cut texts) feed the model card's known failure modes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from mindscreen.calibration import fit_temperature
from mindscreen.card import length_slices, write_run_card
from mindscreen.card.slices import token_lengths
from mindscreen.config import RunConfig
from mindscreen.data import Splits
from mindscreen.inference import aggregate_logits, encode_windows, predict_logits
from mindscreen.metrics import compute_metrics, expected_calibration_error
from mindscreen.modeling import load_model
from mindscreen.probabilities import apply_temperature, to_probabilities
from mindscreen.rundir import METRICS_FILE, write_calibration, write_json, write_predictions, write_thresholds
from mindscreen.thresholds import (
    default_thresholds,
    fit_thresholds,
    fit_thresholds_checked,
    threshold_summary,
)
from mindscreen.training.checkpoint import TrainState


def finish_run(
    run_dir: Path,
    splits: Splits,
    config: RunConfig,
    device: torch.device,
    amp_dtype: torch.dtype | None,
    state: TrainState,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write predictions, calibration.json, thresholds.json, metrics.json and the model card (README.md);
    return the metrics.

    ``extra`` entries (for example the loop's throughput) are added to metrics.json as they are.
    """
    model, tokenizer = load_model(run_dir)
    model.to(device)
    multi_label, labels = splits.multi_label, splits.label_names
    raw: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for split in (splits.dev, splits.test):
        if split is not None:
            windows = encode_windows(tokenizer, split.texts, model.spec.max_length, model.spec.long_text)
            pad_id = tokenizer.pad_token_id or 0
            logits = predict_logits(model, windows.ids, pad_id, config.train.eval_batch_size, amp_dtype)
            logits = aggregate_logits(logits, windows, multi_label)
            write_predictions(run_dir, split.name, logits, split.labels)
            raw[split.name] = (split.labels, logits)

    method = config.train.calibration
    temperature = fit_temperature(raw["dev"][1], raw["dev"][0], multi_label, method)
    probs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    ece: dict[str, dict[str, float]] = {}
    for name, (truth, logits) in raw.items():
        calibrated = to_probabilities(apply_temperature(logits, temperature), multi_label)
        probs[name] = (truth, calibrated)
        ece[name] = {
            "before": expected_calibration_error(truth, to_probabilities(logits, multi_label), multi_label),
            "after": expected_calibration_error(truth, calibrated, multi_label),
        }
    write_calibration(run_dir, labels, method, temperature, ece)

    defaults = default_thresholds(len(labels), multi_label)
    thresholds, check = _fit_run_thresholds(probs["dev"][0], probs["dev"][1], labels, multi_label, config)
    write_thresholds(run_dir, labels, thresholds, config.train.fit_thresholds, check)
    metrics: dict[str, Any] = {
        "primary_metric": config.train.metric,
        "best_step": state.best_step,
        "steps": state.step,
        "thresholds": threshold_summary(config.train.fit_thresholds, check),
    }
    for name, (truth, split_probs) in probs.items():
        args = (truth, split_probs, labels, multi_label)
        metrics[name] = {**compute_metrics(*args, thresholds=thresholds), "ece": ece[name]["after"]}
        metrics[f"{name}_default_thresholds"] = compute_metrics(*args, thresholds=defaults)
    metrics["calibration"] = {
        "method": method,
        "temperature": [float(t) for t in temperature],
        **{f"{name}_ece_{when}": value for name, pair in ece.items() for when, value in pair.items()},
    }
    dev_truth, dev_probs = probs["dev"]
    lengths = token_lengths(tokenizer, splits.dev.texts)
    metrics["dev_slices"] = {
        "length": length_slices(
            dev_truth, dev_probs, thresholds, lengths, model.spec.max_length, labels, multi_label
        )
    }
    metrics.update(extra or {})
    write_json(run_dir / METRICS_FILE, metrics)
    write_run_card(run_dir)
    return metrics


def _fit_run_thresholds(
    truth: np.ndarray, probs: np.ndarray, labels: list[str], multi_label: bool, config: RunConfig
) -> tuple[np.ndarray, dict[str, Any] | None]:
    """The run's thresholds and, when ``train.threshold_folds`` checked them out of fold, the check."""
    train = config.train
    if not train.fit_thresholds:
        return default_thresholds(len(labels), multi_label), None
    if train.threshold_folds is None:
        return fit_thresholds(truth, probs, multi_label), None
    # The fold seed stays fixed (not train.seed), so an ensemble of this run alone gets its thresholds.
    thresholds, check = fit_thresholds_checked(
        truth, probs, multi_label, folds=train.threshold_folds, confidence=train.threshold_confidence
    )
    return thresholds, check.to_dict(labels)
