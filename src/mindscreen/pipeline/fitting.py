"""Fitting a pipeline on dev and reporting it on dev and test.

Deterministic: stage 2 predicts dev once; critical thresholds are lowered to the recall
floor (:func:`~mindscreen.pipeline.floors.fit_recall_thresholds`); the stage-1 screen is loaded or fitted
on train; its cutoff is the largest that keeps the floor end to end
(:func:`~mindscreen.pipeline.floors.fit_cutoff`); dev and test are scored for the pipeline and for
stage 2 on every text; the pipeline directory is written (:mod:`~mindscreen.pipeline.store`).

Shapes: ``N`` texts, ``M`` ensemble members, ``C`` classes.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from mindscreen.config import DataConfig
from mindscreen.data import Split, load_splits
from mindscreen.pipeline.decisions import RISK_LEVELS, Decisions, Policy, finish
from mindscreen.pipeline.floors import fit_cutoff, fit_recall_thresholds, recalls
from mindscreen.pipeline.lexicon import Lexicon
from mindscreen.pipeline.pipeline import Pipeline
from mindscreen.pipeline.spec import PipelineSpec, dump_spec, load_spec
from mindscreen.pipeline.stages import STAGES, ModelStage, Scores, ScreenStage
from mindscreen.pipeline.store import save_pipeline, state_of, version_of
from mindscreen.predictors import load_predictor
from mindscreen.rundir import check_output_dir
from mindscreen.scores import macro_f1

logger = logging.getLogger(__name__)


def fit_pipeline(spec_path: str | Path, overrides: Iterable[str] = (), overwrite: bool = False) -> Path:
    """Fit the pipeline a YAML spec describes and write its directory (``output_dir``).

    Args:
        spec_path: the pipeline spec (see ``examples/pipeline.yaml``).
        overrides: ``key=value`` strings, e.g. ``recall_floor=0.9``.
        overwrite: replace an existing output directory.

    Returns:
        The pipeline directory; its ``report.json`` holds dev/test macro-F1, critical recall and the share
        of texts decided at stage 1.
    """
    spec = load_spec(spec_path, overrides)
    output = Path(spec.output_dir)
    model_dir = Path(spec.model).resolve()
    if output.resolve() == model_dir or output.resolve() in model_dir.parents:
        raise ValueError(
            f"output_dir {output} would hold the stage-2 model {spec.model}; choose another folder"
        )
    check_output_dir(output, overwrite)
    pipeline = build_pipeline(spec)
    if output.exists():
        shutil.rmtree(output)
    model_path = Path(spec.model)
    if spec.version is None:
        pipeline.version = version_of(spec.name, state_of(pipeline, output, model_path), model_path)
    save_pipeline(pipeline, output, model_path, dump_spec(spec))
    logger.info("pipeline saved to %s (version %s)", output, pipeline.version)
    return output


def build_pipeline(spec: PipelineSpec, allow_failed_int8: bool = False) -> Pipeline:
    """Load stage 2, fit thresholds, screen and cutoff on the spec's data, and score dev and test.

    ``allow_failed_int8``: an ONNX export's int8 model is stage 2 even if its check failed or never ran.
    """
    from mindscreen.linear import LinearPredictor

    model = load_predictor(spec.model, allow_failed_int8=allow_failed_int8)
    splits = load_splits(_data_config(spec))
    if splits.label_names != list(model.labels) or splits.multi_label != bool(model.multi_label):
        raise ValueError(
            f"the data has labels {splits.label_names} (multi_label={splits.multi_label}) but the stage-2 "
            f"model {spec.model} has {list(model.labels)}; point data at the data the model was trained on"
        )
    policy = Policy.build(
        splits.label_names,
        splits.multi_label,
        spec.critical_labels,
        spec.safe_labels,
        abstain_band=spec.review.abstain_band,
        disagreement=spec.review.disagreement,
        risk_high=spec.risk.high,
        risk_low=spec.risk.low,
    )
    lexicon = Lexicon.load(spec.lexicon.file, spec.lexicon.phrases) if spec.lexicon.enabled else None
    dev = score_texts(ModelStage(model, model.thresholds, policy), lexicon, splits.dev.texts)
    assert dev.model.probs is not None
    thresholds = fit_recall_thresholds(
        splits.dev.labels, dev.model.probs, model.thresholds, policy, spec.recall_floor
    )
    screen, cutoff = None, None
    if spec.screen is not None:
        if not policy.can_screen:
            raise ValueError(
                "stage 1 answers 'low risk' with a safe label, and this multi-class task has none: set "
                "safe_labels (e.g. [neutral]) or screen: null"
            )
        screen = (
            load_predictor(spec.screen.linear)
            if spec.screen.linear is not None
            else LinearPredictor.fit(splits, c=spec.screen.c, class_weight=spec.screen.class_weight)
        )
        dev.screen = np.asarray(screen.predict_proba(splits.dev.texts))
        if spec.screen.cutoff == "fit":
            fitted = fit_cutoff(
                splits.dev.labels,
                dev.flags,
                ScreenStage(screen, 0.0, policy),
                dev.screen,
                ModelStage(model, thresholds, policy),
                dev.model,
                spec.recall_floor,
                spec.screen.max_macro_f1_drop,
            )
            cutoff = fitted.cutoff
        else:
            cutoff = float(spec.screen.cutoff)
    pipeline = Pipeline(
        model,
        policy,
        thresholds,
        screen=screen,
        cutoff=cutoff,
        lexicon=lexicon,
        name=spec.name,
        version=spec.version or "unversioned",
    )
    report: dict[str, Any] = {
        "recall_floor": spec.recall_floor,
        "critical_labels": spec.critical_labels,
        "cutoff": cutoff,
        "dev": score_split(pipeline, splits.dev, dev, model.thresholds),
    }
    if splits.test is not None:
        report["test"] = score_split(pipeline, splits.test, None, model.thresholds)
    pipeline.report = report
    return pipeline


def _data_config(spec: PipelineSpec) -> DataConfig:
    if spec.data is not None:
        return spec.data
    from mindscreen.rundir import run_data_config

    if not (Path(spec.model) / "config.yaml").is_file():
        raise ValueError(
            f"{spec.model} has no config.yaml to read its data settings from; set data in the spec"
        )
    return run_data_config(Path(spec.model))


@dataclass
class SplitScores:
    """Every stage's scores of every text of a split, computed once for fitting and scoring."""

    flags: np.ndarray  # (N,) crisis phrase matched
    model: Scores  # stage 2's probabilities and members
    screen: np.ndarray | None = None  # (N, C) stage 1's probabilities


