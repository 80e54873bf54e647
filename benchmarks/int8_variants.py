"""int8 variants of one run's ONNX graph against the run itself: labels, probabilities, batch dependence.

For one run directory (issue 15): the fp32 graph is exported twice, as the exporter writes it and fused
for ONNX Runtime (``mindscreen.export.optimize.fuse_for_ort``), and each variant named in ``--variants``
is built from one of them. On the first ``--texts`` test texts of each dataset (only the texts are used:
the model is the run's), each variant is compared with the run's torch predictor:

- same labels: the share of texts whose labels, thresholded with the run's thresholds, equal torch's;
- max |Δp|: the largest probability difference from torch;
- batch dependence: the largest probability change between scoring all the texts in one call and in
  calls of 32 (0: a text's answer does not depend on which texts share its batch);
- size (MB), p50 of one text (ms) over ``--singles`` texts, texts/s over the first 128 texts in calls
  of 32: one round each, indicative only.

``--run-texts`` (default 64, the predictor's batch when this sweep was first run) caps the texts per
``session.run``, so "one call" and "calls of 32" give different batch-mates. A variant's name is made of
these tokens, joined by ``_``:

    fp32 | fused         a float graph as it is: unfused | fused
    fused                (as a prefix) start from the fused graph, else from the unfused one
    dyn | qdq            dynamic quantisation | static QDQ calibrated on ``--calibration`` dev texts
    pc                   per-channel weights (else per-tensor)
    mm                   dyn only: quantise only MatMul and Gemm (else every op ORT quantises)
    u8                   qdq only: uint8 activations with a zero point (else int8, symmetric)
    pct                  qdq only: percentile 99.99 calibration (else MinMax)
    nohead               exclude the graph's last two weight products (the classifier head) by node name
    noffn                exclude the weight products that narrow the width (more inputs than outputs)
    export               what ``mindscreen export`` writes (``quantize_int8`` on the fused graph)

Exclusion is by node name, as ONNX Runtime takes it; its dynamic quantiser rewrites a Gemm to a MatMul
of another name first, so ``nohead``/``noffn`` do not keep Gemm nodes in float in ``dyn`` variants.

    python benchmarks/int8_variants.py .bench/runs/dreaddit64 --threads 2
    python benchmarks/int8_variants.py --smoke   # an untrained tiny encoder on the demo texts, seconds

Prints a Markdown table and writes JSON (``--out``) and the variants' graphs (``--workdir``).
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from cpu_paths import machine, test_texts, versions  # benchmarks/cpu_paths.py
from onnx_batch import texts_per_run  # benchmarks/onnx_batch.py

from mindscreen.export import OnnxPredictor, export_onnx
from mindscreen.export.onnx import FP32_FILE
from mindscreen.export.optimize import _Batches, _DropMessage, quantize_int8, weight_matmuls
from mindscreen.predictors.run import RunPredictor
from mindscreen.thresholds import apply_thresholds

TABLE_VARIANTS = [  # the rows of BENCHMARKS.md's table, in its order
    "dyn",
    "dyn_pc_nohead",
    "fused_dyn_pc_nohead",
    "fused_dyn_pc_noffn",
    "qdq_pc_nohead",
    "fused_qdq_pc_nohead",
    "qdq_pc_u8_nohead",
    "fused_qdq_pc_u8_pct",
    "fused_qdq_pc_u8_noffn",
]
TOKENS = {"fp32", "fused", "dyn", "qdq", "pc", "mm", "u8", "pct", "nohead", "noffn", "export"}
HEAD_PRODUCTS = 2
CALL_TEXTS = 32
TIMED_TEXTS = 128


@dataclass(frozen=True)
class Recipe:
    """One variant, read from its name (see the module docstring)."""

    name: str
    tokens: frozenset[str]

    @classmethod
    def parse(cls, name: str) -> Recipe:
        tokens = frozenset(name.split("_"))
        unknown = tokens - TOKENS
        kinds = tokens & {"fp32", "dyn", "qdq", "export"}
        if unknown or (len(kinds) != 1 and name != "fused"):
            raise ValueError(f"variant {name!r}: unknown tokens {sorted(unknown)} or not one of fp32/dyn/qdq")
        return cls(name, tokens)

    def build(self, graphs: dict[str, Path], calibration: list[list[int]], pad_id: int) -> Path:
        """Write this variant beside the float graphs (once) and return its path."""
        from onnxruntime.quantization import (
            CalibrationMethod,
            QuantFormat,
            QuantType,
            quantize_dynamic,
            quantize_static,
        )

        source = graphs["fused" if "fused" in self.tokens else "fp32"]
        if self.tokens & {"fp32"} or self.name == "fused":
            return source
        target = source.with_name(f"{self.name}.onnx")
        if "export" in self.tokens:
            quantize_int8(graphs["fused"], target, calibration, pad_id)
            return target
        weights = weight_matmuls(source)  # name -> (inputs, outputs), in graph order
        excluded = list(weights)[-HEAD_PRODUCTS:] if "nohead" in self.tokens else []
        if "noffn" in self.tokens:
            excluded += [name for name, (k, n) in weights.items() if k > n]
        if "dyn" in self.tokens:
            quantize_dynamic(
                str(source),
                str(target),
                weight_type=QuantType.QInt8,
                per_channel="pc" in self.tokens,
                op_types_to_quantize=["MatMul", "Gemm"] if "mm" in self.tokens else None,
                nodes_to_exclude=excluded,
            )
            return target
        unsigned = "u8" in self.tokens
        quantize_static(
            str(source),
            str(target),
            _Batches(calibration, pad_id) if "pct" not in self.tokens else SameWidth(calibration, pad_id),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=["MatMul", "Gemm"],
            per_channel="pc" in self.tokens,
            activation_type=QuantType.QUInt8 if unsigned else QuantType.QInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=excluded,
            calibrate_method=CalibrationMethod.Percentile
            if "pct" in self.tokens
            else CalibrationMethod.MinMax,
            extra_options={
                "MatMulConstBOnly": True,
                "ActivationSymmetric": not unsigned,
                "CalibPercentile": 99.99,
            },
        )
        return target


class SameWidth:
    """Calibration batches of 16 texts, all padded to the longest text (attention mask 0 on padding):
    ORT's percentile collector stacks the batches, so they need one shape."""

    def __init__(self, ids: list[list[int]], pad_id: int) -> None:
        width = max(map(len, ids))
        self._batches = iter(
            {"input_ids": np.array(chunk[0]), "attention_mask": np.array(chunk[1])}
            for chunk in (
                (
                    [row + [pad_id] * (width - len(row)) for row in ids[i : i + 16]],
                    [[1] * len(row) + [0] * (width - len(row)) for row in ids[i : i + 16]],
                )
                for i in range(0, len(ids), 16)
            )
        )

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._batches, None)


