"""Applying a trained run: ``predict_proba(texts) -> (N, C)`` and thresholded labels.

Shapes: ``N`` texts, ``C`` classes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from tqdm.auto import tqdm

from mindscreen.calibration import apply_temperature
from mindscreen.export.onnx import is_export_dir
from mindscreen.inference import predict_logits, to_probs
from mindscreen.modeling import Classifier, load_model
from mindscreen.rundir import is_run_dir, read_calibration, read_thresholds, require_run_dir
from mindscreen.thresholds import decide_labels
from mindscreen.training.batching import encode_texts

CHUNK = 1024  # texts per predict_proba call over a file: bounded memory, a progress bar that moves


class Predictor:
    """A trained classifier with its tokenizer, calibration temperature and fitted thresholds."""

    def __init__(
        self,
        model: Classifier,
        tokenizer: Any,
        thresholds: np.ndarray,
        batch_size: int = 64,
        temperature: np.ndarray | None = None,
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.thresholds = thresholds
        self.batch_size = batch_size
        self.temperature = np.ones(1) if temperature is None else np.asarray(temperature, dtype=np.float64)

    @classmethod
    def from_dir(cls, run_dir: str | Path, device: str = "auto", batch_size: int = 64) -> Predictor:
        """Load a run directory offline onto ``device`` ('auto': CUDA when available)."""
        run_dir = Path(run_dir)
        require_run_dir(run_dir)
        model, tokenizer = load_model(run_dir)
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        thresholds = read_thresholds(run_dir, model.spec.labels)
        temperature = read_calibration(run_dir, model.spec.labels)
        return cls(model.to(device), tokenizer, thresholds, batch_size, temperature)

    @property
    def labels(self) -> list[str]:
        return self.model.spec.labels

    @property
    def multi_label(self) -> bool:
        return self.model.spec.multi_label

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """Calibrated probabilities ``(N, C)``: sigmoids for multi-label, softmax rows for multi-class.

        Logits are divided by the run's temperature(s) (``calibration.json``) first.
        """
        ids = encode_texts(self.tokenizer, list(texts), self.model.spec.max_length)
        if not ids:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        logits = predict_logits(self.model, ids, self.tokenizer.pad_token_id or 0, self.batch_size)
        return to_probs(apply_temperature(logits, self.temperature), self.multi_label)

    def decide(self, probs: np.ndarray) -> list[list[str]]:
        """Labels per text from probabilities, using the run's per-class thresholds."""
        return decide_labels(probs, self.thresholds, self.labels, self.multi_label)

    def predict(self, texts: list[str]) -> list[list[str]]:
        """Labels per text (a multi-label text may get none)."""
        return self.decide(self.predict_proba(texts))


class ProbabilisticClassifier(Protocol):
    """What every predictor implements: a single run, an ensemble, a linear screen."""

    thresholds: np.ndarray

    @property
    def labels(self) -> list[str]: ...

    @property
    def multi_label(self) -> bool: ...

    def predict_proba(self, texts: list[str]) -> np.ndarray: ...

    def decide(self, probs: np.ndarray) -> list[list[str]]: ...


def predict_proba_chunked(
    predictor: ProbabilisticClassifier, texts: list[str], progress: bool = False, desc: str = "predict"
) -> np.ndarray:
    """``predictor.predict_proba(texts)`` (N, C), called on ``CHUNK`` texts at a time with a progress bar
    counting texts (shown when ``progress``)."""
    parts = []
    with tqdm(total=len(texts), desc=desc, unit="text", disable=not progress) as bar:
        for start in range(0, len(texts), CHUNK):
            parts.append(predictor.predict_proba(texts[start : start + CHUNK]))
            bar.update(len(parts[-1]))
    return np.concatenate(parts) if parts else predictor.predict_proba([])


def load_predictor(path: str | Path, allow_failed_int8: bool = False) -> ProbabilisticClassifier:
    """Load whatever directory ``path`` holds: an ONNX export, an ensemble, a TF-IDF model or a run.

    An export directory (``export.json``, from ``mindscreen export``) is run by ONNX Runtime, which
    needs the ``serve`` extra; its int8 model only when its check passed or ``allow_failed_int8``.
    """
    path = Path(path)
    if is_export_dir(path):
        from mindscreen.export.predictor import OnnxPredictor

        return OnnxPredictor.from_dir(path, allow_failed_int8=allow_failed_int8)
    if (path / "ensemble.json").is_file():
        from mindscreen.ensemble import Ensemble  # it imports this module: import here

        return Ensemble.from_dir(path)
    if (path / "linear.json").is_file():
        from mindscreen.linear import LinearPredictor

        return LinearPredictor.from_dir(path)
    if not is_run_dir(path):
        raise FileNotFoundError(
            f"{path} holds no model mindscreen can load: expected a training run (model.json), an "
            "ensemble (ensemble.json), a TF-IDF model (linear.json) or an ONNX export (export.json)"
        )
    return Predictor.from_dir(path)
