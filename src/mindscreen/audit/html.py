"""``audit.html``: the audit as one self-contained page that shows the texts, for the data's owner.

Everything is inline (CSS in a ``<style>`` tag, no script, no image, no external link), and every
text, label and file name is HTML-escaped, so a text holding markup or a script shows as text.
The page says at the top that it holds the texts and should stay on the owner's machine. Long
lists stop at :data:`ITEMS_SHOWN` entries; ``audit.json`` has them all.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mindscreen.audit.report import AuditReport, describe_task
from mindscreen.audit.table import AuditData
from mindscreen.data.errors import ROW_CONVENTION
from mindscreen.data.quality import UNUSABLE

HTML_FILE = "audit.html"
ITEMS_SHOWN = 200
TEXT_CHARS = 600
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1150px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
td.num { text-align: right; } .text { white-space: pre-wrap; max-width: 700px; }
.private { background: #fff4e5; border: 2px solid #e08a00; padding: 0.8em 1em; }
.note { color: #555; font-size: 0.9em; }
.bar { display: inline-block; height: 0.8em; background: #4a78b5; }
"""


def write_html(report: AuditReport, data: AuditData, path: str | Path) -> None:
    """Write the page for ``report``, showing the texts of ``data`` (escaped)."""
    f = report.findings
    esc = html.escape
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>mindscreen data audit: {esc(f['data'])}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Data audit: {esc(f['data'])}</h1>",
        "<p class='private'><b>This page shows the texts of the audited data.</b> Keep it on the machine "
        "and in the place where the data itself is allowed to be; do not mail, upload or commit it. "
        "audit.json holds the same findings without any text.</p>",
        f"<p class='note'>{esc(describe_task(f).capitalize())}. Rows are numbered per file, "
        f"{ROW_CONVENTION}. Written {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC.</p>",
        _table(["split", "file", "rows"], [[n, s["source"], s["rows"]] for n, s in f["splits"].items()]),
        "<h2>Text problems</h2>",
        _problem_table(f["text_problems"], data),
        "<h2>Label problems</h2>",
        _problem_table(f["label_problems"], data),
        "<h2>Leakage between splits</h2>",
        _leakage_table(f["duplicates"]["leakage"]),
        f"<h2>Exact duplicates</h2><p class='note'>{esc(f['duplicates']['exact']['definition'])}.</p>",
        _group_table(f["duplicates"]["exact"]["list"], data),
        f"<h2>Near-duplicates</h2><p class='note'>{esc(f['duplicates']['near']['definition'])}.</p>",
        _group_table(f["duplicates"]["near"]["list"], data),
        "<h2>Likely label errors</h2>",
        _issue_table(f["label_issues"], data),
        "<h2>Class balance</h2>",
        _balance_table(f["class_balance"], f["labels"]),
        "<h2>Token lengths</h2>",
        _length_tables(f["lengths"]),
        "</body></html>",
    ]
    Path(path).write_text("\n".join(parts), encoding="utf-8")


def _table(head: list[str], rows: list[list[Any]], numeric: set[int] | None = None) -> str:
    """A table; every cell escaped, except :class:`_Markup` cells (built here from escaped parts)."""
    cells = "".join(f"<th>{html.escape(str(title))}</th>" for title in head)
    body = [f"<table><tr>{cells}</tr>"]
    for row in rows:
        body.append(
            "<tr>" + "".join(_cell(value, j in (numeric or set())) for j, value in enumerate(row)) + "</tr>"
        )
    return "".join(body) + "</table>"


def _cell(value: Any, numeric: bool) -> str:
    if isinstance(value, _Markup):
        return f"<td class='text'>{value.html}</td>"
    return f"<td{' class=num' if numeric else ''}>{html.escape(str(value))}</td>"


@dataclass(frozen=True)
class _Markup:
    """HTML built here from escaped parts, placed in a cell as is."""

    html: str


def _text(data: AuditData, split: str, row: int) -> _Markup:
    """The escaped text of a row, cut to :data:`TEXT_CHARS` characters; its problem if it has no text."""
    source = next(s for s in data.splits if s.name == split)
    text, problem = source.texts[row - 1], source.problems[row - 1]
    if problem in UNUSABLE:
        return _Markup(f"<span class='note'>({html.escape(problem)})</span>")
    cut = (
        f"<span class='note'> ... ({len(text) - TEXT_CHARS} more characters)</span>"
        if len(text) > TEXT_CHARS
        else ""
    )
    return _Markup(html.escape(text[:TEXT_CHARS]) + cut)


def _more(total: int) -> str:
    return f"<p class='note'>{total - ITEMS_SHOWN} more in audit.json.</p>" if total > ITEMS_SHOWN else ""


