"""The terminal view of an explanation: the text with its top words marked, then a table of scores.

It shows the user's own text back to them (an interactive command); nothing here logs. Marks: with
colour, green for words toward the label and red for words against it, dim for words the model never
saw; without colour, ``[word]`` toward, ``{word}`` against, and ``<<not seen>>`` where the unseen part
begins.
"""

from __future__ import annotations

from mindscreen.explain.result import Explanation, LabelExplanation, WordScore

_GREEN, _RED, _DIM, _BOLD, _RESET = "\033[42;30m", "\033[41;37m", "\033[2m", "\033[1m", "\033[0m"


def render_explanation(text: str, explanation: Explanation, top: int = 5, color: bool = False) -> str:
    """The decision, then per explained label the marked text and a table of its ``top`` words each way."""
    decision = explanation.decision
    lines = [
        f"labels: {', '.join(decision.get('labels', [])) or '-'}   risk: {decision.get('risk', '-')}   "
        f"stage: {explanation.stage}   needs_review: {decision.get('needs_review', False)}"
        + (f" ({', '.join(decision['review_reasons'])})" if decision.get("review_reasons") else "")
    ]
    for start, end in explanation.crisis_phrases:
        lines.append(f"crisis phrase at characters {start}-{end}: {text[start:end]!r} (the lexicon's rule)")
    for label in explanation.labels:
        lines += ["", _heading(label, color), mark_text(text, label, top, color), *_table(text, label, top)]
    return "\n".join(lines)


def _heading(label: LabelExplanation, color: bool) -> str:
    name = f"{_BOLD}{label.label}{_RESET}" if color else label.label
    note = f"\n  note: {label.note}" if label.note else ""
    return f"{name}: probability {label.probability:.3f}, explained by {label.method}{note}"


def mark_text(text: str, label: LabelExplanation, top: int = 5, color: bool = False) -> str:
    """``text`` with the ``top`` words toward and against ``label`` marked, and the unseen part shown."""
    toward = {(w.start, w.end) for w in label.top(top, 1)}
    against = {(w.start, w.end) for w in label.top(top, -1)}
    first_unseen = next((w.start for w in label.words if not w.seen), None)
    parts, last = [], 0
    for word in label.words:
        span = (word.start, word.end)
        parts.append(text[last : word.start])
        if word.start == first_unseen and not color:
            parts.append("<<not seen>> ")
        parts.append(_mark(text[word.start : word.end], span in toward, span in against, word, color))
        last = word.end
    parts.append(text[last:])
    return "".join(parts)


def _mark(piece: str, toward: bool, against: bool, word: WordScore, color: bool) -> str:
    if color:
        style = _GREEN if toward else _RED if against else _DIM if not word.seen else ""
        return f"{style}{piece}{_RESET}" if style else piece
    return f"[{piece}]" if toward else f"{{{piece}}}" if against else piece


def _table(text: str, label: LabelExplanation, top: int) -> list[str]:
    rows = [("toward", w) for w in label.top(top, 1)] + [("against", w) for w in label.top(top, -1)]
    unseen = sum(not w.seen for w in label.words)
    lines = [f"  {'':8}{'score':>9}  {'characters':>11}  word"]
    for side, word in rows:
        assert word.score is not None
        where = f"{word.start}-{word.end}"
        lines.append(f"  {side:8}{word.score:+9.4f}  {where:>11}  {text[word.start : word.end]}")
    if not rows:
        lines.append("  (no seen word moved this probability)")
    if unseen:
        lines.append(f"  {unseen} words past the model's input length were not seen: no score")
    return lines
