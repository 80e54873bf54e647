"""What each split holds: rows with text or label problems, and the class balance.

Everything here is counts, label names and row numbers (per file, from 1), never a text.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from mindscreen.audit.table import AuditData, AuditSplit
from mindscreen.data.quality import TEXT_PROBLEMS

LABEL_PROBLEMS = {
    "no_label": "no readable label (empty, null, or not a label name or 0/1 flag)",
    "not_one_label": "several labels, or none, in a multi-class task",
    "unknown_to_train": "a label that no train row carries",
}


def text_problems(data: AuditData) -> dict[str, dict[str, list[int]]]:
    """Row numbers by problem (:data:`~mindscreen.data.quality.TEXT_PROBLEMS`) and split."""
    found: dict[str, dict[str, list[int]]] = {problem: {} for problem in TEXT_PROBLEMS}
    for split in data.splits:
        for row, problem in enumerate(split.problems, start=1):
            if problem is not None:
                found[problem].setdefault(split.name, []).append(row)
    return {problem: rows for problem, rows in found.items() if rows}


def label_problems(data: AuditData) -> dict[str, dict[str, list[int]]]:
    """Row numbers by label problem (:data:`LABEL_PROBLEMS`) and split; empty for unlabelled data."""
    if not data.labelled:
        return {}
    train = next((split for split in data.splits if split.name == "train"), None)
    known = _labels_in(train) if train is not None else set(data.label_names)
    found: dict[str, dict[str, list[int]]] = {problem: {} for problem in LABEL_PROBLEMS}
    for split in data.splits:
        for row, labels in enumerate(split.labels, start=1):
            problem = _label_problem(labels, known, data.multi_label)
            if problem is not None:
                found[problem].setdefault(split.name, []).append(row)
    return {problem: rows for problem, rows in found.items() if rows}


def _label_problem(labels: tuple[str, ...] | None, known: set[str], multi_label: bool) -> str | None:
    if labels is None:
        return "no_label"
    if not multi_label and len(labels) != 1:
        return "not_one_label"
    if any(label not in known for label in labels):
        return "unknown_to_train"
    return None


def _labels_in(split: AuditSplit) -> set[str]:
    return {label for labels in split.labels if labels for label in labels}


def class_balance(data: AuditData) -> dict[str, Any]:
    """Per split: rows, rows per label and their share, the imbalance ratio, absent labels.

    The imbalance ratio is the count of the most common label over that of the rarest label the
    split has; labels of the label set that the split lacks are listed apart. For multi-label
    data, ``no_label_rows`` counts rows that carry no label at all.
    """
    if not data.labelled:
        return {}
    balance: dict[str, Any] = {}
    for split in data.splits:
        rows = [labels for labels in split.labels if labels is not None]
        counts = Counter(label for labels in rows for label in labels)
        present = [counts[name] for name in data.label_names if counts[name]]
        balance[split.name] = {
            "rows": len(split.labels),
            "labelled_rows": len(rows),
            "counts": {name: counts[name] for name in data.label_names},
            "shares": {name: round(counts[name] / max(len(rows), 1), 4) for name in data.label_names},
            "imbalance_ratio": round(max(present) / min(present), 2) if present else None,
            "absent_labels": [name for name in data.label_names if not counts[name]],
        }
        if data.multi_label:
            balance[split.name]["no_label_rows"] = sum(not labels for labels in rows)
            balance[split.name]["labels_per_row"] = round(sum(map(len, rows)) / max(len(rows), 1), 3)
    return balance


def shift_between_splits(balance: dict[str, Any], label_names: list[str]) -> dict[str, float]:
    """Per split other than train: the largest absolute difference of a label's share from train's.

    A large shift means dev/test scores measure a different mix than the model learns from.
    """
    if "train" not in balance:
        return {}
    train = balance["train"]["shares"]
    return {
        name: round(
            max((abs(split["shares"][label] - train[label]) for label in label_names), default=0.0), 4
        )
        for name, split in balance.items()
        if name != "train"
    }
