"""Reviewers' decisions from a Label Studio JSON export, as a training file and agreement statistics.

Each task's latest annotation that was not cancelled is the reviewers' decision (its ``choices``
result of the ``labels`` control); tasks with none are skipped and counted. The output is JSONL that
``train`` reads: ``{"text", "labels": [...]}`` for multi-label, ``{"text", "label"}`` for multi-class.
Agreement compares the model's labels (kept in the task's ``data.mindscreen``) with the reviewers'.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import cohen_kappa_score

from mindscreen.review.tasks import FROM_NAME, TO_NAME

logger = logging.getLogger(__name__)


def import_review(export_file: str | Path, output: str | Path) -> dict[str, Any]:
    """Write the reviewed texts of a Label Studio JSON export as JSONL; return agreement statistics.

    Returns:
        ``tasks``, ``reviewed``, ``skipped`` (no decision or cancelled), ``changed`` (reviewers' labels
        differ from the model's), ``exact_agreement`` (share of reviewed texts where they match),
        ``by_label`` (per label: model and reviewer counts and Cohen's kappa) and ``by_reason``.

    Raises:
        ValueError: the file is not a Label Studio JSON export (a list of tasks with ``data``).
    """
    tasks = json.loads(Path(export_file).read_text())
    if not isinstance(tasks, list) or not all(isinstance(t, dict) and "data" in t for t in tasks):
        raise ValueError(
            f"{export_file} is not a Label Studio JSON export (expected a list of tasks with 'data'); "
            "export the project as JSON (not JSON-MIN or CSV)"
        )
    rows, pairs, reasons = [], [], []
    for task in tasks:
        decision = _decision(task)
        if decision is None:
            continue
        meta = task["data"].get("mindscreen", {})
        multi_label = bool(meta.get("multi_label", len(decision) != 1))
        text = task["data"][TO_NAME]
        row = {"text": text, "labels": decision} if multi_label else {"text": text, "label": decision[0]}
        rows.append(row)
        pairs.append((list(meta.get("model_labels", [])), decision))
        reasons.append(str(meta.get("reason", "unknown")))
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    stats = agreement(pairs, reasons)
    stats.update(tasks=len(tasks), skipped=len(tasks) - len(rows))
    logger.info("%d of %d tasks reviewed; %d changed by reviewers", len(rows), len(tasks), stats["changed"])
    return stats


def _decision(task: dict[str, Any]) -> list[str] | None:
    """The choices of the task's latest non-cancelled annotation, or None."""
    annotations = [a for a in task.get("annotations", []) if not a.get("was_cancelled")]
    annotations.sort(key=lambda a: str(a.get("updated_at") or a.get("created_at") or ""))
    for annotation in reversed(annotations):
        for result in annotation.get("result", []):
            if result.get("from_name") == FROM_NAME and result.get("type") == "choices":
                choices = list(result.get("value", {}).get("choices", []))
                if choices:
                    return choices
    return None


def agreement(pairs: list[tuple[list[str], list[str]]], reasons: list[str]) -> dict[str, Any]:
    """Model-vs-reviewer agreement over ``(model labels, reviewer labels)`` pairs."""
    labels = sorted({label for pair in pairs for side in pair for label in side})
    same = [set(model) == set(reviewer) for model, reviewer in pairs]
    by_label = {}
    for label in labels:
        model = np.array([label in m for m, _ in pairs], dtype=int)
        reviewer = np.array([label in r for _, r in pairs], dtype=int)
        kappa = float(cohen_kappa_score(model, reviewer)) if len(set(model) | set(reviewer)) > 1 else None
        by_label[label] = {
            "model": int(model.sum()),
            "reviewers": int(reviewer.sum()),
            "kappa": None if kappa is None or math.isnan(kappa) else kappa,
        }
    by_reason: dict[str, dict[str, int]] = {}
    for reason, agreed in zip(reasons, same, strict=True):
        entry = by_reason.setdefault(reason, {"reviewed": 0, "changed": 0})
        entry["reviewed"] += 1
        entry["changed"] += int(not agreed)
    return {
        "reviewed": len(pairs),
        "changed": same.count(False),
        "exact_agreement": sum(same) / len(same) if same else None,
        "by_label": by_label,
        "by_reason": by_reason,
    }
