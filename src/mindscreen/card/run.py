"""The model card of a run directory, built from its JSON files (no texts ever reach it).

Sections: model details, intended and out-of-scope use, the training data profile, per-class test
metrics with support, calibration, the threshold decisions, known failure modes found on dev (the
rarest classes, the weakest classes, long texts) and the limits of the evaluation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mindscreen.card.markdown import (
    CARD_FILE,
    INTENDED_USE,
    OUT_OF_SCOPE,
    limits_section,
    render,
    table,
    wilson_interval,
)
from mindscreen.card.sections import calibration_section, fmt, per_class_table
from mindscreen.rundir import CALIBRATION_FILE, CONFIG_FILE, METRICS_FILE, PROFILE_FILE, THRESHOLDS_FILE

RAREST = 2  # how many of the rarest classes the failure modes name


def write_run_card(run_dir: Path) -> Path:
    """Write ``README.md`` into a finished run directory and return its path."""
    run_dir = Path(run_dir)
    files = _read_run(run_dir)
    model, metrics = files["model.json"], files[METRICS_FILE]
    headline = metrics.get("test") or metrics.get("dev") or {}
    sections = [
        f"# {run_dir.name}\n\nA mindscreen text classifier ({_task(model)}; labels: "
        f"{', '.join(model['labels'])}). This card is generated from the run directory at the end of "
        "training; regenerate it with `mindscreen card RUN`.",
        _details(model, files[CONFIG_FILE]),
        INTENDED_USE,
        OUT_OF_SCOPE,
        _data(files[PROFILE_FILE].get("profile", {}), model),
        _evaluation(metrics),
        calibration_section(files[CALIBRATION_FILE]),
        _thresholds(files[THRESHOLDS_FILE]),
        _failure_modes(files[PROFILE_FILE].get("profile", {}), metrics, model),
        limits_section(_support_limits(headline)),
    ]
    card = run_dir / CARD_FILE
    card.write_text(render(run_metadata(run_dir.name, model, headline), sections))
    return card


def run_metadata(name: str, model: dict[str, Any], headline: dict[str, Any]) -> dict[str, Any]:
    """The card's YAML metadata: library, tags and a ``model-index`` with the headline scores."""
    metadata: dict[str, Any] = {
        "library_name": "mindscreen",
        "pipeline_tag": "text-classification",
        "tags": ["mindscreen", "text-classification", "mental-health", _task(model).replace("-", "_")],
        "license": "other",
    }
    source = str(model.get("encoder_source", ""))
    if source.count("/") == 1 and not Path(source).exists():  # a hub id, not a local folder
        metadata["base_model"] = source
    scores = [
        {"type": kind, "name": key.replace("_", " "), "value": round(float(headline[key]), 4)}
        for key, kind in (("macro_f1", "f1"), ("micro_f1", "f1"), ("accuracy", "accuracy"))
        if headline.get(key) is not None
    ]
    if scores:
        metadata["model-index"] = [
            {
                "name": name,
                "results": [
                    {
                        "task": {"type": "text-classification", "name": "Text classification"},
                        "dataset": {"type": "custom", "name": "held-out split of the training data"},
                        "metrics": scores,
                    }
                ],
            }
        ]
    return metadata


def _read_run(run_dir: Path) -> dict[str, Any]:
    from mindscreen.rundir import read_json

    found: dict[str, Any] = {}
    for name in ("model.json", METRICS_FILE, PROFILE_FILE, THRESHOLDS_FILE, CALIBRATION_FILE):
        found[name] = read_json(run_dir / name) if (run_dir / name).is_file() else {}
    config = run_dir / CONFIG_FILE
    found[CONFIG_FILE] = (yaml.safe_load(config.read_text()) or {}) if config.is_file() else {}
    return found


def _task(model: dict[str, Any]) -> str:
    return "multi-label" if model.get("multi_label") else "multi-class"


def _details(model: dict[str, Any], config: dict[str, Any]) -> str:
    train = config.get("train", {})
    loss = train.get("loss", {})
    rows = [
        ("encoder", model.get("encoder_source")),
        ("pooling", model.get("pooling")),
        ("head", f"{model.get('head_blocks')} residual block(s), width {model.get('head_hidden')}"),
        ("max length (tokens)", model.get("max_length")),
        ("task", _task(model)),
        ("loss", loss.get("name") if isinstance(loss, dict) else loss),
        ("epochs, learning rate", f"{train.get('epochs')}, {train.get('lr')}"),
        ("seed", train.get("seed")),
    ]
    return "## Model details\n\n" + table(("setting", "value"), rows)


