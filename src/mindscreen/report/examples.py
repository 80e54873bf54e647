"""Highlighted dev examples per class for the report: what moved the model, where it was right and wrong.

Per class, up to ``per_kind`` dev texts of each kind: **correct** (the class is true and predicted, most
confident first), **missed** (true, not predicted, lowest probability first) and **false alarm**
(predicted, not true, highest probability first), each explained for that class by the default method
(:func:`mindscreen.explain.explain`). Texts are read from the run's dev split as its config names it;
the saved dev predictions choose them when they still match that split, else the run predicts dev again.

The section quotes dev texts: the report is then the data owner's local file, to be kept like the data.

Shapes: ``N`` dev texts, ``C`` classes.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from mindscreen.data import load_splits
from mindscreen.explain import explain
from mindscreen.explain.page import CAVEAT, explanation_html
from mindscreen.predictors import Predictor, load_predictor, predict_proba_chunked
from mindscreen.probabilities import apply_temperature, to_probabilities
from mindscreen.rundir import read_calibration, read_predictions, run_data_config
from mindscreen.thresholds import apply_thresholds

KINDS = ("correct", "missed", "false alarm")


def pick_examples(
    truth: np.ndarray, probs: np.ndarray, preds: np.ndarray, per_kind: int
) -> list[tuple[int, int, str]]:
    """``(row, class, kind)`` of the examples to show, class by class (see the module docstring)."""
    chosen = []
    for c in range(truth.shape[1]):
        true, predicted, p = truth[:, c] >= 0.5, preds[:, c] >= 0.5, probs[:, c]
        for kind, rows, order in (
            ("correct", true & predicted, -p),
            ("missed", true & ~predicted, p),
            ("false alarm", ~true & predicted, -p),
        ):
            found = np.flatnonzero(rows)
            chosen += [(int(r), c, kind) for r in found[np.argsort(order[found], kind="stable")][:per_kind]]
    return chosen


def examples_section(run_dir: Path, per_kind: int = 1) -> str:
    """The report's section of highlighted dev examples (a note instead when dev cannot be read here)."""
    if per_kind <= 0:
        return ""
    try:
        dev = load_splits(run_data_config(run_dir)).dev
    except (OSError, ValueError) as err:
        reason = html.escape(str(err))
        return f"<h2>Examples</h2><p class='note'>No examples: the run's dev data is unreadable: {reason}</p>"
    predictor = load_predictor(run_dir)
    probs = _dev_probabilities(run_dir, predictor, dev.texts, dev.labels)
    preds = apply_thresholds(probs, predictor.thresholds, predictor.multi_label)
    labels = predictor.labels
    parts = [
        "<h2>Examples (dev)</h2>",
        "<p class='note'>Per class: a text it got right, one it missed and one it raised wrongly, each with "
        "its words shaded by occlusion (green toward the class, red against it; grey dotted: past the "
        f"model's input length). {html.escape(CAVEAT)} This section quotes dev texts: keep the report "
        "as you keep the data.</p>",
    ]
    for row, c, kind in pick_examples(dev.labels, probs, preds, per_kind):
        (found,) = explain(predictor, [dev.texts[row]], labels=[labels[c]])
        truth = ", ".join(label for label, on in zip(labels, dev.labels[row], strict=True) if on >= 0.5)
        heading = f"{labels[c]}: {kind} (dev row {row}; annotated: {truth or 'none'})"
        parts.append(explanation_html(dev.texts[row], found, heading))
    return "\n".join(parts)


def _dev_probabilities(
    run_dir: Path, predictor: Predictor, texts: list[str], truth: np.ndarray
) -> np.ndarray:
    """``(N, C)`` calibrated dev probabilities: from the saved predictions when they match dev's labels."""
    saved = read_predictions(run_dir, "dev")
    if saved is not None and saved[1].shape == truth.shape and np.array_equal(saved[1], truth):
        temperature = read_calibration(run_dir, predictor.labels)
        return to_probabilities(apply_temperature(saved[0], temperature), predictor.multi_label)
    return predict_proba_chunked(predictor, texts)
