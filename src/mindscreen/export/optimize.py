"""Faster graphs for ONNX Runtime on CPU: fused fp32, and int8 that keeps its answers.

- :func:`fuse_for_ort`: onnxscript's ONNX Runtime fusions (multi-head attention, SkipLayerNorm,
  bias-GELU) on the exported fp32 graph. The exporter writes attention as a dozen small ops; fused,
  ORT runs its own attention kernel. The arithmetic is the same up to float rounding (the export
  check holds fp32 to 1e-4).
- :func:`quantize_int8`: int8 weights of the dense layers, per output channel. With calibration texts,
  static quantisation (QDQ, uint8 activations with a zero point) with activation ranges fixed on those
  texts, so a text's answer does not depend on which texts share its batch; without, dynamic
  quantisation (activation ranges computed per batch). Kept in float either way: the classifier head,
  attention's own products (only products with a constant weight are quantised) and the products that
  narrow the width (the feed-forward down-projections, whose inputs hold the outliers that moved most
  answers: on a MiniLM dreaddit run, label agreement with torch was 94% with them quantised (unfused
  graph) and 98.5% with them in float (fused graph; fusing alone changed agreement by at most 1.5
  points elsewhere); BENCHMARKS.md, issue 15).

Shapes: ``B`` batch, ``T`` tokens.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

HEAD_MATMULS = 2  # the classifier head's dense layers (the last weight products of the graph) stay float
CALIBRATION_BATCH = 16


def fuse_for_ort(path: Path) -> dict[str, int]:
    """Rewrite the ONNX model at ``path`` in place with ONNX Runtime's fused operators.

    Returns:
        How many of each fusion were applied (empty when nothing matched, e.g. an unfamiliar encoder).
    """
    import onnxscript.ir as ir
    from onnxscript.rewriter.ort_fusions import optimize_for_ort

    model, counts = optimize_for_ort(ir.load(str(path)))
    applied = {name: int(n) for name, n in counts.items() if n}
    if applied:
        ir.save(model, str(path))
    return applied


def quantize_int8(
    source: Path, target: Path, calibration: list[list[int]] | None = None, pad_id: int = 0
) -> str:
    """Write an int8 copy of ``source`` to ``target``.

    Args:
        source: the fp32 model.
        target: where the int8 model goes.
        calibration: token ids of texts to fix the activation ranges on (static QDQ); None: dynamic.
        pad_id: the tokenizer's padding id, for the calibration batches.

    Returns:
        The method used: ``static_qdq`` or ``dynamic``.
    """
    from mindscreen.export.onnx import import_onnxruntime

    import_onnxruntime()
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static

    weights = weight_matmuls(source)
    kept = [name for name, (k, n) in weights.items() if k > n] + list(weights)[-HEAD_MATMULS:]
    chosen = {"op_types_to_quantize": ["MatMul", "Gemm"], "nodes_to_exclude": sorted(set(kept))}
    # ORT suggests its shape-inference pre-processing, which cannot handle the dynamo export's
    # symbolic shapes; quantisation works without it, so the advice is only noise here.
    advice = _DropMessage("Please consider")
    logging.getLogger().addFilter(advice)
    try:
        if not calibration:
            # The dynamic quantiser splits each Gemm into ``<name>_MatMul`` + ``<name>_Add`` before it
            # reads the exclusions, so the split names are excluded too (else the head is quantised).
            split = [f"{name}_MatMul" for name in kept]
            dynamic = {**chosen, "nodes_to_exclude": sorted(set(kept) | set(split))}
            quantize_dynamic(
                str(source), str(target), weight_type=QuantType.QInt8, per_channel=True, **dynamic
            )
            return "dynamic"
        quantize_static(
            str(source),
            str(target),
            _Batches(calibration, pad_id),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            extra_options={"MatMulConstBOnly": True},
            **chosen,
        )
        return "static_qdq"
    finally:
        logging.getLogger().removeFilter(advice)


def weight_matmuls(path: Path) -> dict[str, tuple[int, int]]:
    """The graph's matrix products with a constant weight, in graph order: name -> (inputs, outputs)."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    shapes = {tensor.name: tuple(tensor.dims) for tensor in graph.initializer}
    found = {}
    for node in graph.node:
        weight = shapes.get(node.input[1]) if len(node.input) > 1 else None
        if node.op_type in ("MatMul", "Gemm") and weight is not None and len(weight) == 2:
            transposed = any(a.name == "transB" and a.i == 1 for a in node.attribute)
            found[node.name] = (weight[1], weight[0]) if transposed else (weight[0], weight[1])
    return found


class _Batches:
    """Calibration batches for ONNX Runtime: texts of similar length, each batch padded to its longest."""

    def __init__(self, ids: list[list[int]], pad_id: int) -> None:
        self._batches = self._make(ids, pad_id)

    @staticmethod
    def _make(ids: list[list[int]], pad_id: int) -> Iterator[dict[str, np.ndarray]]:
        order = np.argsort(-np.array([len(row) for row in ids]), kind="stable")
        for start in range(0, len(order), CALIBRATION_BATCH):
            rows = [ids[i] for i in order[start : start + CALIBRATION_BATCH]]
            input_ids = np.full((len(rows), max(map(len, rows))), pad_id, dtype=np.int64)  # (B, T)
            mask = np.zeros_like(input_ids)  # (B, T)
            for r, row in enumerate(rows):
                input_ids[r, : len(row)], mask[r, : len(row)] = row, 1
            yield {"input_ids": input_ids, "attention_mask": mask}

    def get_next(self) -> dict[str, Any] | None:
        return next(self._batches, None)

    def rewind(self) -> None:  # ORT calls it on some calibration paths; one pass is all it needs here
        pass


class _DropMessage(logging.Filter):
    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)
