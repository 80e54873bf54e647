"""Sections shared by the run and ensemble cards: per-class metrics and calibration."""

from __future__ import annotations

from typing import Any

from mindscreen.card.markdown import table


def per_class_table(scores: dict[str, Any], default: dict[str, Any] | None = None) -> str:
    """Summary line and per-class precision, recall, F1, support and AUCs of one ``compute_metrics``."""
    summary = ", ".join(
        f"{key.replace('_', ' ')} {fmt(scores.get(key))}"
        for key in ("macro_f1", "micro_f1", "accuracy", "macro_pr_auc")
        if key in scores
    )
    if default is not None:
        summary += f" (macro F1 at default thresholds: {fmt(default.get('macro_f1'))})"
    rows = [
        (label, c.get("precision"), c.get("recall"), c.get("f1"), c.get("support"), c.get("pr_auc"))
        for label, c in scores.get("per_class", {}).items()
    ]
    header = ("label", "precision", "recall", "F1", "support", "PR-AUC")
    return f"On {scores.get('num_examples')} texts: {summary}.\n\n" + table(header, rows)


def calibration_section(calibration: dict[str, Any]) -> str:
    """Method, temperature(s) and expected calibration error before and after, per split."""
    if not calibration:
        return (
            "## Calibration\n\nNo calibration was fitted (calibration.json is absent); probabilities are raw."
        )
    ece = calibration.get("ece", {})
    rows = [(split, pair.get("before"), pair.get("after")) for split, pair in ece.items()]
    temps = ", ".join(f"{t:.3f}" for t in calibration.get("temperature", []))
    return (
        f"## Calibration\n\nMethod `{calibration.get('method')}` fitted on "
        f"{calibration.get('fitted_on', 'dev')}"
        f" (temperature {temps}). Expected calibration error (lower is better):\n\n"
        + table(("split", "ECE before", "ECE after"), rows)
    )


def fmt(value: Any) -> str:
    return "–" if value is None else f"{float(value):.3f}"
