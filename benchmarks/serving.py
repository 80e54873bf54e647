"""Serving speed and accuracy on this machine's CPU: torch fp32, ONNX fp32, ONNX int8, and the pipeline.

For a run directory trained on a dataset of ../shared/data, measures on the test split:

- each backend (torch fp32, ONNX fp32, ONNX int8) running the transformer on every text: p50/p95
  latency of one text, throughput for batches (default 32 and 64), macro-F1 and the recall of the
  critical labels with the run's thresholds;
- the multistage pipeline (crisis lexicon + TF-IDF screen + transformer) against the transformer on
  every text with the same recall-floor thresholds, for stage 2 in torch fp32 and in ONNX int8: the same
  timings (through ``Pipeline.classify``), macro-F1, critical recall and the share decided at stage 1.

    python benchmarks/serving.py runs/dreaddit-minilm --critical stressed            # dreaddit
    python benchmarks/serving.py runs/depression-minilm --critical yes --floor 0.95   # depression_reddit
    python benchmarks/serving.py --smoke     # an untrained tiny encoder on the demo data, seconds

Prints a Markdown table and writes JSON (``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mindscreen.config import DataConfig, ModelConfig
from mindscreen.data import Splits, load_splits
from mindscreen.export import OnnxPredictor, check_export, export_onnx
from mindscreen.pipeline import Pipeline, Policy
from mindscreen.pipeline.fitting import build_pipeline
from mindscreen.pipeline.floors import recalls
from mindscreen.pipeline.lexicon import Lexicon
from mindscreen.pipeline.spec import validate_spec
from mindscreen.predictors.run import RunPredictor
from mindscreen.scores import macro_f1
from mindscreen.thresholds import apply_thresholds

STAGE1 = "stage 1 alone: lexicon + TF-IDF screen"


def timings(
    call: Callable[[list[str]], Any], texts: list[str], singles: int, batches: list[int]
) -> dict[str, float]:
    """p50/p95 latency (ms) of one text over ``singles`` texts, and texts/s for each batch size."""
    for text in texts[:3]:  # warm-up: first calls allocate and optimise
        call([text])
    latencies = []
    for text in texts[:singles]:
        started = time.perf_counter()
        call([text])
        latencies.append((time.perf_counter() - started) * 1000)
    out = {"p50_ms": float(np.percentile(latencies, 50)), "p95_ms": float(np.percentile(latencies, 95))}
    for size in batches:
        started = time.perf_counter()
        for start in range(0, len(texts), size):
            call(texts[start : start + size])
        out[f"texts_per_s_{size}"] = len(texts) / (time.perf_counter() - started)
    return out


def accuracy(y: np.ndarray, preds: np.ndarray, policy: Policy) -> dict[str, Any]:
    critical = [label for label, on in zip(policy.labels, policy.critical, strict=True) if on]
    return {
        "macro_f1": macro_f1(y, preds),
        "critical_recall": dict(zip(critical, recalls(y, preds, policy.critical), strict=True)),
    }


def bench_backends(
    run: Path, export: Path, splits: Splits, policy: Policy, args: argparse.Namespace
) -> dict[str, dict[str, Any]]:
    assert splits.test is not None
    texts, y = splits.test.texts[: args.max_texts], splits.test.labels[: args.max_texts]
    backends: dict[str, Any] = {
        "torch fp32": RunPredictor.from_dir(run, device="cpu"),
        "ONNX fp32": OnnxPredictor.from_dir(export, int8=False, threads=args.threads),
        # measured whatever its check says (the check is reported beside it)
        "ONNX int8": OnnxPredictor.from_dir(export, int8=True, threads=args.threads, allow_failed_int8=True),
    }
    rows = {}
    for name, predictor in backends.items():
        probs = predictor.predict_proba(texts)
        preds = apply_thresholds(probs, predictor.thresholds, predictor.multi_label)
        rows[name] = {
            **timings(predictor.predict_proba, texts, args.singles, args.batch_sizes),
            **accuracy(y, preds, policy),
        }
        print(name, json.dumps(rows[name]))
    return rows


def bench_pipelines(
    stage2: dict[str, Path], data: DataConfig, args: argparse.Namespace
) -> dict[str, dict[str, Any]]:
    rows = {}
    for backend, model_path in stage2.items():
        spec = validate_spec(
            {
                "model": str(model_path),
                "data": data.model_dump(),
                "critical_labels": args.critical,
                "safe_labels": args.safe,
                "recall_floor": args.floor,
            }
        )
        pipeline = build_pipeline(spec, allow_failed_int8=True)  # "ONNX int8" is int8, checked or not
        every = Pipeline(pipeline.model, pipeline.policy, pipeline.thresholds, lexicon=Lexicon.load())
        splits = load_splits(data)
        assert splits.test is not None
        texts = splits.test.texts[: args.max_texts]
        test = pipeline.report["test"]
        for name, runner, scores in (
            (f"transformer on every text ({backend})", every, test["model"]),
            (f"pipeline: screen + {backend}", pipeline, test["pipeline"]),
        ):
            rows[name] = {
                **timings(runner.classify, texts, args.singles, args.batch_sizes),
                "macro_f1": scores["macro_f1"],
                "critical_recall": scores["critical_recall"],
                "screen_share": scores["screen_share"],
                "review_share": scores["review_share"],
                "dev_critical_recall": pipeline.report["dev"]["pipeline" if runner is pipeline else "model"][
                    "critical_recall"
                ],
            }
            if runner is pipeline:
                rows[name]["cutoff"] = pipeline.cutoff
            print(name, json.dumps(rows[name]))
        if pipeline.screen is not None and STAGE1 not in rows:
            rows[STAGE1] = timings(
                stage_one(pipeline.screen, Lexicon.load()),
                texts,
                args.singles,
                args.batch_sizes,
            )
    return rows


def stage_one(screen: Any, lexicon: Lexicon) -> Callable[[list[str]], Any]:
    """What stage 1 computes for every text: crisis-phrase flags and the screen's probabilities."""
    return lambda batch: (lexicon.flags(batch), screen.predict_proba(batch))


