"""Exporting a run to ONNX (fused fp32, and int8) as a standalone directory.

The export never writes into the run directory (``train`` owns that contract)::

    EXPORT/                default: <run>-onnx/ beside the run
      export.json          marker: source run, opset, exporter, files, the torch-vs-ORT check
      model.onnx           encoder + pooler + head -> logits, dynamic batch and sequence axes, with
                           ONNX Runtime's fused attention/LayerNorm/GELU (:mod:`~.optimize`)
      model.int8.onnx      the same with int8 weights, when asked for: static QDQ calibrated on the
                           texts given, else dynamic (:func:`~.optimize.quantize_int8`)
      tokenizer/           the run's tokenizer
      model.json           labels, task, max length (copied from the run)
      thresholds.json      decision thresholds (copied)
      calibration.json     temperature(s) (copied, when the run has them)
      config.yaml          the run's resolved config (copied: `evaluate`/`predict` read its data columns)

torch 2.13's default exporter (``dynamo=True``, via ``torch.export`` and onnxscript) is used at opset
18; an encoder it cannot trace falls back to the TorchScript exporter (``dynamo=False``).
"""

from __future__ import annotations

import contextlib
import io
import logging
import shutil
import warnings
from pathlib import Path
from typing import Any

from mindscreen.export.optimize import fuse_for_ort, quantize_int8
from mindscreen.rundir import (
    CALIBRATION_FILE,
    CONFIG_FILE,
    THRESHOLDS_FILE,
    fresh_output_dir,
    read_json,
    require_run_dir,
    write_json,
)

logger = logging.getLogger(__name__)

EXPORT_FILE = "export.json"
FP32_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
TOKENIZER_DIR = "tokenizer"
FORMAT = "mindscreen-onnx"
OPSET = 18
_EXAMPLE_TEXTS = ["an example text to trace the model", "and a second, somewhat longer one to pad the batch"]


def is_export_dir(path: str | Path) -> bool:
    return (Path(path) / EXPORT_FILE).is_file()


def import_onnxruntime() -> Any:
    """The ``onnxruntime`` module, or an error saying which extra installs it."""
    from mindscreen.extras import require_extras

    require_extras("running an ONNX export", "onnxruntime")
    import onnxruntime

    return onnxruntime


def default_export_dir(run_dir: str | Path) -> Path:
    run_dir = Path(run_dir).resolve()
    return run_dir.with_name(f"{run_dir.name}-onnx")


def export_onnx(
    run_dir: str | Path,
    output_dir: str | Path | None = None,
    int8: bool = True,
    overwrite: bool = False,
    calibration_texts: list[str] | None = None,
) -> Path:
    """Export a run directory's classifier to ONNX, optionally with an int8 copy.

    Args:
        run_dir: a finished run directory.
        output_dir: where to write (default ``<run>-onnx`` beside the run).
        int8: also write ``model.int8.onnx`` (int8 weights of the dense layers, per channel).
        overwrite: replace an existing export directory.
        calibration_texts: texts (a few hundred of the run's dev split) that fix the int8 model's
            activation ranges (static quantisation); None: dynamic quantisation.

    Returns:
        The export directory, loadable with :meth:`~mindscreen.export.OnnxPredictor.from_dir`.
    """
    from mindscreen.inference.encoding import encode_texts
    from mindscreen.modeling import MODEL_FILE, load_model

    run_dir = Path(run_dir)
    require_run_dir(run_dir)
    output = fresh_output_dir(
        Path(output_dir) if output_dir is not None else default_export_dir(run_dir), overwrite
    )
    model, tokenizer = load_model(run_dir)
    exporter = _export_fp32(model.eval(), tokenizer, output / FP32_FILE)
    fusions = fuse_for_ort(output / FP32_FILE)
    files, int8_method = {"fp32": FP32_FILE}, None
    if int8:
        ids = encode_texts(tokenizer, calibration_texts or [], model.spec.max_length) or None
        int8_method = quantize_int8(output / FP32_FILE, output / INT8_FILE, ids, tokenizer.pad_token_id or 0)
        files["int8"] = INT8_FILE
    tokenizer.save_pretrained(output / TOKENIZER_DIR)
    for name in (MODEL_FILE, THRESHOLDS_FILE, CALIBRATION_FILE, CONFIG_FILE):
        if (run_dir / name).is_file():
            shutil.copy2(run_dir / name, output / name)
    write_json(
        output / EXPORT_FILE,
        {
            "format": FORMAT,
            "version": 1,
            "source_run": str(run_dir.resolve()),
            "opset": OPSET,
            "exporter": exporter,
            "fusions": fusions,
            "int8_method": int8_method,
            "files": files,
        },
    )
    return output


def _export_fp32(model: Any, tokenizer: Any, path: Path) -> str:
    """Write ``model`` to ``path``; returns which exporter worked."""
    import torch

    batch = tokenizer(_EXAMPLE_TEXTS, padding=True, return_tensors="pt")
    args = (batch["input_ids"], batch["attention_mask"])
    inputs, outputs = ["input_ids", "attention_mask"], ["logits"]
    batch_dim, seq_dim = torch.export.Dim("batch"), torch.export.Dim("seq")
    quiet = contextlib.redirect_stdout(io.StringIO())
    with warnings.catch_warnings(), quiet:
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(
                model,
                args,
                str(path),
                dynamo=True,
                opset_version=OPSET,
                external_data=False,
                verbose=False,
                dynamic_shapes={
                    "input_ids": {0: batch_dim, 1: seq_dim},
                    "attention_mask": {0: batch_dim, 1: seq_dim},
                },
                input_names=inputs,
                output_names=outputs,
            )
            return "dynamo"
        except Exception as err:  # any tracing failure: the TorchScript exporter handles more encoders
            logger.warning(
                "dynamo ONNX export failed (%s); falling back to the TorchScript exporter", type(err).__name__
            )
        axes = {
            "input_ids": {0: "batch", 1: "seq"},
            "attention_mask": {0: "batch", 1: "seq"},
            "logits": {0: "batch"},
        }
        torch.onnx.export(
            model,
            args,
            str(path),
            dynamo=False,
            opset_version=17,
            dynamic_axes=axes,
            input_names=inputs,
            output_names=outputs,
        )
    return "torchscript"


def read_export(path: str | Path) -> dict[str, Any]:
    """The ``export.json`` of an export directory, checked."""
    path = Path(path)
    if not is_export_dir(path):
        raise FileNotFoundError(
            f"{path} is not a mindscreen ONNX export (expected {EXPORT_FILE}); "
            "create one with `mindscreen export RUN`"
        )
    meta: dict[str, Any] = read_json(path / EXPORT_FILE)
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path / EXPORT_FILE} is not a {FORMAT} file; export the run again")
    return meta
