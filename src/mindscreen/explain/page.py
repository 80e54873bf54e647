"""One self-contained HTML page of explanations: each text with its words shaded by their scores.

Inline CSS, no scripts, no external links; every piece of text is escaped. The page quotes the texts:
it is for the data's owner, to be kept and shared like the data itself. Green shading moves the
explained probability toward the label, red away from it, in proportion to the largest score of that
explanation (hover for the score); grey dotted words were never seen by the model; a box marks a
crisis-lexicon phrase.
"""

from __future__ import annotations

import html
from pathlib import Path

from mindscreen.explain.result import Explanation, LabelExplanation
from mindscreen.explain.words import Span

STYLE = """
.explained { white-space: pre-wrap; line-height: 1.7; border-left: 3px solid #ccc; padding: 0.2em 0.8em; }
.explained .unseen { color: #888; text-decoration: underline dotted; }
.explained .phrase { outline: 2px solid #7b1fa2; border-radius: 2px; }
.meta { color: #555; font-size: 0.9em; margin: 0.6em 0 0.2em; }
"""
_PAGE_STYLE = "body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 960px; color: #222; }"
CAVEAT = (
    "Scores show which words moved the model's probability, not why the person wrote them, and not "
    "what a clinician would read in them."
)


def highlight(text: str, label: LabelExplanation, phrases: list[Span] | None = None) -> str:
    """``text`` as escaped HTML with every word shaded by its score for ``label``."""
    scale = max((abs(w.score) for w in label.words if w.score is not None), default=0.0) or 1.0
    phrases = phrases or []
    parts, last = [], 0
    for word in label.words:
        parts.append(html.escape(text[last : word.start]))
        piece = html.escape(text[word.start : word.end])
        classes = ["phrase"] if any(s <= word.start < e for s, e in phrases) else []
        if word.score is None:
            classes.append("unseen")
            parts.append(f"<span class='{' '.join(classes)}' title='not seen by the model'>{piece}</span>")
        else:
            alpha = min(1.0, abs(word.score) / scale) * 0.75
            colour = f"rgba(46,160,67,{alpha:.2f})" if word.score > 0 else f"rgba(215,58,73,{alpha:.2f})"
            css = f" class='{' '.join(classes)}'" if classes else ""
            parts.append(f"<span{css} style='background:{colour}' title='{word.score:+.4f}'>{piece}</span>")
        last = word.end
    parts.append(html.escape(text[last:]))
    return f"<div class='explained'>{''.join(parts)}</div>"


def explanation_html(text: str, explanation: Explanation, heading: str = "") -> str:
    """One text: its decision, then one highlighted copy per explained label."""
    decision = explanation.decision
    parts = [f"<h3>{html.escape(heading)}</h3>" if heading else ""]
    parts.append(
        f"<p class='meta'>labels: {html.escape(', '.join(decision.get('labels', [])) or '-')}; "
        f"risk {html.escape(str(decision.get('risk', '-')))}; stage {html.escape(explanation.stage)}"
        + ("; crisis phrase" if explanation.crisis_phrases else "")
        + "</p>"
    )
    for label in explanation.labels:
        note = f" ({html.escape(label.note)})" if label.note else ""
        parts.append(
            f"<p class='meta'><b>{html.escape(label.label)}</b>: probability {label.probability:.3f}, "
            f"{html.escape(label.method)}{note}</p>"
        )
        parts.append(highlight(text, label, explanation.crisis_phrases))
    return "\n".join(parts)


def explanations_page(texts: list[str], explanations: list[Explanation], title: str = "explanations") -> str:
    """The whole page (see the module docstring)."""
    body = [
        explanation_html(text, explanation, f"text {i}")
        for i, (text, explanation) in enumerate(zip(texts, explanations, strict=True))
    ]
    return "\n".join(
        [
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
            f"<title>mindscreen {html.escape(title)}</title><style>{_PAGE_STYLE}{STYLE}</style></head><body>",
            f"<h1>mindscreen {html.escape(title)}</h1>",
            "<p class='meta'>Green: toward the label; red: against it; grey dotted: not seen by the model; "
            f"boxed: a crisis-lexicon phrase. {html.escape(CAVEAT)} This page quotes the texts: keep it "
            "as you keep the data.</p>",
            *body,
            "</body></html>",
        ]
    )


def write_page(path: str | Path, texts: list[str], explanations: list[Explanation], title: str = "") -> None:
    """Write :func:`explanations_page` to ``path`` (UTF-8)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(explanations_page(texts, explanations, title or "explanations"), encoding="utf-8")
