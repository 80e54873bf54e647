"""The pipeline directory, and loading whatever a user hands to ``serve``/``predict``.

``fit_pipeline`` writes it; ``serve`` and ``predict`` only read it::

    PIPE/
      pipeline.yaml   the resolved spec (every default spelled out)
      pipeline.json   fitted state: stage-2 model path, labels, thresholds with recall floors applied,
                      stage-1 cutoff, critical/safe labels, review and risk settings, version
      screen/         the stage-1 linear model (when there is a screen)
      lexicon.txt     the crisis phrases in use (when the lexicon is on)
      report.json     dev and test: macro-F1, critical recall, share decided at stage 1, per pipeline
                      and for stage 2 on every text
      README.md       the model card (generated from pipeline.json and report.json)

The stage-2 model is referenced, not copied: keep its directory where it was (or beside the pipeline
directory, where a relative path is also tried).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from mindscreen.card import write_pipeline_card
from mindscreen.contract import FIX, ContractError, check_labels
from mindscreen.pipeline.decisions import Policy
from mindscreen.pipeline.lexicon import LEXICON_FILE, Lexicon
from mindscreen.pipeline.pipeline import Pipeline
from mindscreen.predictors import LoadOptions, load_predictor
from mindscreen.rundir import read_json, write_json

PIPELINE_FILE = "pipeline.json"
REPORT_FILE = "report.json"
SCREEN_DIR = "screen"
FORMAT = "mindscreen-pipeline"
# A bare model directory is served with these label roles when its labels carry these names.
DEFAULT_CRITICAL = ("suicidal_ideation", "suicidal", "suicide", "self_harm", "self-harm", "selfharm")
DEFAULT_SAFE = ("neutral", "none", "normal", "no", "not_stressed", "not_depressed", "control")


def is_pipeline_dir(path: str | Path) -> bool:
    return (Path(path) / PIPELINE_FILE).is_file()


def save_pipeline(pipeline: Pipeline, directory: Path, model_path: Path, spec_yaml: str) -> None:
    """Write ``pipeline`` into ``directory`` (which ``fit_pipeline`` has created)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "pipeline.yaml").write_text(spec_yaml)
    if pipeline.screen is not None:
        pipeline.screen.save(directory / SCREEN_DIR)
    if pipeline.lexicon is not None:
        pipeline.lexicon.save(directory / LEXICON_FILE)
    write_json(directory / REPORT_FILE, pipeline.report)
    write_json(directory / PIPELINE_FILE, state_of(pipeline, directory, model_path))
    write_pipeline_card(directory)


def state_of(pipeline: Pipeline, directory: Path, model_path: Path) -> dict[str, Any]:
    policy = pipeline.policy
    return {
        "format": FORMAT,
        "format_version": 1,
        "name": pipeline.name,
        "version": pipeline.version,
        "model": str(model_path.resolve()),
        "model_relative": os.path.relpath(model_path.resolve(), directory.resolve()),
        "labels": policy.labels,
        "multi_label": policy.multi_label,
        "thresholds": [float(t) for t in pipeline.thresholds],
        "screen": pipeline.screen is not None,
        "cutoff": pipeline.cutoff,
        "lexicon": pipeline.lexicon is not None,
        "critical_labels": [label for label, on in zip(policy.labels, policy.critical, strict=True) if on],
        "safe_labels": [label for label, on in zip(policy.labels, policy.safe, strict=True) if on],
        "review": {"abstain_band": policy.abstain_band, "disagreement": policy.disagreement},
        "risk": {"high": policy.risk_high, "low": policy.risk_low},
    }


def load_pipeline(path: str | Path, options: LoadOptions | None = None, **changes: Any) -> Pipeline:
    """A pipeline directory, or a run/ensemble/linear/export directory wrapped as a one-stage pipeline.

    A bare model directory gets: no stage-1 screen, the shipped crisis lexicon, its own thresholds,
    critical labels among ``DEFAULT_CRITICAL`` and safe labels among ``DEFAULT_SAFE`` (by name), and
    the default review and risk settings. ``options`` (and ``changes`` to single fields, e.g.
    ``allow_failed_int8=True``) say how the stage-2 model loads (:class:`~mindscreen.predictors.LoadOptions`).
    """
    path = Path(path)
    options = (options or LoadOptions()).with_changes(**changes)
    if is_pipeline_dir(path):
        return _load_pipeline_dir(path, options)
    if not path.is_dir():
        raise FileNotFoundError(
            f"{path} is not a directory; pass a pipeline directory (from fit_pipeline) or a run, "
            "ensemble or linear model directory"
        )
    model = load_predictor(path, options)
    labels = list(model.labels)
    policy = Policy.build(
        labels,
        bool(model.multi_label),
        [label for label in labels if label.lower() in DEFAULT_CRITICAL],
        [label for label in labels if label.lower() in DEFAULT_SAFE],
    )
    version = f"{path.resolve().name}-{fingerprint(path)[:12]}"
    return Pipeline(
        model,
        policy,
        np.asarray(model.thresholds),
        lexicon=Lexicon.load(),
        name=path.resolve().name,
        version=version,
    )


