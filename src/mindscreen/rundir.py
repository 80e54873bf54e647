"""The run directory: the contract between ``train`` and every later stage.

``train`` writes it; ``evaluate``, ``predict`` (and later stages) only read it::

    RUN/
      config.yaml          resolved config (every default spelled out)
      model.json           labels, task, pooling, head shape, max length, encoder source
      encoder/             fine-tuned encoder + tokenizer (Hugging Face save_pretrained)
      head.safetensors     pooler + head weights
      thresholds.json      per-class decision thresholds fitted on dev (on calibrated probabilities)
      calibration.json     temperature(s) fitted on dev logits, applied by predict_proba; ECE before/after
      metrics.json         dev and test metrics of the best checkpoint
      log.jsonl            one line per evaluation during training
      profile.json         the data profile and the settings chosen from it, with reasons (no texts)
      predictions/         dev.npz, test.npz: logits and 0/1 labels of the best model (no texts);
                           ensembles and reports reuse them instead of predicting again. The logits
                           are raw: divided by calibration.json's temperature, their softmax or
                           sigmoid is what predict_proba returns
      README.md            the model card (Hugging Face layout, generated from the files above; no texts)
      checkpoints/last/    only while training runs: what --resume continues from
      report.html          optional, written by ``mindscreen report`` (not part of the contract)
      tensorboard/         optional, event files when ``train.tracking`` names tensorboard (not part of it)
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from mindscreen.config import DataConfig
from mindscreen.contract import (
    FIX,
    ContractError,
    check_calibration,
    check_labels,
    check_thresholds,
    check_tokenizer_dir,
    read_json_file,
    safetensors_shapes,
)
from mindscreen.long_text import LONG_TEXT_MODES

CONFIG_FILE = "config.yaml"
THRESHOLDS_FILE = "thresholds.json"
CALIBRATION_FILE = "calibration.json"
METRICS_FILE = "metrics.json"
LOG_FILE = "log.jsonl"
PROFILE_FILE = "profile.json"
PREDICTIONS_DIR = "predictions"
CARD_FILE = "README.md"
CHECKPOINT_DIR = "checkpoints/last"  # only while training runs: what --resume continues from
CHECKPOINT_STATE = "state.json"  # written last: a checkpoint folder holding it is complete
RUN_FILES = (
    CONFIG_FILE,
    "model.json",
    "encoder",
    "head.safetensors",
    THRESHOLDS_FILE,
    CALIBRATION_FILE,
    METRICS_FILE,
    LOG_FILE,
    PROFILE_FILE,
    PREDICTIONS_DIR,
    CARD_FILE,
)


def _clean(value: Any) -> Any:
    """Make numpy scalars and NaN JSON-safe (NaN becomes null)."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: Path, payload: Any) -> None:
    path.write_text(json.dumps(_clean(payload), indent=2) + "\n")


def read_json(path: Path) -> Any:
    """A JSON file of a model directory; missing, unreadable or invalid raises naming the file."""
    return read_json_file(path)


def write_thresholds(
    run_dir: Path,
    labels: list[str],
    thresholds: np.ndarray,
    fitted: bool,
    check: dict[str, Any] | None = None,
) -> None:
    """Save thresholds in ``labels`` order; ``check`` (``ThresholdCheck.to_dict``) goes under "check".

    Readers use only "labels" and "thresholds" (and "fitted_on_dev"), so files with or without a
    check read the same.
    """
    payload: dict[str, Any] = {
        "labels": labels,
        "thresholds": [float(t) for t in thresholds],
        "fitted_on_dev": fitted,
    }
    if check is not None:
        payload["check"] = check
    write_json(run_dir / THRESHOLDS_FILE, payload)


def read_thresholds(run_dir: Path, labels: list[str]) -> np.ndarray:
    """Per-class thresholds in ``labels`` order; checks they belong to these labels."""
    payload = read_json(run_dir / THRESHOLDS_FILE)
    if payload["labels"] != labels:
        raise ValueError(f"{run_dir / THRESHOLDS_FILE} lists labels {payload['labels']}, model has {labels}")
    return np.asarray(payload["thresholds"], dtype=np.float64)


