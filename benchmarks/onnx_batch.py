"""Texts/s of an ONNX export against the number of texts per ``session.run`` (issue 15).

``OnnxPredictor`` sorts the texts of a call by length and runs them through its session in batches of
at most ``run_texts`` (``mindscreen.export.runtimes.RUN_TEXTS``: 8 on ONNX Runtime, 32 on OpenVINO). This
sweep sets that cap to each ``--run-texts`` value in turn and times the export's models (``--models``,
fp32 and int8) on ``--runtime`` at ``--precision`` on the first ``--texts`` test texts of each dataset
(only the texts are used, so any export can be timed on both): texts/s over all texts in calls of 32,
rounds alternating the settings (``--rounds``), medians reported. A failed int8 check does not stop the
int8 rows (``allow_failed_int8``).

    python benchmarks/onnx_batch.py .bench/runs/dreaddit64-onnx --texts 256 --rounds 3 --threads 2
    python benchmarks/onnx_batch.py .bench/runs/dreaddit64-onnx --runtime openvino --precision bf16 \
        --models fp32 --run-texts 64 32 16 8
    python benchmarks/onnx_batch.py --smoke      # an untrained tiny encoder on the demo texts, seconds

The argument is an export directory, or a run directory, exported first to ``<run>-onnx`` beside it as
``mindscreen export`` does. Prints a Markdown table and writes JSON (``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from cpu_paths import machine, test_texts, versions  # benchmarks/cpu_paths.py

from mindscreen.export import OnnxPredictor, export_run
from mindscreen.export.onnx import is_export_dir

CALL_TEXTS = 32  # texts per predict_proba call, as in benchmarks/cpu_paths.py


def texts_per_second(predictor: OnnxPredictor, texts: list[str]) -> float:
    """Texts/s over ``texts`` in calls of :data:`CALL_TEXTS`."""
    started = time.perf_counter()
    for start in range(0, len(texts), CALL_TEXTS):
        predictor.predict_proba(texts[start : start + CALL_TEXTS])
    return len(texts) / (time.perf_counter() - started)


def load(export: Path, model: str, count: int, args: argparse.Namespace) -> OnnxPredictor:
    """The export's ``model`` (fp32 or int8) running at most ``count`` texts per ``session.run``."""
    predictor = OnnxPredictor.from_dir(
        export,
        int8=model == "int8",
        allow_failed_int8=True,
        threads=args.threads,
        batch_size=count,
        runtime=args.runtime,
        precision=args.precision,
    )
    predictor.run_texts = count
    return predictor


def sweep(export: Path, texts: dict[str, list[str]], args: argparse.Namespace) -> dict[str, Any]:
    """Median texts/s for each dataset, model (fp32, int8) and texts-per-run setting."""
    settings = [(model, count) for model in args.models for count in args.run_texts]
    predictors = {(model, count): load(export, model, count, args) for model, count in settings}
    rows: dict[str, Any] = {}
    for dataset, some in texts.items():
        for predictor in predictors.values():  # warm-up
            predictor.predict_proba(some[:8])
        samples: dict[tuple[str, int], list[float]] = {key: [] for key in settings}
        for _ in range(args.rounds):
            for (model, count), predictor in predictors.items():
                samples[(model, count)].append(texts_per_second(predictor, some))
        for (model, count), values in samples.items():
            row = {
                "dataset": dataset,
                "model": model,
                "run_texts": count,
                "texts_per_s": statistics.median(values),
            }
            rows[f"{dataset} | {model} | {count}"] = row
            print(json.dumps(row), flush=True)
    return rows


def print_table(result: dict[str, Any]) -> None:
    rows = result["rows"].values()
    columns = sorted({(r["dataset"], r["model"]) for r in rows}, key=lambda c: (c[0], c[1] != "fp32"))
    print(
        f"\n{result['machine']}; {result['versions']}; {result['runtime']} at {result['precision']}; "
        f"{result['texts']} texts per dataset\n"
    )
    print("| texts per run | " + " | ".join(f"{model} {dataset}" for dataset, model in columns) + " |")
    print("|---|" + "---|" * len(columns))
    for count in result["run_texts"]:
        cells = [f"{result['rows'][f'{d} | {m} | {count}']['texts_per_s']:.0f}" for d, m in columns]
        print(f"| {count} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model", nargs="?", type=Path, help="An export directory (or a run to export).")
    parser.add_argument("--datasets", nargs="+", default=["dreaddit", "goemotions"])
    parser.add_argument("--run-texts", type=int, nargs="+", default=[64, 16, 8, 4])
    parser.add_argument("--texts", type=int, default=256, help="Test texts per dataset.")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--models", nargs="+", choices=["fp32", "int8"], default=["fp32", "int8"])
    parser.add_argument("--runtime", choices=["onnxruntime", "openvino"], default="onnxruntime")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--out", type=Path, default=Path(".bench/onnx_batch/results.json"))
    parser.add_argument("--smoke", action="store_true", help="An untrained tiny encoder on the demo data.")
    args = parser.parse_args()
    if args.smoke:
        from serving import smoke_run  # benchmarks/serving.py

        args.model = smoke_run(Path(tempfile.mkdtemp(prefix="mindscreen-onnx-batch-")))
        args.datasets, args.texts, args.rounds, args.run_texts = ["demo"], 64, 1, [16, 4]
    if args.model is None:
        parser.error("give an export or run directory (or --smoke)")
    export = args.model
    if not is_export_dir(export):
        export, _ = export_run(export, export.parent / f"{export.name}-onnx", int8=True, overwrite=True)
    texts = {name: test_texts(name, args.texts) for name in args.datasets}
    result: dict[str, Any] = {
        "machine": machine(args.threads),
        "versions": versions(),
        "export": str(export),
        "runtime": args.runtime,
        "precision": args.precision,
        "texts": args.texts,
        "calls_of": CALL_TEXTS,
        "rounds": args.rounds,
        "run_texts": args.run_texts,
        "rows": sweep(export, texts, args),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print_table(result)


if __name__ == "__main__":
    main()
