"""Ensemble members at prediction time: any member kind of the registry, as raw logits plus a temperature.

Shapes: ``N`` texts, ``C`` classes.

A member is a directory of a kind the registry marks as a possible member (a trained run, a TF-IDF
model, an ONNX export); its predictor loads through :func:`~mindscreen.predictors.load_predictor`. The
ensemble works on each member's raw logits and divides them by its own temperature, fitted on dev when
the ensemble is built (:func:`mindscreen.calibration.fit_temperature`, one ``T`` per member). It does
not use a member's own ``calibration.json``, so the probabilities the weights are fitted on (from cached
logits) and the ones it predicts with (from texts) are the same function of the logits for every kind.
A member's model loads on first use: rebuilding from cached logits loads no encoder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mindscreen.predictors import (
    KINDS,
    LoadOptions,
    ModelKind,
    Predictor,
    get_kind,
    load_predictor,
    read_labels,
)
from mindscreen.probabilities import to_probabilities
from mindscreen.rundir import METRICS_FILE, has_checkpoint, is_run_dir


class Member:
    """A member: name, directory, kind, temperature; its predictor loads lazily.

    Args:
        name: its name in weights and metrics.
        path: its directory.
        kind: the registry kind; None: found from the directory.
        temperature: its temperature, fitted on dev by the ensemble.
        options: how to load its predictor (device, batch size).

    Raises:
        FileNotFoundError: ``path`` holds no member kind (or an unfinished run).
        ValueError: ``path`` holds a kind that cannot be a member (an ensemble).
    """

    def __init__(
        self,
        name: str,
        path: str | Path,
        kind: str | None = None,
        temperature: float = 1.0,
        options: LoadOptions | None = None,
    ) -> None:
        self.name, self.path = name, Path(path)
        found = require_member(self.path, name, get_kind(kind) if kind is not None else None)
        self.kind = found.name
        self.temperature = temperature
        self.options = options or LoadOptions()
        self.labels, self.multi_label = read_labels(self.path)
        self._predictor: Predictor | None = None

    @property
    def model_kind(self) -> ModelKind:
        return get_kind(self.kind)

    @property
    def predictor(self) -> Predictor:
        """The member's predictor, loaded on first use."""
        if self._predictor is None:
            self._predictor = load_predictor(self.path, self.options)
        return self._predictor

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory yet."""
        return self._predictor is not None

    def load(self) -> Member:
        """Load the model now (e.g. at service start-up rather than on the first request)."""
        _ = self.predictor
        return self

    def logits(self, texts: list[str]) -> np.ndarray:
        """Raw logits ``(N, C)`` of ``texts`` (before any temperature), float64."""
        return np.asarray(self.predictor.predict_logits(list(texts)), dtype=np.float64)

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        """Calibrated probabilities ``(N, C)`` from raw logits: ``probs(logits / T)``."""
        return to_probabilities(np.asarray(logits, dtype=np.float64) / self.temperature, self.multi_label)

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """Calibrated probabilities ``(N, C)`` of ``texts``."""
        return self.probabilities(self.logits(texts))


def is_finished_run(path: Path) -> bool:
    """A run directory that ``train`` completed: weights, metrics, and no checkpoint left to resume."""
    return is_run_dir(path) and (path / METRICS_FILE).is_file() and not has_checkpoint(path)


def require_member(path: Path, name: str, kind: ModelKind | None = None) -> ModelKind:
    """The kind of member ``path`` holds (``kind`` when given, checked); errors say what to do instead.

    A directory holding no kind's marker is taken for a run whose training has not written it yet.
    """
    found = kind or next((k for k in KINDS if k.matches(path)), get_kind("run"))
    if not found.member:
        raise ValueError(
            f"member {name!r}: {path} is a {found.name} directory, which cannot be an ensemble member; "
            "members are trained runs, TF-IDF models and ONNX exports"
        )
    if found.name == "run" and not is_finished_run(path):
        raise FileNotFoundError(
            f"member {name!r}: {path} is not a finished mindscreen run directory (expected model.json, "
            "head.safetensors and metrics.json, and no checkpoint left to resume); finish it with "
            "`mindscreen train --resume` or list it as `config:` so the ensemble trains it"
        )
    if not found.matches(path):
        raise FileNotFoundError(f"member {name!r}: no {found.marker} in {path}; rebuild the ensemble")
    return found


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
