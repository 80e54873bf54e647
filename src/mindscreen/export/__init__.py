"""The fast CPU path: ONNX export (fp32 and dynamic int8) run by ONNX Runtime, checked against torch.

- :mod:`~mindscreen.export.onnx`: :func:`export_onnx` writes a standalone export directory.
- :mod:`~mindscreen.export.predictor`: :class:`OnnxPredictor` with ``predict_proba`` like a run's.
- :mod:`~mindscreen.export.check`: :func:`check_export`, torch vs ORT within a stated tolerance;
  :func:`export_run` exports and checks on the run's dev texts (what ``mindscreen export`` calls).
- :mod:`~mindscreen.export.hf`: ``export_transformers``, a folder plain ``transformers`` loads (remote
  code in :mod:`~mindscreen.export.hf_remote`), for ``mindscreen export --format transformers``. Not
  imported here: the ONNX path must load neither torch nor transformers.
- :mod:`~mindscreen.export.variant`: int8 runs only when its recorded check passed, unless opted in.
"""

from mindscreen.export.check import TOLERANCE, check_export, export_run
from mindscreen.export.onnx import default_export_dir, export_onnx, is_export_dir
from mindscreen.export.predictor import OnnxPredictor
from mindscreen.export.variant import describe_variant

__all__ = [
    "TOLERANCE",
    "OnnxPredictor",
    "check_export",
    "default_export_dir",
    "describe_variant",
    "export_onnx",
    "export_run",
    "is_export_dir",
]
