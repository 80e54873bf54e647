"""Label Studio tasks for the texts a pipeline sends to review.

A task is Label Studio's JSON import format: ``data`` (the text and mindscreen's bookkeeping) and
``predictions`` (pre-annotations: the model's labels as a ``choices`` result, with the model's
confidence as ``score`` so the Data Manager can sort by it). :func:`label_config` is the matching
labeling interface (one ``Choices`` control over the labels). The tasks file holds texts by design:
keep it where the data may be; mindscreen's logs only count.

Shapes: ``N`` texts, ``C`` labels.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import numpy as np

from mindscreen.data.readers import extract_texts, read_table

logger = logging.getLogger(__name__)

FROM_NAME = "labels"  # the Choices control of the labeling config
TO_NAME = "text"  # the Text object it labels
EVIDENCE = "evidence"  # the Labels control that shows the words that moved each label


@dataclass(frozen=True)
class ReviewExport:
    """What :func:`export_review_tasks` wrote: the files and how many tasks per reason."""

    tasks_file: Path
    config_file: Path
    counts: dict[str, int]


def label_config(labels: list[str], multi_label: bool, highlights: bool = False) -> str:
    """The Label Studio labeling config (XML) the tasks are made for; ``highlights`` adds the
    ``evidence`` span control the pre-annotated top words use."""
    choices = "\n".join(f"    <Choice value={quoteattr(label)}/>" for label in labels)
    choice = "multiple" if multi_label else "single"
    spans = "\n".join(f"    <Label value={quoteattr(label)}/>" for label in labels)
    evidence = f'  <Labels name="{EVIDENCE}" toName="{TO_NAME}">\n{spans}\n  </Labels>\n'
    evidence = evidence if highlights else ""
    return (
        "<View>\n"
        f"{evidence}"
        f'  <Text name="{TO_NAME}" value="$text"/>\n'
        f'  <Choices name="{FROM_NAME}" toName="{TO_NAME}" choice="{choice}" showInline="true">\n'
        f"{choices}\n  </Choices>\n</View>\n"
    )


def highlight_results(pipeline: Any, texts: list[str], top: int) -> list[list[dict[str, Any]]]:
    """Per text, ``labels`` results marking the ``top`` words that moved each predicted label most
    toward it (occlusion through the pipeline, :func:`mindscreen.explain.explain`)."""
    from mindscreen.explain import explain

    found = []
    for text, explanation in zip(texts, explain(pipeline, texts), strict=True):
        spans: list[dict[str, Any]] = []
        for label in explanation.labels:
            for word in label.top(top, sign=1):
                value = {"start": word.start, "end": word.end, "text": text[word.start : word.end]}
                spans.append(
                    {
                        "id": f"e{len(spans)}",
                        "from_name": EVIDENCE,
                        "to_name": TO_NAME,
                        "type": "labels",
                        "value": {**value, "labels": [label.label]},
                    }
                )
        found.append(spans)
    return found


def uncertainty(probs: np.ndarray, thresholds: np.ndarray, multi_label: bool) -> np.ndarray:
    """``(N,)`` from 0 (sure) to 1: multi-label, closeness of the nearest probability to its
    threshold; multi-class, one minus the margin between the two most likely classes."""
    if multi_label:
        distance = np.abs(probs - thresholds) / np.maximum(thresholds, 1 - thresholds)  # (N, C)
        return 1.0 - distance.min(axis=1)
    top = np.sort(probs, axis=1)  # (N, C)
    margin = top[:, -1] - (top[:, -2] if probs.shape[1] > 1 else 0.0)
    return 1.0 - margin


def export_review_tasks(
    pipeline_path: str | Path,
    input_file: str | Path,
    output: str | Path,
    text_column: str = "text",
    uncertain: int = 20,
    highlights: int = 3,
) -> ReviewExport:
    """Write Label Studio tasks for the texts of ``input_file`` that need review.

    Selected, each once and in this order: risk ``crisis``; the pipeline's ``needs_review`` flag;
    then the ``uncertain`` most uncertain of the rest (:func:`uncertainty`), for active learning.

    Args:
        pipeline_path: a pipeline (or any model directory ``predict`` takes).
        input_file: CSV, TSV, JSONL or Parquet with a text column.
        output: the tasks JSON; the labeling config goes beside it (``<output stem>.label_config.xml``).
        text_column: the column holding the texts.
        uncertain: how many of the remaining texts to add by uncertainty (0: none).
        highlights: words per predicted label pre-annotated as ``evidence`` spans, the explanation's
            top words (0: none; costs one occlusion pass per selected text).
    """
    from mindscreen.pipeline import load_pipeline

    pipeline = load_pipeline(pipeline_path)
    texts = extract_texts(read_table(input_file), text_column, str(input_file), "--text-column")
    results = pipeline.classify(texts)
    probs = np.array([[r.probabilities[label] for label in pipeline.labels] for r in results])  # (N, C)
    score = uncertainty(
        probs.reshape(len(results), len(pipeline.labels)),
        np.asarray(pipeline.thresholds),
        pipeline.multi_label,
    )
    reasons: dict[int, str] = {}
    for i, result in enumerate(results):
        if result.risk == "crisis":
            reasons[i] = "crisis"
        elif result.needs_review:
            reasons[i] = "needs_review"
    rest = [i for i in np.argsort(-score, kind="stable") if int(i) not in reasons]
    for i in rest[: max(0, uncertain)]:
        reasons[int(i)] = "uncertain"
    version = str(getattr(pipeline, "version", "mindscreen"))
    spans = highlight_results(pipeline, [texts[i] for i in reasons], highlights) if highlights > 0 else []
    tasks = []
    for n, (i, reason) in enumerate(reasons.items()):
        multi_label = pipeline.multi_label
        task = _task(i, texts[i], results[i].to_dict(), reason, float(score[i]), version, multi_label)
        task["predictions"][0]["result"].extend(spans[n] if spans else [])
        tasks.append(task)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(tasks, indent=1, ensure_ascii=False) + "\n")
    config_file = output.with_name(f"{output.stem}.label_config.xml")
    config_file.write_text(label_config(pipeline.labels, pipeline.multi_label, highlights > 0))
    kinds = ("crisis", "needs_review", "uncertain")
    counts = {name: sum(1 for r in reasons.values() if r == name) for name in kinds}
    logger.info("%d review tasks of %d texts: %s", len(tasks), len(texts), counts)
    return ReviewExport(output, config_file, counts)


def _task(
    row: int, text: str, result: dict[str, Any], reason: str, score: float, version: str, multi_label: bool
) -> dict[str, Any]:
    return {
        "data": {
            TO_NAME: text,
            "mindscreen": {
                "row": row,
                "reason": reason,
                "risk": result["risk"],
                "review_reasons": result["review_reasons"],
                "model_labels": result["labels"],
                "multi_label": multi_label,
            },
        },
        "predictions": [
            {
                "model_version": version,
                "score": round(1.0 - score, 6),  # confidence: Label Studio sorts by it
                "result": [
                    {
                        "id": f"m{row}",
                        "from_name": FROM_NAME,
                        "to_name": TO_NAME,
                        "type": "choices",
                        "value": {"choices": result["labels"]},
                    }
                ],
            }
        ],
    }
