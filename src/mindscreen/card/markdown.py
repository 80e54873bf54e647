"""The pieces every model card shares: YAML front matter, Markdown tables, the use and limits sections.

The layout follows the Hugging Face model card (``README.md`` with YAML metadata between ``---``
lines, then Markdown sections), so the hub, ``huggingface_hub.ModelCard`` and people read it alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

from mindscreen.rundir import CARD_FILE

__all__ = ["CARD_FILE", "front_matter", "read_front_matter", "render", "table"]

INTENDED_USE = """\
## Intended use

A screening aid that sorts short texts (posts, messages, free-text answers) into the labels above so
that trained people read the most urgent ones first. Every decision is meant to be reviewed by a
person: the model suggests, a human decides. Use it on texts like the training data (same language,
platform and length range) and re-check the thresholds on your own labelled sample before relying on
them."""

OUT_OF_SCOPE = """\
## Out-of-scope use

- **Not a diagnostic tool.** A label is a property of a text, not of a person; it does not diagnose a
  condition, estimate risk of harm, or replace a clinical assessment.
- No automated action on a person (blocking, reporting, treatment, insurance or employment decisions)
  without human review.
- Not for texts unlike the training data (other languages, much longer documents, other platforms)
  without a new evaluation.
- A missed crisis text is the costly error: never use a negative prediction as evidence that someone
  is safe."""


def front_matter(metadata: dict[str, Any]) -> str:
    """``metadata`` as the YAML block that opens a Hugging Face model card."""
    return "---\n" + yaml.safe_dump(metadata, sort_keys=False, allow_unicode=True) + "---\n"


def read_front_matter(path: str | Path) -> dict[str, Any]:
    """The YAML metadata of a card (what the hub shows beside it); ``{}`` when it has none."""
    text = Path(path).read_text()
    if not text.startswith("---\n"):
        return {}
    block = text[4 : text.index("\n---\n", 4)]
    loaded = yaml.safe_load(block)
    return loaded if isinstance(loaded, dict) else {}


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A Markdown table; floats shown with 3 decimals, None as an en dash."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value).replace("|", "\\|")


def wilson_interval(successes: int, total: int, z: float = 1.96) -> tuple[float, float] | None:
    """The 95% Wilson score interval of a proportion, or None for ``total == 0``."""
    if total <= 0:
        return None
    share = successes / total
    centre = (share + z * z / (2 * total)) / (1 + z * z / total)
    spread = z * ((share * (1 - share) / total + z * z / (4 * total * total)) ** 0.5) / (1 + z * z / total)
    return max(0.0, centre - spread), min(1.0, centre + spread)


def limits_section(extra: Iterable[str] = ()) -> str:
    """The limits every mindscreen evaluation shares, plus ``extra`` bullet lines."""
    bullets = [
        "Dev and test come from the same source as the training data; scores on other platforms, "
        "populations or periods are unknown until measured there.",
        "Thresholds and calibration are fitted on dev, so dev scores are optimistic; test is the number "
        "to quote.",
        "Labels are annotations of texts, with annotator disagreement the metrics cannot show; a class "
        "with few examples has a wide interval around every score.",
        *extra,
    ]
    return "## Limits of the evaluation\n\n" + "\n".join(f"- {line}" for line in bullets)


def render(metadata: dict[str, Any], sections: Iterable[str]) -> str:
    """The whole card: front matter, then the sections separated by blank lines."""
    return front_matter(metadata) + "\n" + "\n\n".join(s.strip() for s in sections if s.strip()) + "\n"
