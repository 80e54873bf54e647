"""Ensemble members at prediction time: a trained run or a TF-IDF model, as raw logits plus a temperature.

Shapes: ``N`` texts, ``C`` classes.

The ensemble works on each member's raw logits and divides them by its own temperature, fitted on dev
when the ensemble is built (:func:`mindscreen.calibration.fit_temperature`, one ``T`` per member). It
does not use a run's ``calibration.json``, so the probabilities the weights are fitted on (from cached
logits) and the ones it predicts with (from texts) are the same function of the logits for every kind
of member. A member's model loads on first use: rebuilding from cached logits loads no encoder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np

from mindscreen.linear import LINEAR_FILE, LinearPredictor, is_linear_dir, to_probabilities
from mindscreen.modeling import MODEL_FILE
from mindscreen.predictor import Predictor
from mindscreen.rundir import METRICS_FILE, is_run_dir, read_json
from mindscreen.training.checkpoint import has_checkpoint

MemberKind = Literal["run", "linear"]


class Member:
    """A member: name, kind (``run`` or ``linear``), directory, temperature; its model loads lazily.

    Raises:
        FileNotFoundError: ``path`` is not a finished run directory (kind ``run``) or a linear model
            directory (kind ``linear``).
    """

    def __init__(
        self, name: str, kind: MemberKind, path: Path, temperature: float = 1.0, device: str = "auto"
    ) -> None:
        self.name = name
        self.kind = kind
        self.path = Path(path)
        self.temperature = temperature
        self.device = device
        if kind == "run":
            require_finished_run(self.path, name)
        elif not is_linear_dir(self.path):
            raise FileNotFoundError(f"member {name!r}: no {LINEAR_FILE} in {self.path}; rebuild the ensemble")
        meta = read_json(self.path / (MODEL_FILE if kind == "run" else LINEAR_FILE))
        self.labels: list[str] = list(meta["labels"])
        self.multi_label = bool(meta["multi_label"])
        self._model: Predictor | LinearPredictor | None = None

    @property
    def model(self) -> Predictor | LinearPredictor:
        """The member's predictor, loaded on first use."""
        if self._model is None:
            if self.kind == "linear":
                self._model = LinearPredictor.from_dir(self.path)
            else:
                self._model = Predictor.from_dir(self.path, device=self.device)
        return self._model

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory yet."""
        return self._model is not None

    def load(self) -> Member:
        """Load the model now (e.g. at service start-up rather than on the first request)."""
        _ = self.model
        return self

    def logits(self, texts: list[str]) -> np.ndarray:
        """Raw logits ``(N, C)`` of ``texts`` (before any temperature)."""
        texts = list(texts)
        if isinstance(self.model, LinearPredictor):
            return self.model.predict_logits(texts)
        return run_logits(self.model, texts)

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        """Calibrated probabilities ``(N, C)`` from raw logits: ``probs(logits / T)``."""
        return to_probabilities(np.asarray(logits, dtype=np.float64) / self.temperature, self.multi_label)

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """Calibrated probabilities ``(N, C)`` of ``texts``."""
        return self.probabilities(self.logits(texts))


def run_logits(predictor: Predictor, texts: list[str]) -> np.ndarray:
    """Raw logits ``(N, C)`` of a trained run (no calibration applied)."""
    from mindscreen.inference import predict_logits
    from mindscreen.training.batching import encode_texts

    ids = encode_texts(predictor.tokenizer, texts, predictor.model.spec.max_length)
    if not ids:
        return np.zeros((0, len(predictor.labels)))
    pad_id = predictor.tokenizer.pad_token_id or 0
    return predict_logits(predictor.model, ids, pad_id, predictor.batch_size).astype(np.float64)


def is_finished_run(path: Path) -> bool:
    """A run directory that ``train`` completed: weights, metrics, and no checkpoint left to resume."""
    return is_run_dir(path) and (path / METRICS_FILE).is_file() and not has_checkpoint(path)


def require_finished_run(path: Path, name: str) -> None:
    if is_finished_run(path):
        return
    if is_linear_dir(path):
        raise ValueError(
            f"member {name!r}: {path} is a linear model; list it as `linear:` or load it directly"
        )
    raise FileNotFoundError(
        f"member {name!r}: {path} is not a finished mindscreen run directory (expected model.json, "
        "head.safetensors and metrics.json, and no checkpoint left to resume); finish it with "
        "`mindscreen train --resume` or list it as `config:` so the ensemble trains it"
    )


def check_labels(member: Member, labels: list[str], multi_label: bool) -> None:
    """Raise a clear error when a member's label set, order or task differs from the ensemble data's."""
    if member.labels == labels and member.multi_label == multi_label:
        return
    task = "multi-label" if multi_label else "multi-class"
    member_task = "multi-label" if member.multi_label else "multi-class"
    raise ValueError(
        f"member {member.name!r} ({member.path}) predicts {member_task} labels {member.labels}, but the "
        f"ensemble data is {task} with labels {labels}; members must share the label set and its order. "
        "Train the member on the same data, or set data.labels to the members' order"
    )
