"""Which model of an export directory runs: int8 only when its recorded check passed.

``export.json`` records, per variant, the torch-vs-ONNX Runtime check of
:func:`~mindscreen.export.check_export`. The rule:

- fp32 always runs when asked for; it is the fallback.
- int8 runs by default only when its recorded check **passed**. An int8 model whose check failed, or
  that was never checked (``export.json`` without a check, e.g. an export whose run data was not
  readable), runs only when the caller opts in: ``allow_failed_int8=True`` in Python,
  ``--allow-failed-int8`` on ``predict``, ``evaluate`` and ``serve``. Without the opt-in, the default
  choice falls back to fp32 with a warning saying why, and an explicit ``int8=True`` is refused.

:func:`describe_variant` says what a loaded model runs, for ``/v1/model`` and the
``mindscreen_model_variant`` metric: fixed values only (:data:`VARIANTS`, :data:`CHECKS`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

VARIANTS = ("native", "onnx_fp32", "onnx_int8")  # native: a run, ensemble or linear model (no export)
CHECKS = ("passed", "failed", "unchecked", "none")  # none: not an export, nothing to check
OPT_IN = "allow_failed_int8=True (--allow-failed-int8)"


def check_status(meta: dict[str, Any], variant: str) -> str:
    """``passed``, ``failed`` or ``unchecked``: what ``export.json`` records for ``variant``."""
    row = (meta.get("check") or {}).get(variant)
    if not isinstance(row, dict) or "passed" not in row:
        return "unchecked"
    return "passed" if row["passed"] else "failed"


def choose_variant(
    meta: dict[str, Any], directory: Path, int8: bool | None = None, allow_failed_int8: bool = False
) -> str:
    """The variant to load, ``fp32`` or ``int8``, by the rule of this module.

    Args:
        meta: the export's ``export.json``.
        directory: the export directory, for messages.
        int8: True: int8 (refused when its check did not pass, unless allowed); False: fp32;
            None: int8 when the export has it and it may run, else fp32.
        allow_failed_int8: run an int8 model whose check failed or never ran.

    Raises:
        FileNotFoundError: int8 asked for, but the export has none.
        ValueError: int8 asked for, its check did not pass, and ``allow_failed_int8`` is False.
    """
    if int8 is False:
        return "fp32"
    if "int8" not in meta["files"]:
        if int8:
            raise FileNotFoundError(f"{directory} has no int8 model; export again with --int8")
        return "fp32"
    status = check_status(meta, "int8")
    if status == "passed":
        return "int8"
    why = _why(meta, status)
    if allow_failed_int8:
        if int8 is None:  # int8=True as well is a deliberate request (check_export, benchmarks): no warning
            logger.warning("%s: running the int8 model although it %s (opted in)", directory.name, why)
        return "int8"
    if int8:
        raise ValueError(
            f"{directory}: the int8 model {why}; use fp32 (int8=False) or pass {OPT_IN} to run it anyway"
        )
    logger.warning(
        "%s: running fp32, not int8: the int8 model %s. Pass %s to run int8 anyway",
        directory.name,
        why,
        OPT_IN,
    )
    return "fp32"


def _why(meta: dict[str, Any], status: str) -> str:
    if status == "unchecked":
        return "was never checked against torch (export.json holds no check; run `mindscreen export` again)"
    row = meta["check"]["int8"]
    labels = ""
    if row.get("label_mismatch_limit") is not None:
        share, limit = row["label_mismatch_share"], row["label_mismatch_limit"]
        labels = f"; labels differ on {share:.1%} of texts, limit {limit:.0%}"
    return (
        f"failed its check (max |prob torch - prob onnx| {row['max_abs_diff']:.2e}, "
        f"tolerance {row['tolerance']:g}{labels})"
    )


def describe_variant(model: object) -> dict[str, Any]:
    """What ``model`` runs: ``variant`` (one of :data:`VARIANTS`), ``check`` (one of :data:`CHECKS`)
    and, for an export whose check ran, ``max_abs_diff`` and ``tolerance`` of that check (run on ONNX
    Runtime at fp32, whatever runs the export now); its ``precision`` (``fp32``, or ``bf16``: bfloat16
    autocast for a native model, OpenVINO's bf16 inference for an export), and for an export its
    ``runtime`` (``onnxruntime`` or ``openvino``)."""
    variant = getattr(model, "variant", None)
    check = getattr(model, "export_check", None)
    if variant not in ("fp32", "int8") or not isinstance(check, dict):
        precision = getattr(model, "precision", "fp32")
        return {
            "variant": "native",
            "check": "none",
            "max_abs_diff": None,
            "tolerance": None,
            "precision": precision,
        }
    status = check_status({"check": {variant: check}}, variant) if check else "unchecked"
    return {
        "variant": f"onnx_{variant}",
        "check": status,
        "max_abs_diff": check.get("max_abs_diff"),
        "tolerance": check.get("tolerance"),
        "precision": getattr(model, "precision", "fp32"),
        "runtime": getattr(model, "runtime", "onnxruntime"),
    }
