"""The predictor protocol: one uniform method set for every model kind (run, ensemble, TF-IDF, ONNX).

Modelled on scikit-learn's uniform estimator methods and sentence-transformers' directory contract:
every kind answers the same calls and saves to / loads from a directory.

- ``predict_logits(texts) -> (N, C)``: raw scores before calibration (for an ensemble, the log-odds or
  log-probabilities of its combined probabilities);
- ``predict_proba(texts) -> (N, C)``: calibrated probabilities, sigmoids (multi-label) or softmax rows;
- ``member_probas(texts) -> (M, N, C)`` and ``combine(member_probs) -> (N, C)``: an ensemble's members
  and how they combine (a single model is one member, combined as itself): the pipeline flags texts
  members disagree on;
- ``decide(probs)`` and ``predict(texts)``: label names per text, with the kind's thresholds;
- ``save(directory)`` and ``from_dir(directory, options)``: the directory is the contract; ``from_dir``
  checks it and refuses with a message naming the file.

Shapes: ``N`` texts, ``M`` members, ``C`` classes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

import numpy as np
from tqdm.auto import tqdm

from mindscreen.probabilities import apply_temperature, to_probabilities
from mindscreen.thresholds import decide_labels

CHUNK = 1024  # texts per call over a file: bounded memory, a progress bar that moves
PRECISIONS = ("fp32", "bf16")  # LoadOptions.precision
RUNTIMES = ("onnxruntime", "openvino")  # LoadOptions.runtime: what runs an ONNX export
R = TypeVar("R")


@dataclass(frozen=True)
class LoadOptions:
    """How to load a model directory; each kind reads the options that concern it.

    Attributes:
        device: where torch models run ('auto': CUDA when available).
        batch_size: texts per forward pass.
        lazy: ensembles load each member's model on its first prediction instead of at once.
        int8: ONNX exports: run the int8 model (None: int8 when the export has it and its recorded
            check passed; see :mod:`mindscreen.export.variant`).
        allow_failed_int8: ONNX exports: also run an int8 model whose check failed or never ran.
        threads: ONNX exports: the runtime's threads (None: its default, all cores).
        precision: ``fp32``, or ``bf16`` for bfloat16 matrix products with the same labels in the
            project's measurements (BENCHMARKS.md), on a CPU with native bfloat16 (AVX512-BF16 or AMX;
            without it bf16 is slower, and mindscreen warns). Torch models (runs and their ensembles)
            run under bfloat16 autocast (normalisation and softmax in float32): 2.1-3.0x the HF
            pipeline's throughput. ONNX exports need ``runtime='openvino'`` for it (OpenVINO's bf16
            inference precision: 3.6-4.3x); ONNX Runtime runs them as exported, as does the TF-IDF screen.
        runtime: ONNX exports: ``onnxruntime``, or ``openvino`` (``mindscreen[openvino]``; CPU only),
            which also runs them in bf16.
    """

    device: str = "auto"
    batch_size: int = 64
    lazy: bool = False
    int8: bool | None = None
    allow_failed_int8: bool = False
    threads: int | None = None
    precision: str = "fp32"
    runtime: str = "onnxruntime"

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, got {self.runtime!r}")

    def with_changes(self, **changes: Any) -> LoadOptions:
        """A copy with ``changes`` applied (unknown names raise TypeError)."""
        return dataclasses.replace(self, **changes) if changes else self


@runtime_checkable
class Predictor(Protocol):
    """What every model kind implements (see the module docstring)."""

    kind: ClassVar[str]
    thresholds: np.ndarray

    @property
    def labels(self) -> list[str]: ...

    @property
    def multi_label(self) -> bool: ...

    def predict_logits(self, texts: list[str]) -> np.ndarray: ...

    def predict_proba(self, texts: list[str]) -> np.ndarray: ...

    def member_probas(self, texts: list[str]) -> np.ndarray: ...

    def combine(self, member_probs: np.ndarray) -> np.ndarray: ...

    def decide(self, probs: np.ndarray) -> list[list[str]]: ...

    def predict(self, texts: list[str]) -> list[list[str]]: ...

    def save(self, directory: str | Path) -> None: ...


class CalibratedPredictor:
    """The shared half of a single model: probabilities from its logits and temperature, labels from its
    thresholds. A kind supplies ``labels``, ``multi_label``, ``thresholds``, ``temperature`` and
    ``predict_logits``."""

    thresholds: np.ndarray
    temperature: np.ndarray

    @property
    def labels(self) -> list[str]:
        raise NotImplementedError

    @property
    def multi_label(self) -> bool:
        raise NotImplementedError

    def predict_logits(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """Calibrated probabilities ``(N, C)``: logits over the temperature(s), then sigmoid or softmax."""
        logits = apply_temperature(self.predict_logits(list(texts)), self.temperature)
        return to_probabilities(logits, self.multi_label)

    def member_probas(self, texts: list[str]) -> np.ndarray:
        """``(1, N, C)``: a single model is an ensemble of one."""
        return self.predict_proba(texts)[None]

    def combine(self, member_probs: np.ndarray) -> np.ndarray:
        """``(N, C)``: the one member's probabilities."""
        return np.asarray(member_probs)[0]

    def decide(self, probs: np.ndarray) -> list[list[str]]:
        """Label names per text from probabilities ``(N, C)``, with the per-class thresholds."""
        return decide_labels(probs, self.thresholds, self.labels, self.multi_label)

    def predict(self, texts: list[str]) -> list[list[str]]:
        """Labels per text (a multi-label text may get none)."""
        return self.decide(self.predict_proba(texts))


def in_chunks(
    texts: list[str], call: Callable[[list[str]], R], progress: bool = False, desc: str = "predict"
) -> list[R]:
    """``call`` on ``CHUNK`` texts at a time, one result per chunk, with a progress bar counting texts
    (shown when ``progress``; it never shows a text): bounded memory on large files."""
    parts = []
    with tqdm(total=len(texts), desc=desc, unit="text", disable=not progress) as bar:
        for start in range(0, len(texts), CHUNK):
            chunk = texts[start : start + CHUNK]
            parts.append(call(chunk))
            bar.update(len(chunk))
    return parts


def predict_proba_chunked(
    predictor: Predictor, texts: list[str], progress: bool = False, desc: str = "predict"
) -> np.ndarray:
    """``predictor.predict_proba(texts)`` (N, C), computed chunk by chunk (:func:`in_chunks`)."""
    parts = in_chunks(texts, predictor.predict_proba, progress, desc)
    return np.concatenate(parts) if parts else predictor.predict_proba([])