def write_calibration(
    run_dir: Path, labels: list[str], method: str, temperature: np.ndarray, ece: dict[str, Any]
) -> None:
    """Save the fitted temperature(s): one number, or one per label in ``labels`` order."""
    write_json(
        run_dir / CALIBRATION_FILE,
        {
            "method": method,
            "labels": labels,
            "temperature": [float(t) for t in np.atleast_1d(temperature)],
            "fitted_on": "dev",
            "ece": ece,
        },
    )


def read_calibration(run_dir: Path, labels: list[str]) -> np.ndarray:
    """Temperatures ``(1,)`` or ``(C,)`` to divide logits by; ``[1.0]`` for runs saved without one."""
    path = run_dir / CALIBRATION_FILE
    if not path.is_file():
        return np.ones(1)
    payload = read_json(path)
    temperature = np.asarray(payload["temperature"], dtype=np.float64)
    if payload["labels"] != labels or temperature.size not in (1, len(labels)):
        raise ValueError(
            f"{path} holds {temperature.size} temperature(s) for labels {payload['labels']}, but the model "
            f"has labels {labels}; expected 1 or {len(labels)} for these labels. Re-train or remove the file"
        )
    return temperature


def check_output_dir(folder: Path, overwrite: bool) -> None:
    """Refuse to write into a non-empty ``folder`` unless ``overwrite``; it is replaced later, not here."""
    if folder.exists() and any(folder.iterdir()) and not overwrite:
        raise FileExistsError(
            f"{folder} exists and is not empty; pass overwrite=True (--overwrite) to replace it"
        )


def fresh_output_dir(folder: Path, overwrite: bool) -> Path:
    """An empty ``folder`` to write an export into (:func:`check_output_dir` first)."""
    check_output_dir(folder, overwrite)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def append_log(run_dir: Path, record: dict[str, Any]) -> None:
    with (run_dir / LOG_FILE).open("a") as handle:
        handle.write(json.dumps(_clean(record)) + "\n")


def truncate_log(run_dir: Path, last_step: int) -> None:
    """Drop log lines written after ``last_step`` (work a crash lost and a resume redoes)."""
    path = run_dir / LOG_FILE
    if not path.exists():
        return
    kept = [line for line in path.read_text().splitlines() if json.loads(line)["step"] <= last_step]
    path.write_text("".join(line + "\n" for line in kept))