def smoke_run(folder: Path) -> Path:
    """An untrained tiny BERT classifier on the demo labels, saved as a run directory (no training)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import AutoModel, BertConfig, PreTrainedTokenizerFast

    from mindscreen.modeling import build_model, save_model
    from mindscreen.rundir import write_json, write_thresholds
    from mindscreen.thresholds import default_thresholds

    splits = load_splits(DataConfig(dir="demo"))
    words = sorted({w for t in splits.train.texts for w in t.lower().split()})
    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *words])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]"
    )
    encoder_dir = folder / "tiny-bert"
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
    )
    AutoModel.from_config(config).save_pretrained(encoder_dir)
    tokenizer.save_pretrained(encoder_dir)
    model, tok = build_model(ModelConfig(encoder=str(encoder_dir), max_length=48), splits.label_names, True)
    run = folder / "run"
    save_model(model, tok, run)
    write_thresholds(run, splits.label_names, default_thresholds(len(splits.label_names), True), fitted=False)
    write_json(run / "metrics.json", {"note": "smoke: untrained"})
    return run


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run", nargs="?", type=Path, help="A run directory (MiniLM on a shared dataset).")
    parser.add_argument("--data", help="Data folder (default: the data the run was trained on).")
    parser.add_argument("--critical", nargs="+", default=None, help="Critical labels, e.g. stressed.")
    parser.add_argument(
        "--safe", nargs="*", default=None, help="Safe labels (default: binary: the other one)."
    )
    parser.add_argument("--floor", type=float, default=0.95, help="Recall floor of the critical labels.")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--singles", type=int, default=100, help="Texts timed one at a time.")
    parser.add_argument("--max-texts", type=int, default=None, help="Use at most this many test texts.")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch and ONNX Runtime threads.")
    parser.add_argument("--out", type=Path, default=Path(".bench/serving/results.json"))
    parser.add_argument("--smoke", action="store_true", help="Untrained tiny model on the demo data.")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    workdir = Path(tempfile.mkdtemp(prefix="mindscreen-serving-"))
    if args.smoke:
        args.run, args.data = smoke_run(workdir), "demo"
        args.critical, args.safe = ["suicidal_ideation", "self_harm"], ["neutral"]
        args.singles, args.batch_sizes = 10, [32]
    if args.run is None or not args.critical:
        parser.error("give a run directory and --critical LABEL [...] (or --smoke)")
    from mindscreen.rundir import run_data_config

    data = DataConfig(dir=args.data) if args.data else run_data_config(args.run)
    splits = load_splits(data)
    if args.safe is None:
        binary = not splits.multi_label and len(splits.label_names) == 2
        args.safe = [label for label in splits.label_names if label not in args.critical] if binary else []
    policy = Policy.build(splits.label_names, splits.multi_label, args.critical, args.safe)
    started = time.perf_counter()
    export = export_onnx(args.run, workdir / "onnx", int8=True)
    export_s = time.perf_counter() - started
    assert splits.test is not None
    check = check_export(args.run, export, splits.dev.texts[:200])
    rows = bench_backends(args.run, export, splits, policy, args)
    rows.update(bench_pipelines({"torch fp32": args.run, "ONNX int8": export}, data, args))
    device = (
        f"CPU ({platform.processor() or platform.machine()}, {args.threads} threads, {os.cpu_count()} cores)"
    )
    result = {
        "device": device,
        "run": str(args.run),
        "data": data.dir,
        "test_texts": len(splits.test.texts[: args.max_texts]),
        "critical": args.critical,
        "safe": args.safe,
        "floor": args.floor,
        "export_seconds": export_s,
        "onnx_check": check,
        "rows": rows,
        "smoke": args.smoke,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print_table(result, args.batch_sizes)


def print_table(result: dict[str, Any], batch_sizes: list[int]) -> None:
    print(f"\ndevice: {result['device']}; data: {result['data']} test ({result['test_texts']} texts)")
    print(f"critical: {', '.join(result['critical'])}; recall floor {result['floor']}")
    check = result["onnx_check"]
    print(
        f"ONNX vs torch max |dprob|: fp32 {check['fp32']['max_abs_diff']:.1e} "
        f"(tol {check['fp32']['tolerance']}), int8 {check['int8']['max_abs_diff']:.1e} "
        f"(tol {check['int8']['tolerance']})\n"
    )
    sizes = " | ".join(f"texts/s @{b}" for b in batch_sizes)
    print(
        f"| path | p50 1 text (ms) | p95 1 text (ms) | {sizes} | macro-F1 | critical recall | stage-1 share |"
    )
    print("|---|---|---|" + "---|" * len(batch_sizes) + "---|---|---|")
    for name, row in result["rows"].items():
        speeds = " | ".join(f"{row[f'texts_per_s_{b}']:.0f}" for b in batch_sizes)
        recall = ", ".join("-" if r is None else f"{r:.3f}" for r in row.get("critical_recall", {}).values())
        share = f"{row['screen_share']:.2f}" if "screen_share" in row else "-"
        f1 = f"{row['macro_f1']:.3f}" if "macro_f1" in row else "-"
        latency = f"{row['p50_ms']:.2f} | {row['p95_ms']:.2f}"
        print(f"| {name} | {latency} | {speeds} | {f1} | {recall or '-'} | {share} |")
    if result["smoke"]:
        print("\nsmoke run: an untrained tiny encoder; the numbers only show that every path runs.")


if __name__ == "__main__":
    main()