def score_texts(model: ModelStage, lexicon: Lexicon | None, texts: list[str]) -> SplitScores:
    """The lexicon's flags and stage 2's scores of every text (stage 1 is added when there is one)."""
    flags = lexicon.flags(texts) if lexicon is not None else np.zeros(len(texts), dtype=bool)
    return SplitScores(flags, model.score(texts))


def score_split(
    pipeline: Pipeline, split: Split, scored: SplitScores | None, own_thresholds: np.ndarray
) -> dict[str, Any]:
    """Scores of the pipeline, of stage 2 on every text, and of stage 2 with its own thresholds.

    Args:
        pipeline: the fitted pipeline.
        split: labelled texts.
        scored: every stage's scores of ``split`` computed already, or None.
        own_thresholds: ``(C,)`` the stage-2 model's thresholds before recall floors.
    """
    if scored is None:
        stage = ModelStage(pipeline.model, pipeline.thresholds, pipeline.policy)
        scored = score_texts(stage, pipeline.lexicon, split.texts)
    if pipeline.screen is not None and scored.screen is None:
        scored.screen = np.asarray(pipeline.screen.predict_proba(split.texts))
    policy = pipeline.policy
    start = replace(Decisions.start(len(split.texts), len(policy.labels)), flagged=scored.flags)

    def decided(thresholds: np.ndarray, with_screen: bool) -> Decisions:
        decisions = start
        if with_screen and pipeline.cutoff is not None and pipeline.screen is not None:
            screen = ScreenStage(pipeline.screen, pipeline.cutoff, policy)
            decisions = screen.apply(Scores(probs=scored.screen), decisions)
        return finish(ModelStage(pipeline.model, thresholds, policy).apply(scored.model, decisions), policy)

    return {
        "pipeline": summarize(split.labels, decided(pipeline.thresholds, True), policy),
        "model": summarize(split.labels, decided(pipeline.thresholds, False), policy),
        "model_own_thresholds": summarize(split.labels, decided(np.asarray(own_thresholds), False), policy),
    }


def summarize(y_true: np.ndarray, decided: Decisions, policy: Policy) -> dict[str, Any]:
    """Macro-F1, recall of each critical label, stage-1 share, review share and risk counts."""
    critical = [label for label, on in zip(policy.labels, policy.critical, strict=True) if on]
    return {
        "num_texts": len(decided.stage),
        "macro_f1": macro_f1(y_true, decided.preds),
        "critical_recall": dict(zip(critical, recalls(y_true, decided.preds, policy.critical), strict=True)),
        "screen_share": float((decided.stage == STAGES.index("screen")).mean())
        if len(decided.stage)
        else 0.0,
        "review_share": float(decided.needs_review.mean()) if len(decided.stage) else 0.0,
        "risk_counts": {level: int((decided.risk == i).sum()) for i, level in enumerate(RISK_LEVELS)},
    }
