"""Explaining the decision that was made: through the pipeline, for the stage that decided each text.

Every target goes through :func:`~mindscreen.pipeline.load_pipeline`, as ``predict`` and ``serve`` do, so
the explained probability is the one they report: calibrated, an ensemble's combined probability, the
deciding stage's. A text the stage-1 screen decided is explained through the screen's probabilities; one
that reached stage 2, through the stage-2 model's (the routing is held fixed: deleting a word changes
the stage's probability, not which stage answers). A crisis-lexicon match is its own explanation: its
character spans are listed, since the lexicon's rule (risk ``crisis``, never decided at stage 1) does not
depend on any model.

Shapes: ``N`` texts, ``L`` explained labels of a text, ``C`` classes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mindscreen.explain.methods import STEPS, check_method, score_words
from mindscreen.explain.result import Explanation, LabelExplanation, word_scores
from mindscreen.explain.seen import seen_words
from mindscreen.explain.words import segment
from mindscreen.pipeline import Pipeline, Policy, Result, load_pipeline

if TYPE_CHECKING:
    from mindscreen.predictors import LoadOptions, Predictor


def as_pipeline(target: str | Path | Pipeline | Predictor, options: LoadOptions | None = None) -> Pipeline:
    """A pipeline as ``predict`` would run it: a directory through ``load_pipeline`` (with ``options``,
    e.g. ``allow_failed_int8``); a predictor as a one-stage pipeline without lexicon or label roles."""
    if isinstance(target, Pipeline):
        return target
    if isinstance(target, str | Path):
        return load_pipeline(target, options)
    labels = list(target.labels)
    policy = Policy.build(labels, bool(target.multi_label), [], [])
    return Pipeline(target, policy, np.asarray(target.thresholds), name=type(target).__name__)


def explain(
    target: str | Path | Pipeline | Predictor,
    texts: list[str],
    labels: list[str] | None = None,
    method: str | None = None,
    steps: int = STEPS,
) -> list[Explanation]:
    """Which words moved each decision: one :class:`~mindscreen.explain.result.Explanation` per text.

    Args:
        target: a pipeline, run, ensemble, TF-IDF or ONNX export directory, a loaded pipeline, or a
            predictor.
        texts: the texts to explain.
        labels: the labels to explain for every text; None: each text's predicted labels, or its most
            probable label when none is predicted.
        method: ``occlusion`` (default) or ``integrated_gradients`` (see :mod:`~mindscreen.explain.methods`).
        steps: Integrated Gradients steps along the path.

    Raises:
        ValueError: an unknown method or label (the message lists the valid ones).
    """
    pipeline = as_pipeline(target)
    method = check_method(method)
    wanted = _check_labels(labels, pipeline.labels)
    texts = list(texts)
    results = pipeline.classify(texts)
    explained: dict[int, Explanation] = {}
    for stage, predictor in (("screen", pipeline.screen), ("model", pipeline.model)):
        rows = [i for i, result in enumerate(results) if result.stage == stage]
        if rows and predictor is not None:
            found = _explain_stage(
                pipeline,
                predictor,
                [texts[i] for i in rows],
                [results[i] for i in rows],
                wanted,
                method,
                steps,
            )
            explained.update(zip(rows, found, strict=True))
    return [explained[i] for i in range(len(texts))]


def _explain_stage(
    pipeline: Pipeline,
    predictor: Predictor,
    texts: list[str],
    results: list[Result],
    wanted: list[int] | None,
    method: str,
    steps: int,
) -> list[Explanation]:
    """The texts one stage decided, explained through that stage's model."""
    labels, lexicon = pipeline.labels, pipeline.lexicon
    words = [segment(text) for text in texts]
    seen = [seen_words(predictor, text, spans) for text, spans in zip(texts, words, strict=True)]
    targets = [_targets(result, wanted, labels) for result in results]
    scored = score_words(predictor, method, texts, words, seen, targets, steps)
    explanations = []
    for text, spans, result, classes, found in zip(texts, words, results, targets, scored, strict=True):
        per_label = [
            LabelExplanation(
                labels[c],
                result.probabilities[labels[c]],
                found.method,
                word_scores(spans, list(found.scores[j])),
                found.note,
            )
            for j, c in enumerate(classes)
        ]
        phrases = lexicon.spans(text) if lexicon is not None else []
        explanations.append(Explanation(result.to_dict(), per_label, phrases))
    return explanations


def _check_labels(labels: list[str] | None, known: list[str]) -> list[int] | None:
    if labels is None:
        return None
    unknown = [label for label in labels if label not in known]
    if unknown or not labels:
        raise ValueError(
            f"{len(unknown) or 'no'} requested labels are not labels of the model; its labels are: "
            f"{', '.join(known)}"
        )
    return [known.index(label) for label in dict.fromkeys(labels)]


def _targets(result: Result, wanted: list[int] | None, labels: list[str]) -> list[int]:
    """The classes to explain for one text: those asked for, else the predicted ones, else the likeliest."""
    if wanted is not None:
        return wanted
    if result.labels:
        return [labels.index(label) for label in result.labels]
    probabilities: dict[str, Any] = result.probabilities
    return [labels.index(max(probabilities, key=lambda label: probabilities[label]))]
