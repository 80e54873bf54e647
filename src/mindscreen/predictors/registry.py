"""The registry of model kinds: which directory holds which kind, and how to load it.

One entry per kind: the marker file that identifies its directory, the class that loads it (imported on
first use, so loading an ONNX export or a TF-IDF model never imports torch), the JSON file that names
its labels, the files whose bytes identify a fitted model (the ensemble cache keys on them), and whether
it can be an ensemble member or a pipeline's stage-2 model. ``load_predictor``, ensemble members, the
ensemble cache and the pipeline store all go through it. A new kind is one module implementing
:class:`~mindscreen.predictors.protocol.Predictor` and one entry in :data:`KINDS`.
"""

from __future__ import annotations

import hashlib
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mindscreen.rundir import read_json

if TYPE_CHECKING:
    from mindscreen.predictors.protocol import LoadOptions, Predictor


@dataclass(frozen=True)
class ModelKind:
    """One kind of model directory.

    Attributes:
        name: the kind's name (ensemble.json records it for each member).
        marker: the file whose presence identifies a directory of this kind.
        target: ``module:Class`` implementing the predictor protocol, imported on first use.
        labels_file: JSON file holding ``labels`` and ``multi_label``.
        identity_files: files whose bytes change whenever the model is refitted.
        member: whether it can be an ensemble member (and so a pipeline's stage-2 model).
        embed: ensembles save members of this kind inside their own folder (small models).
    """

    name: str
    marker: str
    target: str
    labels_file: str
    identity_files: tuple[str, ...]
    member: bool = True
    embed: bool = False

    def matches(self, path: Path) -> bool:
        return (Path(path) / self.marker).is_file()

    def load_class(self) -> type[Predictor]:
        module, _, name = self.target.partition(":")
        loaded: type[Predictor] = getattr(importlib.import_module(module), name)
        return loaded


# In the order a directory is tested: an export also holds a model.json, so runs come last.
KINDS: tuple[ModelKind, ...] = (
    ModelKind(
        "onnx",
        "export.json",
        "mindscreen.export.predictor:OnnxPredictor",
        "model.json",
        ("export.json", "model.json", "model.onnx"),
    ),
    ModelKind(
        "ensemble",
        "ensemble.json",
        "mindscreen.ensemble.predictor:Ensemble",
        "ensemble.json",
        ("ensemble.json", "thresholds.json"),
        member=False,
    ),
    ModelKind(
        "linear",
        "linear.json",
        "mindscreen.linear:LinearPredictor",
        "linear.json",
        ("linear.json", "weights.safetensors"),
        embed=True,
    ),
    ModelKind(
        "run",
        "model.json",
        "mindscreen.predictors.run:RunPredictor",
        "model.json",
        ("model.json", "head.safetensors"),
    ),
)
KIND_NAMES = tuple(kind.name for kind in KINDS)


def get_kind(name: str) -> ModelKind:
    """The kind called ``name``; a ValueError lists the known kinds."""
    for kind in KINDS:
        if kind.name == name:
            return kind
    raise ValueError(f"unknown model kind {name!r}; known kinds: {', '.join(KIND_NAMES)}")


def kind_of(path: str | Path) -> ModelKind:
    """The kind of model directory ``path`` holds.

    Raises:
        FileNotFoundError: not a directory, or no kind's marker file in it (the message lists them).
    """
    path = Path(path)
    for kind in KINDS:
        if kind.matches(path):
            return kind
    expected = ", ".join(f"{kind.name} ({kind.marker})" for kind in KINDS)
    what = "is not a directory" if not path.is_dir() else "holds no model mindscreen can load"
    raise FileNotFoundError(
        f"{path} {what}: expected a directory holding one of: {expected}. Pass the output_dir of "
        "`mindscreen train`, `mindscreen ensemble` or `mindscreen export`, or a TF-IDF model directory"
    )


def load_predictor(path: str | Path, options: LoadOptions | None = None, **changes: Any) -> Predictor:
    """Load whatever model directory ``path`` holds: a run, an ensemble, a TF-IDF model or an ONNX export.

    Args:
        path: the directory; its kind is found by :func:`kind_of`.
        options: how to load it; ``changes`` override single fields (``device="cpu"``).

    Raises:
        FileNotFoundError, ValueError: not a model directory, or one that breaks its contract (a file
            missing, unreadable or inconsistent); the message names the file.
    """
    return kind_of(path).load_class().from_dir(path, options, **changes)  # type: ignore[attr-defined]


def read_labels(path: str | Path) -> tuple[list[str], bool]:
    """The labels and task of a model directory, read without loading the model."""
    path = Path(path)
    kind = kind_of(path)
    meta = read_json(path / kind.labels_file)
    try:
        labels, multi_label = list(meta["labels"]), bool(meta["multi_label"])
    except (KeyError, TypeError) as err:
        raise ValueError(
            f"{path / kind.labels_file} has no 'labels' list and 'multi_label' flag ({err}); "
            "the directory is damaged: restore it or create it again"
        ) from None
    return labels, multi_label


def model_identity(path: str | Path) -> str:
    """A hash of the files that change whenever the model in ``path`` is refitted (its kind says which)."""
    path = Path(path)
    digest = hashlib.sha256()
    for name in kind_of(path).identity_files:
        if (path / name).is_file():
            digest.update((path / name).read_bytes())
    return digest.hexdigest()