def _problem_table(problems: dict[str, dict[str, list[int]]], data: AuditData) -> str:
    rows = [
        [split, row, problem, _text(data, split, row)]
        for problem, by_split in problems.items()
        for split, numbers in by_split.items()
        for row in numbers
    ]
    if not rows:
        return "<p>None.</p>"
    return _table(["split", "row", "problem", "text"], rows[:ITEMS_SHOWN], {1}) + _more(len(rows))


def _leakage_table(leakage: list[dict[str, Any]]) -> str:
    if not leakage:
        return "<p>Only one split.</p>"
    head = ["earlier split", "later split", "shared texts", "later rows: exact", "later rows: exact or near"]
    rows = [[p["from"], p["to"], p["exact_texts"], p["exact_rows"], p["exact_or_near_rows"]] for p in leakage]
    return _table(head, rows, {2, 3, 4})


def _group_table(groups: list[dict[str, Any]], data: AuditData) -> str:
    if not groups:
        return "<p>None.</p>"
    rows = []
    for number, group in enumerate(groups[:ITEMS_SHOWN], start=1):
        labels = " vs ".join("|".join(labels) or "(none)" for labels in group["labels"])
        verdict = "conflicting: " + labels if group["conflicting"] else labels
        for split, numbers in group["rows"].items():
            for row in numbers:
                rows.append(
                    [number, split, row, verdict, f"{group['similarity']:.2f}", _text(data, split, row)]
                )
    return _table(["group", "split", "row", "labels", "similarity", "text"], rows, {0, 2}) + _more(
        len(groups)
    )


def _issue_table(issues: dict[str, Any], data: AuditData) -> str:
    if issues.get("skipped"):
        return f"<p>Not checked: {html.escape(issues['skipped'])}.</p>"
    note = (
        f"<p class='note'>{html.escape(issues['method'])}: {issues['flagged']} of {issues['checked_rows']} "
        "rows flagged, lowest label quality first; the model's out-of-fold accuracy is "
        f"{issues['model_accuracy']}. A flag is a row to look at, not a verdict.</p>"
    )
    rows = [
        [
            r["split"],
            r["row"],
            "|".join(r["given"]),
            "|".join(r["suggested"]),
            f"{r['quality']:.3f}",
            _text(data, r["split"], r["row"]),
        ]
        for r in issues["list"][:ITEMS_SHOWN]
    ]
    head = ["split", "row", "given", "model says", "quality", "text"]
    return note + (_table(head, rows, {1, 4}) if rows else "<p>None.</p>") + _more(len(issues["list"]))


def _balance_table(balance: dict[str, Any], labels: list[str]) -> str:
    if not balance:
        return "<p>No labels.</p>"
    splits = list(balance)
    rows = [
        [label, *(f"{balance[s]['counts'][label]} ({balance[s]['shares'][label]:.1%})" for s in splits)]
        for label in labels
    ]
    rows.append(["imbalance (most / rarest)", *(f"{balance[s]['imbalance_ratio']}:1" for s in splits)])
    return _table(["label", *splits], rows, set(range(1, len(splits) + 1)))


def _length_tables(lengths: dict[str, Any]) -> str:
    if not lengths:
        return "<p>Not measured.</p>"
    limits = [str(limit) for limit in lengths["max_lengths"]]
    stats = ("texts", "mean", "p50", "p90", "p95", "p99", "max")
    head = ["split", *stats, *(f"cut at {limit}" for limit in limits)]
    rows = [
        [
            split,
            *(row[key] for key in stats),
            *(
                f"{row['truncated'][limit]['share']:.1%} ({row['truncated'][limit]['rows']})"
                for limit in limits
            ),
        ]
        for split, row in lengths["splits"].items()
        if row.get("texts")
    ]
    note = f"<p class='note'>Tokenizer of {html.escape(lengths['encoder'])}, special tokens included.</p>"
    return note + _table(head, rows, set(range(1, len(head)))) + _histograms(lengths["splits"])


def _histograms(splits: dict[str, Any]) -> str:
    parts = []
    for split, row in splits.items():
        if not row.get("texts"):
            continue
        edges, counts = row["histogram"]["edges"], row["histogram"]["counts"]
        top = max(counts) or 1
        bars = [
            [
                f"{edges[i]}-{edges[i + 1] - 1}",
                count,
                _Markup(f"<span class='bar' style='width:{round(300 * count / top)}px'></span>"),
            ]
            for i, count in enumerate(counts)
        ]
        parts.append(
            f"<h3>{html.escape(split)}: tokens per text</h3>" + _table(["tokens", "texts", ""], bars, {1})
        )
    return "".join(parts)
