"""A trained run as a predictor: the fine-tuned encoder, its pooler and head, temperature and thresholds.

Shapes: ``N`` texts, ``C`` classes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from mindscreen.inference import aggregate_logits, encode_windows, predict_logits
from mindscreen.modeling import Classifier, load_model, save_model
from mindscreen.predictors.protocol import CalibratedPredictor, LoadOptions
from mindscreen.rundir import (
    read_calibration,
    read_thresholds,
    verify_run_dir,
    write_calibration,
    write_thresholds,
)

logger = logging.getLogger(__name__)


class RunPredictor(CalibratedPredictor):
    """A trained classifier with its tokenizer, calibration temperature(s) and fitted thresholds."""

    kind: ClassVar[str] = "run"

    def __init__(
        self,
        model: Classifier,
        tokenizer: Any,
        thresholds: np.ndarray,
        batch_size: int = 64,
        temperature: np.ndarray | None = None,
        amp_dtype: torch.dtype | None = None,
    ) -> None:
        self.amp_dtype = amp_dtype  # None: full precision; torch.bfloat16: bfloat16 autocast
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.thresholds = np.asarray(thresholds, dtype=np.float64)
        self.batch_size = batch_size
        self.temperature = np.ones(1) if temperature is None else np.asarray(temperature, dtype=np.float64)

    @classmethod
    def from_dir(
        cls, directory: str | Path, options: LoadOptions | None = None, **changes: Any
    ) -> RunPredictor:
        """Load a finished run directory, checked against its contract, onto ``options.device``."""
        options = (options or LoadOptions()).with_changes(**changes)
        directory = Path(directory)
        verify_run_dir(directory)
        model, tokenizer = load_model(directory)
        device = options.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        thresholds = read_thresholds(directory, model.spec.labels)
        temperature = read_calibration(directory, model.spec.labels)
        amp_dtype = bf16_autocast(device) if options.precision == "bf16" else None
        return cls(model.to(device), tokenizer, thresholds, options.batch_size, temperature, amp_dtype)

    @property
    def labels(self) -> list[str]:
        return self.model.spec.labels

    @property
    def precision(self) -> str:
        """``bf16`` under bfloat16 autocast, else ``fp32``."""
        return "bf16" if self.amp_dtype == torch.bfloat16 else "fp32"

    @property
    def multi_label(self) -> bool:
        return self.model.spec.multi_label

    def predict_logits(self, texts: list[str]) -> np.ndarray:
        """Raw logits ``(N, C)`` in input order (before the temperature), texts batched by length; a long
        text's windows (``model.long_text``) are aggregated to one row."""
        spec = self.model.spec
        windows = encode_windows(self.tokenizer, list(texts), spec.max_length, spec.long_text)
        if not windows.ids:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        pad_id = self.tokenizer.pad_token_id or 0
        logits = predict_logits(self.model, windows.ids, pad_id, self.batch_size, self.amp_dtype)
        return aggregate_logits(logits, windows, spec.multi_label)

    def save(self, directory: str | Path) -> None:
        """Write the model files, thresholds.json and calibration.json: a directory ``from_dir`` loads."""
        directory = Path(directory)
        save_model(self.model, self.tokenizer, directory)
        write_thresholds(directory, self.labels, self.thresholds, fitted=True)
        temperature = self.temperature
        method = (
            "none" if np.all(temperature == 1) else "temperature" if temperature.size == 1 else "per_class"
        )
        write_calibration(directory, self.labels, method, temperature, ece={})


def bf16_autocast(device: str) -> torch.dtype:
    """``torch.bfloat16``, with a warning where the device has no fast bfloat16 arithmetic."""
    if device.startswith("cuda"):
        native = torch.cuda.is_bf16_supported()
    else:
        native = bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    if not native:
        logger.warning(
            "precision bf16 on %s, which has no native bfloat16 arithmetic: it runs emulated, slower than "
            "fp32; use precision fp32 here",
            device,
        )
    return torch.bfloat16