def read_log(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / LOG_FILE
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def checkpoint_tmp_dir(run_dir: Path) -> Path:
    """Where a checkpoint is written before it replaces ``checkpoints/last``."""
    final = Path(run_dir) / CHECKPOINT_DIR
    return final.with_name(final.name + ".tmp")


def has_checkpoint(run_dir: Path) -> bool:
    """Whether ``--resume`` has a complete checkpoint to continue from (counting a complete
    ``last.tmp`` a kill left behind): the run's training has not finished."""
    folders = (Path(run_dir) / CHECKPOINT_DIR, checkpoint_tmp_dir(run_dir))
    return any((folder / CHECKPOINT_STATE).is_file() for folder in folders)


def is_run_dir(path: Path) -> bool:
    return (path / "model.json").is_file() and (path / "head.safetensors").is_file()


@dataclass(frozen=True)
class HeadSpec:
    """Everything besides weights needed to rebuild the pooler and head; saved as model.json."""

    labels: list[str]
    multi_label: bool
    pooling: str
    head_blocks: int
    head_hidden: int
    dropout: float
    max_length: int
    encoder_source: str
    long_text: str = "truncate"  # runs from before model.long_text read long texts this way


def read_head_spec(run_dir: Path) -> HeadSpec:
    """model.json as a :class:`HeadSpec`, after checking the model files (:func:`verify_model_files`)."""
    return HeadSpec(**verify_model_files(Path(run_dir)))


ENCODER_WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")


def read_model_json(path: Path) -> dict[str, Any]:
    """model.json (a :class:`HeadSpec`) as a dict, checked: every required key, no unknown key, labels."""
    spec = read_json_file(path)
    fields = dataclasses.fields(HeadSpec)
    keys = {field.name for field in fields}
    required = {field.name for field in fields if field.default is dataclasses.MISSING}
    if not isinstance(spec, dict):
        raise ContractError(f"{path} must hold a JSON object; {FIX}")
    missing, unknown = sorted(required - set(spec)), sorted(set(spec) - keys)
    if missing:
        raise ContractError(f"{path} lacks {', '.join(missing)}; {FIX}")
    if unknown:
        raise ContractError(f"{path} has keys this mindscreen does not know ({unknown}); upgrade mindscreen")
    check_labels(path, spec["labels"])
    mode = spec.get("long_text", "truncate")
    if mode not in LONG_TEXT_MODES:
        raise ContractError(f"{path} has long_text {mode!r}, not one of {', '.join(LONG_TEXT_MODES)}; {FIX}")
    return spec


def verify_model_files(run_dir: Path) -> dict[str, Any]:
    """Check what rebuilding the classifier reads: model.json, head.safetensors, encoder/ (weights,
    config, tokenizer). Returns model.json's content; raises :class:`ContractError` naming the file."""
    spec = read_model_json(run_dir / "model.json")
    labels = spec["labels"]
    out = safetensors_shapes(run_dir / "head.safetensors").get("head.out.weight")
    if out is None or out[0] != len(labels):
        raise ContractError(
            f"{run_dir / 'head.safetensors'} has an output layer of shape {out}, but model.json lists "
            f"{len(labels)} labels; {FIX}"
        )
    encoder = run_dir / "encoder"
    read_json_file(encoder / "config.json")
    _verify_encoder_weights(encoder)
    check_tokenizer_dir(encoder)
    return spec


def _verify_encoder_weights(encoder: Path) -> None:
    if (encoder / "model.safetensors").is_file():
        safetensors_shapes(encoder / "model.safetensors")
    elif (encoder / "model.safetensors.index.json").is_file():
        index = read_json_file(encoder / "model.safetensors.index.json")
        for shard in sorted(set(index.get("weight_map", {}).values())):
            safetensors_shapes(encoder / shard)
    elif not (encoder / "pytorch_model.bin").is_file():
        raise ContractError(
            f"{encoder} holds no encoder weights (expected one of {', '.join(ENCODER_WEIGHTS)}); {FIX}"
        )


def verify_run_dir(run_dir: Path) -> None:
    """Check a finished run directory before loading it: the model files, thresholds.json (one finite
    threshold per label) and calibration.json (temperatures > 0). Raises :class:`ContractError`."""
    run_dir = Path(run_dir)
    require_run_dir(run_dir)
    spec = verify_model_files(run_dir)
    check_thresholds(run_dir, spec["labels"], bool(spec["multi_label"]))
    check_calibration(run_dir, spec["labels"])


def require_run_dir(path: Path) -> None:
    """Raise a clear error when ``path`` is not a finished run directory."""
    if not is_run_dir(path):
        raise FileNotFoundError(
            f"{path} is not a mindscreen run directory (expected model.json and head.safetensors); "
            "pass the output_dir of a finished `mindscreen train`"
        )


def write_predictions(run_dir: Path, split: str, logits: np.ndarray, labels: np.ndarray) -> None:
    """Save a split's raw (uncalibrated) logits ``(N, C)`` and 0/1 labels ``(N, C)``; never the texts."""
    folder = run_dir / PREDICTIONS_DIR
    folder.mkdir(exist_ok=True)
    np.savez(folder / f"{split}.npz", logits=logits.astype(np.float32), labels=labels.astype(np.float32))


def read_predictions(run_dir: Path, split: str) -> tuple[np.ndarray, np.ndarray] | None:
    """``(logits, labels)`` saved for ``split``, or None when the run has none."""
    path = run_dir / PREDICTIONS_DIR / f"{split}.npz"
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as saved:
        return saved["logits"], saved["labels"]


def run_data_config(run_dir: Path, **changes: Any) -> DataConfig:
    """The data settings the run was trained with (columns, label format), with ``changes`` applied."""
    path = run_dir / CONFIG_FILE
    saved = (yaml.safe_load(path.read_text()) or {}) if path.is_file() else {}
    data = DataConfig.model_validate(saved.get("data", {}))
    return data.model_copy(update={k: v for k, v in changes.items() if v is not None})
