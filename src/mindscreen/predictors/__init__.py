"""Every model kind behind one protocol, found and loaded through one registry.

- :mod:`~mindscreen.predictors.protocol`: :class:`Predictor` (the uniform method set), the shared
  :class:`CalibratedPredictor` half, :class:`LoadOptions`, :func:`predict_proba_chunked`.
- :mod:`~mindscreen.predictors.registry`: :data:`KINDS` (run, ensemble, TF-IDF, ONNX export) and
  :func:`load_predictor`, :func:`kind_of`, :func:`read_labels`, :func:`model_identity`.
- :mod:`~mindscreen.predictors.run`: :class:`RunPredictor`, a trained run (imports torch; load it
  through the registry so that other kinds never do).

Importing this package imports neither torch nor transformers.
"""

from mindscreen.predictors.protocol import (
    CHUNK,
    CalibratedPredictor,
    LoadOptions,
    Predictor,
    in_chunks,
    predict_proba_chunked,
)
from mindscreen.predictors.registry import (
    KIND_NAMES,
    KINDS,
    ModelKind,
    get_kind,
    kind_of,
    load_predictor,
    model_identity,
    read_labels,
)

__all__ = [
    "CHUNK",
    "KINDS",
    "KIND_NAMES",
    "CalibratedPredictor",
    "LoadOptions",
    "ModelKind",
    "Predictor",
    "get_kind",
    "in_chunks",
    "kind_of",
    "load_predictor",
    "model_identity",
    "predict_proba_chunked",
    "read_labels",
]
