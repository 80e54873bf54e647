"""The runtimes that run an ONNX export: ONNX Runtime (the default) and OpenVINO.

Both are behind one call, ``session.run(["logits"], {"input_ids": ..., "attention_mask": ...})``, ONNX
Runtime's own, so :class:`~mindscreen.export.OnnxPredictor` batches, calibrates and thresholds alike
whatever runs the graph.

OpenVINO (``pip install 'mindscreen[openvino]'``, CPU only) reads the same ``model.onnx`` and is here for
one reason: on a CPU with native bfloat16 (AVX512-BF16, AMX) it runs the export's matrix products in
bfloat16 (``precision='bf16'``), which ONNX Runtime's CPU provider cannot. At ``fp32`` it is asked for
float32 explicitly, since its default on such CPUs is bfloat16. mindscreen calls only
``Core.read_model`` and ``compile_model``; OpenVINO's telemetry lives in its model converter, which is
never called.
"""

from __future__ import annotations

import logging
import queue
from pathlib import Path
from typing import Any

import numpy as np

from mindscreen.contract import FIX, ContractError
from mindscreen.extras import require_extras
from mindscreen.predictors.protocol import LoadOptions

logger = logging.getLogger(__name__)

OPENVINO_BF16 = "openvino_bf16"  # export.json's check key for the fp32 model run by OpenVINO in bf16


def openvino_bf16_available() -> bool:
    """Whether OpenVINO is installed and this CPU has native bfloat16 (where bf16 runs as bf16)."""
    import importlib.util

    if importlib.util.find_spec("openvino") is None:
        return False
    import openvino

    return _native_bf16(openvino.Core())


def _native_bf16(core: Any) -> bool:
    return "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")


# Texts per session.run (length-sorted). ONNX Runtime: on 2 CPU cores calls of 32 texts ran 1.0-1.4x
# faster in batches of 8 than of 64 (BENCHMARKS.md, issue 15). OpenVINO in bf16 gains from larger ones.
RUN_TEXTS = {"onnxruntime": 8, "openvino": 32}


def open_session(path: Path, options: LoadOptions) -> Any:
    """A session for the ONNX model at ``path`` on ``options.runtime`` (threads, precision)."""
    if options.runtime == "openvino":
        return OpenVinoSession(path, options.precision, options.threads)
    from mindscreen.export.onnx import import_onnxruntime

    ort = import_onnxruntime()
    if options.precision != "fp32":
        logger.warning(
            "ONNX Runtime runs %s as exported (fp32 arithmetic, or int8); precision %s applies to ONNX "
            "exports on runtime openvino (--runtime openvino)",
            path.name,
            options.precision,
        )
    session_options = ort.SessionOptions()
    session_options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if options.threads is not None:
        session_options.intra_op_num_threads = options.threads
    try:
        return ort.InferenceSession(str(path), session_options, providers=["CPUExecutionProvider"])
    except Exception as err:  # ORT raises its own types for a truncated or corrupt model
        reason = type(err).__name__
        raise ContractError(f"{path} cannot be loaded by ONNX Runtime ({reason}); {FIX}") from None


class OpenVinoSession:
    """An ONNX model compiled by OpenVINO for the CPU, answering ONNX Runtime's ``run`` call.

    Safe to call from several threads at once: each call takes an inference request from a pool
    (OpenVINO's requests are not), creating one when all are busy.
    """

    def __init__(self, path: Path, precision: str = "fp32", threads: int | None = None) -> None:
        require_extras("running an ONNX export on OpenVINO (--runtime openvino)", "openvino")
        import openvino

        core = openvino.Core()
        if precision == "bf16" and not _native_bf16(core):
            logger.warning(
                "precision bf16 on a CPU without native bfloat16 arithmetic: OpenVINO runs the export in "
                "fp32 here; use precision fp32"
            )
        config: dict[str, Any] = {
            "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32",
            "PERFORMANCE_HINT": "LATENCY",
            # OpenVINO pins its threads to cores by default: several processes on one machine (Ray
            # workers, services) would each pin to the same first cores. Unpinned ran as fast here.
            "ENABLE_CPU_PINNING": False,
        }
        if threads is not None:
            config["INFERENCE_NUM_THREADS"] = threads
        try:
            self.compiled = core.compile_model(core.read_model(str(path)), "CPU", config)
        except Exception as err:  # OpenVINO raises RuntimeError with its own text for a bad model
            reason = type(err).__name__
            raise ContractError(f"{path} cannot be loaded by OpenVINO ({reason}); {FIX}") from None
        self._output = self.compiled.output("logits")
        self._requests: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def run(self, names: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """``[logits]`` for ``feeds`` (``names`` must be ``["logits"]``, the export's one output)."""
        if list(names) != ["logits"]:
            raise ValueError(f"an export has one output, 'logits'; asked for {names}")
        try:
            request = self._requests.get_nowait()
        except queue.Empty:
            request = self.compiled.create_infer_request()
        try:
            logits = np.array(request.infer(feeds)[self._output], dtype=np.float32)  # a copy: the
            # request's buffer is reused by its next call
        finally:
            self._requests.put(request)
        return [logits]
