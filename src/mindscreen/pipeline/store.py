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

The stage-2 model is referenced, not copied: keep its directory where it was (or beside the pipeline
directory, where a relative path is also tried).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from mindscreen.pipeline.decisions import Policy
from mindscreen.pipeline.lexicon import LEXICON_FILE, Lexicon
from mindscreen.pipeline.pipeline import Pipeline
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
        pipeline.screen.save(directory / SCREEN_DIR)  # type: ignore[attr-defined]
    if pipeline.lexicon is not None:
        pipeline.lexicon.save(directory / LEXICON_FILE)
    write_json(directory / REPORT_FILE, pipeline.report)
    write_json(directory / PIPELINE_FILE, state_of(pipeline, directory, model_path))


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


def load_pipeline(path: str | Path, allow_failed_int8: bool = False) -> Pipeline:
    """A pipeline directory, or a run/ensemble/linear directory wrapped as a one-stage pipeline.

    A bare model directory gets: no stage-1 screen, the shipped crisis lexicon, its own thresholds,
    critical labels among ``DEFAULT_CRITICAL`` and safe labels among ``DEFAULT_SAFE`` (by name), and
    the default review and risk settings. ``allow_failed_int8``: see :func:`load_model`.
    """
    path = Path(path)
    if is_pipeline_dir(path):
        return _load_pipeline_dir(path, allow_failed_int8)
    if not path.is_dir():
        raise FileNotFoundError(
            f"{path} is not a directory; pass a pipeline directory (from fit_pipeline) or a run, "
            "ensemble or linear model directory"
        )
    model = load_model(path, allow_failed_int8)
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


def _load_pipeline_dir(path: Path, allow_failed_int8: bool = False) -> Pipeline:
    from mindscreen.linear import LinearPredictor

    state = read_json(path / PIPELINE_FILE)
    if state.get("format") != FORMAT:
        raise ValueError(
            f"{path / PIPELINE_FILE} is not a {FORMAT} file; pass a directory written by fit_pipeline"
        )
    model = load_model(_model_path(path, state), allow_failed_int8)
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
    screen = LinearPredictor.from_dir(path / SCREEN_DIR) if state["screen"] else None
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


def load_model(path: str | Path, allow_failed_int8: bool = False) -> Any:
    """A run, ensemble, linear or ONNX export directory as a predictor.

    Dispatches like :func:`mindscreen.predictor.load_predictor`, but checks for an export before
    importing that module, which pulls in torch and transformers: serving an export needs neither.
    An export's int8 model runs only when its check passed, or with ``allow_failed_int8``.
    """
    from mindscreen.export import OnnxPredictor, is_export_dir

    if is_export_dir(path):
        return OnnxPredictor.from_dir(path, allow_failed_int8=allow_failed_int8)
    from mindscreen.predictor import load_predictor

    return load_predictor(path)


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
