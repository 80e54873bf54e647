"""The audit's findings as one JSON-ready object, and its console summary.

Both hold counts, label names, scores and row numbers (per file, data rows from 1, header not
counted), never a text: the console and ``audit.json`` may end up in logs and tickets. Only
``audit.html`` (:mod:`~mindscreen.audit.html`) shows texts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mindscreen.data.errors import ROW_CONVENTION

JSON_FILE = "audit.json"
ROWS_SHOWN = 10


@dataclass(frozen=True)
class AuditReport:
    """Everything one audit found, as plain JSON-ready values (see ``docs/audit.md``).

    Attributes:
        findings: the ``audit.json`` content: ``data``, ``splits``, ``task``, ``labels``,
            ``settings``, ``text_problems``, ``label_problems``, ``class_balance``,
            ``label_shift``, ``lengths``, ``duplicates``, ``label_issues``, ``seconds``.
    """

    findings: dict[str, Any]

    @property
    def leakage_rows(self) -> int:
        """Rows of later splits with an exact or near duplicate in an earlier split."""
        return sum(pair["exact_or_near_rows"] for pair in self.findings["duplicates"]["leakage"])

    @property
    def conflicting_groups(self) -> int:
        """Exact-duplicate groups whose copies carry different labels."""
        return int(self.findings["duplicates"]["exact"]["conflicting_groups"])

    @property
    def blocking(self) -> bool:
        """Whether ``--strict`` fails: leakage between splits or conflicting exact duplicates."""
        return self.leakage_rows > 0 or self.conflicting_groups > 0

    def write_json(self, path: str | Path) -> None:
        """Write :attr:`findings` as indented JSON."""
        Path(path).write_text(json.dumps(self.findings, indent=2) + "\n", encoding="utf-8")

    def format(self) -> str:
        """The console summary: counts and row numbers, at most ten rows per list."""
        f = self.findings
        sizes = ", ".join(f"{name} {split['rows']}" for name, split in f["splits"].items())
        lines = [f"audit of {f['data']}: {sizes} rows ({describe_task(f)}); rows: {ROW_CONVENTION}"]
        lines += _problem_lines("Text problems", f["text_problems"])
        lines += _problem_lines("Label problems", f["label_problems"])
        lines += _duplicate_lines(f["duplicates"])
        lines += _label_issue_lines(f["label_issues"])
        lines += _balance_lines(f["class_balance"], f["label_shift"])
        lines += _length_lines(f["lengths"])
        return "\n".join(lines)


def describe_task(findings: dict[str, Any]) -> str:
    """``multi-label, 6 labels`` or ``no labels``."""
    if findings["task"] == "unlabelled":
        return "no labels"
    return f"{findings['task']}, {len(findings['labels'])} labels"


def list_rows(rows: dict[str, list[int]], limit: int = ROWS_SHOWN) -> str:
    """``train rows 3, 8 and 40 more; dev row 7``: at most ``limit`` numbers per split."""
    parts = []
    for split, numbers in rows.items():
        shown = ", ".join(str(number) for number in numbers[:limit])
        more = f" and {len(numbers) - limit} more" if len(numbers) > limit else ""
        parts.append(f"{split} row{'s' if len(numbers) > 1 else ''} {shown}{more}")
    return "; ".join(parts)


def _problem_lines(title: str, problems: dict[str, dict[str, list[int]]]) -> list[str]:
    if not problems:
        return [f"\n{title}: none"]
    lines = [f"\n{title}:"]
    for problem, rows in problems.items():
        lines.append(f"  {problem}: {sum(map(len, rows.values()))} ({list_rows(rows)})")
    return lines


def _duplicate_lines(duplicates: dict[str, Any]) -> list[str]:
    exact, near = duplicates["exact"], duplicates["near"]
    within = ", ".join(f"{s} {n}" for s, n in exact["extra_copies_within_split"].items() if n) or "none"
    lines = [
        f"\nDuplicates (exact: {exact['definition']}):",
        f"  groups {exact['groups']}, extra copies {exact['extra_copies']}; within a split: {within}",
        f"  groups with conflicting labels: {exact['conflicting_groups']}",
    ]
    for group in [g for g in exact["list"] if g["conflicting"]][:ROWS_SHOWN]:
        lines.append(f"    {list_rows(group['rows'])}: {' vs '.join('|'.join(ls) for ls in group['labels'])}")
    lines.append(
        f"  near-duplicates ({near['definition']}): groups {near['groups']}, rows {near['rows']}, "
        f"groups with different labels {near['conflicting_groups']}"
    )
    for pair in duplicates["leakage"]:
        lines.append(
            f"  leakage {pair['from']} -> {pair['to']}: shared texts {pair['exact_texts']}, "
            f"{pair['to']} rows {pair['exact_rows']} (exact or near: {pair['exact_or_near_rows']})"
        )
    return lines


def _label_issue_lines(issues: dict[str, Any]) -> list[str]:
    if issues.get("skipped"):
        return [f"\nLikely label errors: not checked ({issues['skipped']})"]
    per_split = ", ".join(f"{s} {n}" for s, n in issues["flagged_per_split"].items())
    share = issues["flagged"] / max(issues["checked_rows"], 1)
    lines = [
        f"\nLikely label errors ({issues['method']}): {issues['flagged']} of {issues['checked_rows']} rows "
        f"flagged for review ({share:.1%}; {per_split}). The model's out-of-fold accuracy is "
        f"{issues['model_accuracy']}: the weaker the model, the more flags are hard texts rather than "
        "wrong labels; review from the top (lowest label quality first)"
    ]
    for row in issues["list"][:ROWS_SHOWN]:
        lines.append(
            f"  {row['split']} row {row['row']}: given {'|'.join(row['given']) or '(none)'}, "
            f"model says {'|'.join(row['suggested']) or '(none)'} (quality {row['quality']:.3f})"
        )
    if len(issues["list"]) > ROWS_SHOWN:
        lines.append(f"  and {len(issues['list']) - ROWS_SHOWN} more (audit.json, audit.html)")
    return lines


def _balance_lines(balance: dict[str, Any], shift: dict[str, float]) -> list[str]:
    if not balance:
        return []
    lines = ["\nClass balance:"]
    for split, row in balance.items():
        counts = sorted(row["counts"].items(), key=lambda item: -item[1])
        listed = counts if len(counts) <= 6 else [*counts[:3], ("...", ""), *counts[-3:]]
        shown = ", ".join(f"{label} {count}".strip() for label, count in listed)
        absent = f"; absent: {', '.join(row['absent_labels'])}" if row["absent_labels"] else ""
        move = f"; largest share shift from train {shift[split]:.3f}" if split in shift else ""
        lines.append(f"  {split}: {shown}; imbalance {row['imbalance_ratio']}:1{absent}{move}")
    return lines


def _length_lines(lengths: dict[str, Any]) -> list[str]:
    if not lengths:
        return []
    limits = lengths["max_lengths"]
    head = " ".join(f"{'>' + str(limit):>14}" for limit in limits)
    lines = [
        f"\nToken lengths ({lengths['encoder']} tokenizer, special tokens included):",
        f"  {'split':10} {'p50':>5} {'p90':>5} {'p99':>5} {'max':>6} {head}",
    ]
    for split, row in lengths["splits"].items():
        if not row.get("texts"):
            continue
        cut = " ".join(
            f"{row['truncated'][str(limit)]['share']:>7.1%} ({row['truncated'][str(limit)]['rows']:>4})"
            for limit in limits
        )
        lines.append(f"  {split:10} {row['p50']:>5} {row['p90']:>5} {row['p99']:>5} {row['max']:>6} {cut}")
    return lines
