"""One self-contained HTML page per run: checklist, metrics, calibration and figures.

Everything is inline: CSS in a ``<style>`` tag, figures as ``data:image/png;base64`` images, no
scripts and no external links, so the file can be mailed or archived as is. It shows label names and
numbers, and, unless ``examples=0``, a few dev texts per class with the words that moved the model
highlighted (:mod:`~mindscreen.report.examples`): then the page is to be kept like the data.
"""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path
from typing import Any

import numpy as np

from mindscreen.explain.page import STYLE as EXPLAINED_STYLE
from mindscreen.probabilities import apply_temperature, to_probabilities
from mindscreen.report.checklist import Checklist, Criteria, evaluate_checklist
from mindscreen.report.examples import examples_section
from mindscreen.rundir import (
    METRICS_FILE,
    read_calibration,
    read_json,
    read_log,
    read_predictions,
    read_thresholds,
    require_run_dir,
)

REPORT_FILE = "report.html"
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.pass { color: #1a7f37; font-weight: bold; } .fail { color: #c62828; font-weight: bold; }
.note { color: #555; font-size: 0.9em; } img { max-width: 100%; margin: 0.5em 0 1.5em; }
"""
_SUMMARY = [
    ("macro_f1", "macro-F1"),
    ("micro_f1", "micro-F1"),
    ("weighted_f1", "weighted F1"),
    ("accuracy", "accuracy"),
    ("macro_roc_auc", "ROC-AUC"),
    ("macro_pr_auc", "PR-AUC"),
    ("ece", "ECE"),
]


def build_report(
    run_dir: str | Path,
    output_html: str | Path | None = None,
    criteria: Criteria | None = None,
    examples: int = 1,
) -> Checklist:
    """Write the run's HTML report and return its checklist.

    Args:
        run_dir: A finished run directory.
        output_html: Where to write the page; None: ``RUN/report.html``.
        criteria: Success criteria; None: the defaults of :class:`Criteria`.
        examples: Highlighted dev texts per class and kind (correct, missed, false alarm); 0: none.
    """
    run_dir = Path(run_dir)
    require_run_dir(run_dir)
    criteria = criteria or Criteria()
    metrics, log = read_json(run_dir / METRICS_FILE), read_log(run_dir)
    spec = read_json(run_dir / "model.json")
    labels, multi_label = spec["labels"], spec["multi_label"]
    checklist = evaluate_checklist(metrics, log, criteria, run=run_dir.name)

    figures = _figures(run_dir, metrics, log, labels, multi_label)
    page = _page(run_dir.name, spec, metrics, checklist, figures, labels, examples_section(run_dir, examples))
    output = Path(output_html) if output_html is not None else run_dir / REPORT_FILE
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(page, encoding="utf-8")
    return checklist


def _figures(
    run_dir: Path, metrics: dict[str, Any], log: list[dict[str, Any]], labels: list[str], multi_label: bool
) -> list[tuple[str, str]]:
    """(title, base64 PNG) of every figure the run's files allow."""
    from mindscreen.extras import require_extras

    require_extras("the report's figures", "matplotlib")
    from mindscreen.report import plots  # matplotlib loads only when a report is built

    figures: list[tuple[str, str]] = []
    if log:
        metric = metrics.get("primary_metric", "macro_f1")
        figures.append(("Training curves", plots.plot_training_curves(log, metric)))
    splits: dict[str, Any] = {name: metrics[name] for name in ("dev", "test") if name in metrics}
    figures.append(("F1 per class", plots.plot_per_class_f1(splits, labels)))
    split = "test" if "test" in metrics else "dev"
    if "confusion_matrix" in metrics[split]:
        matrix = metrics[split]["confusion_matrix"]["matrix"]
        figures.append((f"Confusion matrix ({split})", plots.plot_confusion_matrix(matrix, labels)))
    saved = read_predictions(run_dir, split)
    if saved is None:
        return figures
    raw_logits, truth = saved
    temperature = read_calibration(run_dir, labels)
    raw = to_probabilities(raw_logits, multi_label)
    calibrated = to_probabilities(apply_temperature(raw_logits, temperature), multi_label)
    if multi_label:
        outcomes = plots.plot_label_outcomes(truth, calibrated, read_thresholds(run_dir, labels), labels)
        figures.append((f"Outcomes per label ({split})", outcomes))
    figures.append((f"Precision-recall ({split})", plots.plot_precision_recall(truth, calibrated, labels)))
    curves = {"uncalibrated": raw} | ({} if np.allclose(temperature, 1.0) else {"calibrated": calibrated})
    figures.append((f"Reliability ({split})", plots.plot_reliability(truth, curves, multi_label)))
    return figures


def _page(
    name: str,
    spec: dict[str, Any],
    metrics: dict[str, Any],
    checklist: Checklist,
    figures: list[tuple[str, str]],
    labels: list[str],
    examples: str = "",
) -> str:
    esc = html.escape
    task = "multi-label" if spec["multi_label"] else "multi-class"
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>mindscreen report: {esc(name)}</title><style>{_STYLE}{EXPLAINED_STYLE}</style></head><body>",
        f"<h1>mindscreen report: {esc(name)}</h1>",
        f"<p class='note'>{task}, {len(labels)} labels, encoder {esc(str(spec['encoder_source']))}, "
        f"pooling {esc(spec['pooling'])}; best checkpoint at step {metrics.get('best_step')} of "
        f"{metrics.get('steps')}. Written {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC.</p>",
        "<p class='note'>Not a diagnostic tool: these scores describe agreement with annotators' labels.</p>",
        "<h2>Checklist</h2>",
        _checklist_table(checklist),
        "<h2>Metrics</h2>",
        _summary_table(metrics),
        _calibration_note(metrics),
        _thresholds_note(metrics, labels),
    ]
    for title, png in figures:
        parts.append(f'<h2>{esc(title)}</h2><img alt="{esc(title)}" src="data:image/png;base64,{png}">')
    for split in ("dev", "test"):
        if split in metrics:
            parts.append(f"<h2>Per class ({split})</h2>{_per_class_table(metrics[split], labels)}")
    parts += [examples, "</body></html>"]
    return "\n".join(parts)


def _checklist_table(checklist: Checklist) -> str:
    rows = ["<table><tr><th>criterion</th><th>value</th><th>target</th><th>result</th><th>note</th></tr>"]
    for item in checklist.items:
        verdict = "<span class='pass'>PASS</span>" if item.passed else "<span class='fail'>FAIL</span>"
        value = "-" if item.value is None else f"{item.value:.3f}"
        rows.append(
            f"<tr><td>{html.escape(item.name)}</td><td>{value}</td><td>{html.escape(item.target)}</td>"
            f"<td>{verdict}</td><td>{html.escape(item.detail)}</td></tr>"
        )
    return "".join(rows) + "</table>"


def _summary_table(metrics: dict[str, Any]) -> str:
    keys = [k for k in ("dev", "test", "dev_default_thresholds", "test_default_thresholds") if k in metrics]
    head = "".join(f"<th>{html.escape(title)}</th>" for _, title in _SUMMARY)
    rows = [f"<table><tr><th>split</th>{head}</tr>"]
    for key in keys:
        cells = "".join(f"<td>{_fmt(metrics[key].get(name))}</td>" for name, _ in _SUMMARY)
        rows.append(f"<tr><td>{html.escape(key.replace('_', ' '))}</td>{cells}</tr>")
    return "".join(rows) + "</table>"


def _calibration_note(metrics: dict[str, Any]) -> str:
    cal = metrics.get("calibration")
    if not cal:
        return "<p class='note'>No calibration recorded for this run.</p>"
    temps = ", ".join(f"{t:.3f}" for t in cal["temperature"][:30])
    eces = "; ".join(
        f"{s} ECE {_fmt(cal.get(f'{s}_ece_before'))} before, {_fmt(cal.get(f'{s}_ece_after'))} after"
        for s in ("dev", "test")
        if f"{s}_ece_before" in cal
    )
    return f"<p>Calibration: {html.escape(cal['method'])}, temperature {temps}. {eces}.</p>"


def _thresholds_note(metrics: dict[str, Any], labels: list[str]) -> str:
    """How the run's thresholds were chosen; with the out-of-fold check, its verdict per class."""
    info = metrics.get("thresholds")
    if not info:
        return ""
    if not info.get("fitted_on_dev"):
        return "<p>Thresholds: defaults (argmax / 0.5), not fitted.</p>"
    if not info.get("checked"):
        return "<p>Thresholds: fitted on all of dev, not checked out of fold.</p>"
    kept = set(info.get("kept", []))
    rule = "per label" if info.get("decision") == "per_class" else "all or nothing, on macro-F1"
    rows = [
        f"<p>Thresholds: fitted on dev, kept where their {info.get('folds')}-fold out-of-fold F1 beat "
        f"the default's in at least {_fmt(info.get('confidence'))} of bootstrap resamples of dev "
        f"({rule}); {len(kept)} of {len(labels)} labels kept theirs.</p>",
        "<table><tr><th>label</th><th>kept</th><th>out-of-fold F1, fitted</th>"
        "<th>F1 at default</th><th>win rate</th><th>folds</th></tr>",
    ]
    for label in labels:
        row = info.get("classes", {}).get(label, {})
        rows.append(
            f"<tr><td>{html.escape(label)}</td><td>{'yes' if label in kept else 'no'}</td>"
            f"<td>{_fmt(row.get('oof_f1_fitted'))}</td><td>{_fmt(row.get('oof_f1_default'))}</td>"
            f"<td>{_fmt(row.get('win_rate'))}</td><td>{row.get('folds', '-')}</td></tr>"
        )
    notes = "".join(f"<p class='note'>{html.escape(note)}</p>" for note in info.get("notes", []))
    return "".join(rows) + "</table>" + notes


def _per_class_table(metrics: dict[str, Any], labels: list[str]) -> str:
    columns = ("precision", "recall", "f1", "support", "roc_auc", "pr_auc")
    head = "".join(f"<th>{c}</th>" for c in columns)
    rows = [f"<table><tr><th>label</th>{head}</tr>"]
    for label in labels:
        row = metrics["per_class"][label]
        cells = "".join(f"<td>{row[c] if c == 'support' else _fmt(row[c])}</td>" for c in columns)
        rows.append(f"<tr><td>{html.escape(label)}</td>{cells}</tr>")
    return "".join(rows) + "</table>"


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{float(value):.3f}"