def float_graphs(run: Path, folder: Path) -> tuple[Path, dict[str, Path]]:
    """An fp32 export of ``run`` in ``folder/export`` (fused, loadable) and the unfused graph in ``folder``;
    the variants are written beside the graph they start from."""
    from mindscreen.export.onnx import _export_fp32
    from mindscreen.modeling import load_model

    export = export_onnx(run, folder / "export", int8=False, overwrite=True)
    model, tokenizer = load_model(run)
    _export_fp32(model.eval(), tokenizer, folder / "fp32.onnx")
    return export, {"fp32": folder / "fp32.onnx", "fused": export / FP32_FILE}


def measure(
    predictor: OnnxPredictor, reference: np.ndarray, texts: list[str], singles: int
) -> dict[str, float]:
    """Agreement with the torch probabilities ``reference``, batch dependence and speed on ``texts``."""
    probs = predictor.predict_proba(texts)
    chunks = [predictor.predict_proba(texts[i : i + CALL_TEXTS]) for i in range(0, len(texts), CALL_TEXTS)]
    ours = apply_thresholds(probs, predictor.thresholds, predictor.multi_label)
    theirs = apply_thresholds(reference, predictor.thresholds, predictor.multi_label)
    latencies = []
    for text in texts[:singles]:
        started = time.perf_counter()
        predictor.predict_proba([text])
        latencies.append((time.perf_counter() - started) * 1000)
    timed = texts[:TIMED_TEXTS]
    started = time.perf_counter()
    for i in range(0, len(timed), CALL_TEXTS):
        predictor.predict_proba(timed[i : i + CALL_TEXTS])
    return {
        "same_labels": float((ours == theirs).all(axis=1).mean()),
        "max_abs_diff": float(np.abs(probs - reference).max()),
        "batch_dependence": float(np.abs(np.concatenate(chunks) - probs).max()),
        "p50_ms": statistics.median(latencies),
        "texts_per_s_32": len(timed) / (time.perf_counter() - started),
    }


