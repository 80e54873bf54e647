"""Model cards of ensembles and pipelines, and :func:`write_card` for any model directory.

An ensemble's card lists its members and how they are combined, then the same evaluation, threshold
and limits sections as a run's; a pipeline's card describes its stages, its review policy and the
report it was fitted with. Both read only JSON files, so no text reaches them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mindscreen.card.markdown import CARD_FILE, INTENDED_USE, OUT_OF_SCOPE, limits_section, render, table
from mindscreen.card.run import run_metadata
from mindscreen.card.sections import per_class_table
from mindscreen.rundir import METRICS_FILE, THRESHOLDS_FILE, read_json


def write_card(path: str | Path) -> Path:
    """Write (or rewrite) the card of a run, ensemble or pipeline directory; returns the card's path.

    Raises:
        FileNotFoundError: ``path`` is none of these.
    """
    from mindscreen.card.run import write_run_card
    from mindscreen.ensemble.predictor import is_ensemble_dir
    from mindscreen.pipeline.store import is_pipeline_dir
    from mindscreen.rundir import require_run_dir

    folder = Path(path)
    if is_pipeline_dir(folder):
        return write_pipeline_card(folder)
    if is_ensemble_dir(folder):
        return write_ensemble_card(folder)
    require_run_dir(folder)
    return write_run_card(folder)


def write_ensemble_card(directory: Path) -> Path:
    """Write ``README.md`` into an ensemble directory (after ``build_ensemble``) and return its path."""
    directory = Path(directory)
    ensemble = read_json(directory / "ensemble.json")
    metrics = read_json(directory / METRICS_FILE) if (directory / METRICS_FILE).is_file() else {}
    headline = metrics.get("test") or metrics.get("dev") or {}
    model = {"labels": ensemble["labels"], "multi_label": ensemble["multi_label"]}
    summary = metrics.get("summary", {})
    rows = [
        (
            member["name"],
            member["kind"],
            member.get("weight"),
            member.get("temperature"),
            *(summary.get("members", {}).get(member["name"], {}).get(s) for s in ("dev", "test")),
        )
        for member in ensemble["members"]
    ]
    split = "test" if "test" in metrics else "dev"
    sections = [
        f"# {directory.name}\n\nA mindscreen ensemble of {len(rows)} members combined by "
        f"`{ensemble['method']}` (labels: {', '.join(ensemble['labels'])}). Generated from the ensemble "
        "directory; regenerate with `mindscreen card ENSEMBLE`.",
        "## Members\n\n"
        + table(
            ("member", "kind", "weight", "temperature", f"dev {metrics.get('primary_metric')}", "test"),
            rows,
        )
        + "\n\nEach member run has its own card (README.md in its run directory) with its data profile.",
        INTENDED_USE,
        OUT_OF_SCOPE,
        f"## Evaluation ({split})\n\n" + per_class_table(headline) if headline else "",
        _threshold_list(read_json(directory / THRESHOLDS_FILE)),
        limits_section(
            ["The combination weights and thresholds are fitted on dev; compare with the members on test."]
        ),
    ]
    card = directory / CARD_FILE
    card.write_text(render(run_metadata(directory.name, model, headline), sections))
    return card


def write_pipeline_card(directory: Path) -> Path:
    """Write ``README.md`` into a pipeline directory (after ``fit_pipeline``) and return its path."""
    directory = Path(directory)
    state = read_json(directory / "pipeline.json")
    report_file = directory / "report.json"
    report = read_json(report_file) if report_file.is_file() else {}
    model = {"labels": state["labels"], "multi_label": state["multi_label"]}
    stages = [
        ("1 crisis lexicon", "on" if state.get("lexicon") else "off"),
        ("1 linear screen", f"cutoff {state.get('cutoff')}" if state.get("screen") else "off"),
        ("2 model", Path(state["model"]).name),
        ("review band", state.get("review", {}).get("abstain_band")),
        ("critical labels", ", ".join(state.get("critical_labels", [])) or "none"),
        ("recall floor", report.get("recall_floor")),
    ]
    rows = []
    for split in ("dev", "test"):
        row = report.get(split, {}).get("pipeline")
        if row:
            recalls = ", ".join(
                f"{k} {v:.3f}" for k, v in row.get("critical_recall", {}).items() if v is not None
            )
            rows.append(
                (split, row["num_texts"], row["macro_f1"], recalls, row["screen_share"], row["review_share"])
            )
    sections = [
        f"# {state.get('name')} ({state.get('version')})\n\nA mindscreen screening pipeline (labels: "
        f"{', '.join(state['labels'])}). Generated from the pipeline directory; regenerate with "
        "`mindscreen card PIPELINE`. The stage-2 model's own card lies in its directory.",
        "## Stages and policy\n\n" + table(("setting", "value"), stages),
        INTENDED_USE,
        OUT_OF_SCOPE,
        "## Evaluation\n\n"
        + table(
            ("split", "texts", "macro F1", "critical recall", "decided at stage 1", "sent to review"), rows
        ),
        _threshold_list({"labels": state["labels"], "thresholds": state["thresholds"]}),
        limits_section(
            [
                "Critical-label thresholds are lowered on dev to meet the recall floor; "
                "test shows whether it holds."
            ]
        ),
    ]
    headline = {
        k: v
        for k, v in report.get("test", report.get("dev", {})).get("pipeline", {}).items()
        if k == "macro_f1"
    }
    card = directory / CARD_FILE
    card.write_text(render(run_metadata(str(state.get("name")), model, headline), sections))
    return card


def _threshold_list(payload: dict[str, Any]) -> str:
    rows = zip(payload.get("labels", []), payload.get("thresholds", []), strict=False)
    return "## Decision thresholds\n\n" + table(("label", "threshold"), rows)
