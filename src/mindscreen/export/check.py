"""Whether an ONNX export computes what its run computes, within a stated tolerance.

Probabilities of the torch run (:class:`mindscreen.predictors.run.RunPredictor`) and of each exported variant
(:class:`~mindscreen.export.OnnxPredictor`) are compared on the same texts: the largest absolute
difference of any probability, and the share of texts whose thresholded labels differ. A variant passes
when its probabilities stay within 1e-4 for fp32 (float rounding only) or 0.05 for int8 (weights
rounded to 8 bits), and, for int8, its labels differ from torch's on at most 1% of the texts (at least
one text is allowed, so that a sample under 100 texts can pass: one borderline text may flip).

Where OpenVINO is installed and the CPU has native bfloat16, the fp32 model run by OpenVINO in bfloat16
(``--runtime openvino --precision bf16``) is checked too, under int8's limits, and recorded as
``openvino_bf16``: what a service running it reports. It is not part of the export's own verdict
(``passed``), which stays about the files written.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from mindscreen.export.onnx import EXPORT_FILE, export_onnx, read_export
from mindscreen.export.predictor import OnnxPredictor
from mindscreen.export.runtimes import OPENVINO_BF16, openvino_bf16_available
from mindscreen.rundir import read_json, write_json
from mindscreen.thresholds import apply_thresholds

logger = logging.getLogger(__name__)

TOLERANCE = {"fp32": 1e-4, "int8": 0.05, OPENVINO_BF16: 0.05}
LABEL_MISMATCH = {"int8": 0.01, OPENVINO_BF16: 0.01}  # largest share of texts whose labels may differ
CHECK_TEXTS = 200
CALIBRATION_TEXTS = 256


def check_export(
    run_dir: str | Path,
    export_dir: str | Path,
    texts: list[str],
    tolerance: dict[str, float] | None = None,
    save: bool = True,
) -> dict[str, Any]:
    """Compare torch and ONNX Runtime probabilities on ``texts``.

    Args:
        run_dir: the run the export came from.
        export_dir: the export directory.
        texts: texts to compare on (a few hundred from dev are plenty).
        tolerance: largest allowed absolute probability difference per variant (default :data:`TOLERANCE`).
        save: record the result in ``export.json`` under ``check``.

    Returns:
        Per variant: ``max_abs_diff``, ``tolerance``, ``label_mismatch_share`` and ``passed``; and
        ``passed`` for all variants together. With OpenVINO on a bfloat16 CPU, also ``openvino_bf16``
        (not part of ``passed``).
    """
    from mindscreen.predictors.run import RunPredictor

    if not texts:
        raise ValueError("check_export needs at least one text to compare on")
    limits = {**TOLERANCE, **(tolerance or {})}
    reference = RunPredictor.from_dir(run_dir, device="cpu").predict_proba(texts)  # (N, C)
    meta = read_export(export_dir)
    result: dict[str, Any] = {"num_texts": len(texts)}
    for variant in meta["files"]:
        onnx = OnnxPredictor.from_dir(export_dir, int8=variant == "int8", allow_failed_int8=True)
        result[variant] = _compare(onnx, reference, texts, variant, limits[variant])
    result["passed"] = all(result[v]["passed"] for v in meta["files"])
    if openvino_bf16_available():
        onnx = OnnxPredictor.from_dir(export_dir, int8=False, runtime="openvino", precision="bf16")
        result[OPENVINO_BF16] = _compare(onnx, reference, texts, OPENVINO_BF16, limits[OPENVINO_BF16])
    if save:
        path = Path(export_dir) / EXPORT_FILE
        write_json(path, {**read_json(path), "check": result})
    return result


def _compare(
    onnx: OnnxPredictor, reference: np.ndarray, texts: list[str], name: str, tolerance: float
) -> dict[str, Any]:
    """One check row: ``onnx``'s probabilities and labels on ``texts`` against torch's ``reference``."""
    probs = onnx.predict_proba(texts)  # (N, C)
    labels_torch = apply_thresholds(reference, onnx.thresholds, onnx.multi_label)
    labels_onnx = apply_thresholds(probs, onnx.thresholds, onnx.multi_label)
    diff = float(np.abs(probs - reference).max())
    changed = int((labels_torch != labels_onnx).any(axis=1).sum())
    share = LABEL_MISMATCH.get(name)
    allowed = len(texts) if share is None else max(1, int(share * len(texts)))
    return {
        "max_abs_diff": diff,
        "tolerance": tolerance,
        "label_mismatch_share": changed / len(texts),
        "label_mismatch_limit": share,
        "passed": diff <= tolerance and changed <= allowed,
    }


def export_run(
    run_dir: str | Path, output_dir: str | Path | None = None, int8: bool = True, overwrite: bool = False
) -> tuple[Path, dict[str, Any] | None]:
    """Export a run to ONNX and check it on up to 200 dev texts of the data the run was trained on.

    The int8 model is calibrated on up to 256 further dev texts (static quantisation; the first 200 when
    dev has no more), or quantised dynamically when the run's data cannot be read.

    Returns:
        The export directory and the check (see :func:`check_export`), or None when the run's data
        cannot be read from here (the export is written all the same; call :func:`check_export` with
        texts of your own).
    """
    from mindscreen.data import DataError, load_splits
    from mindscreen.rundir import run_data_config

    try:
        dev = load_splits(run_data_config(Path(run_dir))).dev.texts
    except (DataError, OSError) as err:
        logger.warning("export not checked: the run's data cannot be read (%s)", type(err).__name__)
        return export_onnx(run_dir, output_dir, int8=int8, overwrite=overwrite), None
    texts = dev[:CHECK_TEXTS]
    calibration = dev[CHECK_TEXTS:][:CALIBRATION_TEXTS] or texts
    output = export_onnx(run_dir, output_dir, int8=int8, overwrite=overwrite, calibration_texts=calibration)
    logger.info("checking the export against the run on %d dev texts", len(texts))
    return output, check_export(run_dir, output, texts)