def sweep(args: argparse.Namespace) -> dict[str, Any]:
    """Every variant on every dataset's texts against the run's torch predictor."""
    import onnxruntime as ort

    recipes = [Recipe.parse(name) for name in args.variants]  # fail on a bad name before any work
    export, graphs = float_graphs(args.run, args.workdir)
    base = OnnxPredictor.from_dir(export, int8=False, threads=args.threads, batch_size=args.run_texts)
    texts = {name: test_texts(name, args.texts) for name in args.datasets}
    torch_run = RunPredictor.from_dir(args.run, device="cpu")
    reference = {name: torch_run.predict_proba(some) for name, some in texts.items()}
    calibration = base.tokenizer.encode(test_texts(args.calibration_data, args.calibration, "dev"))
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = args.threads
    rows: dict[str, Any] = {}
    for recipe in recipes:
        path = recipe.build(graphs, calibration, base.tokenizer.pad_id)
        predictor = copy.copy(base)
        predictor.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        row: dict[str, Any] = {"mb": path.stat().st_size / 1e6, "datasets": {}}
        with texts_per_run(args.run_texts):
            for name, some in texts.items():
                row["datasets"][name] = measure(predictor, reference[name], some, args.singles)
        rows[recipe.name] = row
        print(recipe.name, json.dumps(row), flush=True)
    return rows


def print_table(result: dict[str, Any]) -> None:
    print(f"\n{result['machine']}; {result['versions']}; {result['texts']} texts per dataset\n")
    names = result["datasets"]
    header = ["variant", "MB"]
    for name in names:
        header += [f"same labels, {name}", f"max |Δp| {name}", f"batch dep. {name}", f"p50 ms {name}"]
        header += [f"texts/s @32 {name}"]
    print("| " + " | ".join(header).replace("|Δp|", "\\|Δp\\|") + " |")
    print("|" + "---|" * len(header))
    for variant, row in result["rows"].items():
        cells = [variant, f"{row['mb']:.1f}"]
        for name in names:
            m = row["datasets"][name]
            cells += [f"{m['same_labels']:.2%}", f"{m['max_abs_diff']:.2f}", f"{m['batch_dependence']:.2g}"]
            cells += [f"{m['p50_ms']:.2f}", f"{m['texts_per_s_32']:.0f}"]
        print("| " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run", nargs="?", type=Path, help="A trained run directory.")
    parser.add_argument("--variants", nargs="+", default=["fused", *TABLE_VARIANTS, "export"])
    parser.add_argument("--datasets", nargs="+", default=["dreaddit", "goemotions"])
    parser.add_argument("--texts", type=int, default=400, help="Test texts per dataset.")
    parser.add_argument("--calibration", type=int, default=128, help="Dev texts that calibrate qdq.")
    parser.add_argument("--calibration-data", default="dreaddit", help="Dataset whose dev texts calibrate.")
    parser.add_argument("--singles", type=int, default=40, help="Texts timed one at a time.")
    parser.add_argument("--run-texts", type=int, default=64, help="Texts per session.run at most.")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--workdir", type=Path, default=Path(".bench/int8_variants/graphs"))
    parser.add_argument("--out", type=Path, default=Path(".bench/int8_variants/results.json"))
    parser.add_argument("--smoke", action="store_true", help="An untrained tiny encoder on the demo data.")
    args = parser.parse_args()
    if args.smoke:
        from serving import smoke_run  # benchmarks/serving.py

        folder = Path(tempfile.mkdtemp(prefix="mindscreen-int8-variants-"))
        args.run, args.workdir = smoke_run(folder), folder / "graphs"
        args.datasets, args.calibration_data, args.texts, args.calibration, args.singles = (
            ["demo"],
            "demo",
            64,
            32,
            5,
        )
    if args.run is None:
        parser.error("give a run directory (or --smoke)")
    logging.getLogger().addFilter(_DropMessage("Please consider"))  # ORT's pre-processing advice: noise here
    result = {
        "machine": machine(args.threads),
        "versions": versions(),
        "run": str(args.run),
        "texts": args.texts,
        "datasets": args.datasets,
        "calibration": f"{args.calibration} dev texts of {args.calibration_data}",
        "run_texts": args.run_texts,
        "rows": sweep(args),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print_table(result)


if __name__ == "__main__":
    main()