def _load_pipeline_dir(path: Path, options: LoadOptions) -> Pipeline:
    state = _verify(path)
    model = load_predictor(_model_path(path, state), options)
    policy = Policy.build(
        state["labels"],
        state["multi_label"],
        state["critical_labels"],
        state["safe_labels"],
        abstain_band=state["review"]["abstain_band"],
        disagreement=state["review"]["disagreement"],
        risk_high=state["risk"]["high"],
        risk_low=state["risk"]["low"],
    )
    screen = load_predictor(path / SCREEN_DIR, options) if state["screen"] else None
    lexicon = Lexicon.load(path / LEXICON_FILE) if state["lexicon"] else None
    report = read_json(path / REPORT_FILE) if (path / REPORT_FILE).is_file() else {}
    return Pipeline(
        model,
        policy,
        np.asarray(state["thresholds"]),
        screen=screen,
        cutoff=state["cutoff"],
        lexicon=lexicon,
        name=state["name"],
        version=state["version"],
        report=report,
    )


def _verify(path: Path) -> dict[str, Any]:
    """pipeline.json's contract: this format, labels, one finite threshold per label, the settings, and
    the screen and lexicon files it says it has. The stage-2 model is checked by its own kind."""
    file = path / PIPELINE_FILE
    state = read_json(file)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ContractError(f"{file} is not a {FORMAT} file; pass a directory written by fit_pipeline")
    keys = ("model", "model_relative", "labels", "multi_label", "thresholds", "screen", "cutoff", "lexicon")
    missing = [key for key in (*keys, "critical_labels", "safe_labels", "review", "risk") if key not in state]
    if missing:
        raise ContractError(f"{file} lacks {', '.join(missing)}; {FIX}")
    labels = check_labels(file, state["labels"])
    thresholds = state["thresholds"]
    if not isinstance(thresholds, list) or len(thresholds) != len(labels):
        raise ContractError(
            f"{file} holds {len(thresholds or [])} thresholds for {len(labels)} labels; {FIX}"
        )
    if not all(isinstance(t, int | float) and math.isfinite(t) for t in thresholds):
        raise ContractError(f"{file} holds a threshold that is not a finite number; {FIX}")
    if not state["multi_label"] and any(t <= 0 for t in thresholds):
        raise ContractError(f"{file}: multi-class thresholds are scales and must be > 0; {FIX}")
    if state["screen"] and not (path / SCREEN_DIR).is_dir():
        raise ContractError(f"{path / SCREEN_DIR} is missing: pipeline.json says there is a screen; {FIX}")
    if state["lexicon"] and not (path / LEXICON_FILE).is_file():
        raise ContractError(f"{path / LEXICON_FILE} is missing: pipeline.json says the lexicon is on; {FIX}")
    return state


def model_dir_of(path: Path) -> Path:
    """The model directory behind ``path``: a pipeline's stage-2 model, else ``path`` itself."""
    return _model_path(path, _verify(path)) if is_pipeline_dir(path) else path


def _model_path(path: Path, state: dict[str, Any]) -> Path:
    for candidate in (Path(state["model"]), path / state["model_relative"]):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"the stage-2 model of pipeline {path} is missing: neither {state['model']} nor "
        f"{path / state['model_relative']} exists; restore that directory or fit the pipeline again"
    )


def fingerprint(directory: Path, extra: bytes = b"") -> str:
    """SHA-256 over the small files of a model directory (settings, thresholds, head weights)."""
    digest = hashlib.sha256(extra)
    for file in sorted(Path(directory).iterdir()):
        if (
            file.is_file()
            and file.suffix in {".json", ".yaml", ".safetensors"}
            and file.stat().st_size < 64 << 20
        ):
            digest.update(file.name.encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def version_of(name: str, state: dict[str, Any], model_path: Path) -> str:
    """``NAME-HASH``: the hash covers the fitted state and the stage-2 model's files."""
    payload = json.dumps(
        {k: v for k, v in state.items() if k not in ("version", "model", "model_relative")}, sort_keys=True
    )
    return f"{name}-{fingerprint(model_path, payload.encode())[:12]}"