def _data(profile: dict[str, Any], model: dict[str, Any]) -> str:
    if not profile:
        return "## Training data\n\nThe run directory holds no data profile (profile.json)."
    counts = profile.get("class_counts", {})
    splits = list(counts)
    rows = [(label, *(counts[s].get(label) for s in splits)) for label in model["labels"]]
    tokens = profile.get("tokens", {})
    quantiles = tokens.get("quantiles", {})
    lines = [
        "## Training data",
        "",
        "Counts only; the card never holds a text. Rows per split: "
        + ", ".join(f"{k} {v}" for k, v in profile.get("rows", {}).items())
        + f". Imbalance ratio (largest / smallest class in train): {fmt(profile.get('imbalance_ratio'))}.",
        "",
        table(("label", *splits), rows),
    ]
    if quantiles:
        lines += [
            "",
            f"Training texts in tokens: median {quantiles.get('p50')}, 90th percentile "
            f"{quantiles.get('p90')}, longest {quantiles.get('max')}; the model reads the first "
            f"{model.get('max_length')}.",
        ]
    duplicates = {k: v for k, v in profile.get("duplicates", {}).items() if v}
    if duplicates:
        lines += ["", "Duplicates found: " + ", ".join(f"{k} {v}" for k, v in duplicates.items()) + "."]
    return "\n".join(lines)


def _evaluation(metrics: dict[str, Any]) -> str:
    split = "test" if "test" in metrics else "dev"
    scores = metrics.get(split, {})
    if not scores:
        return "## Evaluation\n\nNo dev or test metrics were recorded."
    return f"## Evaluation ({split})\n\n" + per_class_table(
        scores, metrics.get(f"{split}_default_thresholds")
    )


def _thresholds(payload: dict[str, Any]) -> str:
    labels, values = payload.get("labels", []), payload.get("thresholds", [])
    check = payload.get("check") or {}
    classes, kept = (
        check.get("classes", {}),
        set(check.get("kept", labels if payload.get("fitted_on_dev") else [])),
    )
    rows = [
        (
            label,
            value,
            "fitted on dev" if label in kept else "default",
            classes.get(label, {}).get("oof_f1_fitted"),
            classes.get(label, {}).get("oof_f1_default"),
            classes.get(label, {}).get("win_rate"),
        )
        for label, value in zip(labels, values, strict=True)
    ]
    how = (
        f"A fitted threshold is kept only where its out-of-fold F1 on dev ({check.get('folds')} folds) beats "
        f"the default in at least {fmt(check.get('confidence'))} of bootstrap resamples."
        if check
        else "Thresholds were fitted on all of dev without an out-of-fold check."
        if payload.get("fitted_on_dev")
        else "Default thresholds (no fitting)."
    )
    header = ("label", "threshold", "decision", "out-of-fold F1 fitted", "default", "win rate")
    return "## Decision thresholds\n\n" + how + "\n\n" + table(header, rows)


def _failure_modes(profile: dict[str, Any], metrics: dict[str, Any], model: dict[str, Any]) -> str:
    lines = ["## Known failure modes (found on dev)", ""]
    dev = metrics.get("dev", {}).get("per_class", {})
    train_counts = profile.get("class_counts", {}).get("train", {})
    if train_counts and dev:
        for label in sorted(train_counts, key=train_counts.__getitem__)[:RAREST]:
            scores = dev.get(label, {})
            lines.append(
                f"- Rare class **{label}**: {train_counts[label]} training texts; on dev F1 "
                f"{fmt(scores.get('f1'))}, recall {fmt(scores.get('recall'))} "
                f"over {scores.get('support')} texts."
            )
    if dev:
        weakest = min(dev, key=lambda label: dev[label].get("f1") or 0.0)
        lines.append(f"- Weakest class on dev: **{weakest}** (F1 {fmt(dev[weakest].get('f1'))}).")
    lines.append(_length_line(metrics.get("dev_slices", {}).get("length"), model))
    return "\n".join(lines)


def _length_line(length: dict[str, Any] | None, model: dict[str, Any]) -> str:
    if not length:
        return "- Long texts: not measured for this run."
    cut, whole = length["cut"], length["whole"]
    quarter, rest = length["longest_quarter"], length["rest"]
    line = (
        f"- Long texts: {cut['texts']} dev texts are longer than the {length['max_length']} tokens the model "
        "reads and are cut"
    )
    line += (
        f" (macro F1 {fmt(cut['macro_f1'])} on them against {fmt(whole.get('macro_f1'))} on whole texts)."
        if "macro_f1" in cut
        else " (too few to score)."
    )
    if "macro_f1" in quarter and "macro_f1" in rest:
        line += (
            f" The longest quarter of dev (from {quarter['min_tokens']} tokens) scores macro F1 "
            f"{fmt(quarter['macro_f1'])} against {fmt(rest['macro_f1'])} for the rest."
        )
    return line


def _support_limits(headline: dict[str, Any]) -> list[str]:
    lines = []
    for label, scores in headline.get("per_class", {}).items():
        support, recall = int(scores.get("support") or 0), scores.get("recall")
        if 0 < support < 50 and recall is not None:
            low, high = wilson_interval(round(recall * support), support) or (0.0, 1.0)
            lines.append(
                f"**{label}** has {support} held-out texts: its recall of {recall:.2f} is only known to lie "
                f"between {low:.2f} and {high:.2f} (95% Wilson interval)."
            )
    return lines
