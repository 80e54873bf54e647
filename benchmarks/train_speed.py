"""Training speed: mindscreen's loop against the plain Hugging Face Trainer, same data, same device.

Both fine-tune the same encoder (default: the embedded MiniLM) on the same training texts
at the same max length, batch size, learning rate and epochs, in one process. Printed per
loop: training samples/s and real (non-pad) tokens/s over the training steps only, model
FLOP utilisation (GPU only: 6 x non-embedding parameters x tokens, plus attention, against
the card's dense bf16 peak), peak GPU memory, and test macro-F1 (multi-label at 0.5, as the
Trainer recipe in ../shared/data/DATASETS.md; mindscreen also with its dev-fitted thresholds).

    python benchmarks/train_speed.py --dataset goemotions            # GPU: the full comparison
    python benchmarks/train_speed.py --smoke                         # CPU: seconds, a smoke test
    python benchmarks/train_speed.py --overhead                      # CPU: per-step host overhead

``--overhead`` swaps the encoder for a randomly initialised copy of its architecture with every
layer kept but the width cut to 8: the same operators run per step, so the same number of kernels
would be launched on a GPU, while the arithmetic shrinks to almost nothing (MiniLM at width 8:
26 ms per training step on this CPU against 90 ms at width 64, most of it per-operator cost). What
remains is mostly each loop's per-step host cost (Python, dispatch, collation, optimizer), the
cost that bounds small-encoder training on a GPU. Its F1 means nothing and is not printed.

Needs the `bench` extra (accelerate, for the Trainer).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import f1_score
from transformers import TrainerCallback

from mindscreen.config import load_config
from mindscreen.data import Splits, load_splits
from mindscreen.modeling import resolve_encoder
from mindscreen.probabilities import to_probabilities
from mindscreen.training import train

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
PEAK_BF16_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0}  # dense, no sparsity


def subsample(splits: Splits, n_train: int | None, n_test: int | None, seed: int = 0) -> Splits:
    from mindscreen.data import Split

    def take(split: Split, n: int | None) -> Split:
        if n is None or n >= len(split.texts):
            return split
        rows = np.sort(np.random.default_rng(seed).permutation(len(split.texts))[:n])
        return Split(split.name, [split.texts[i] for i in rows], split.labels[rows], split.source)

    test = take(splits.test, n_test) if splits.test is not None else None
    return Splits(
        take(splits.train, n_train), take(splits.dev, n_test), test, splits.label_names, splits.multi_label
    )


def macro_f1(labels: np.ndarray, probs: np.ndarray, multi_label: bool) -> float:
    if multi_label:
        return float(f1_score(labels, probs >= 0.5, average="macro", zero_division=0))
    return float(f1_score(labels.argmax(1), probs.argmax(1), average="macro"))


def peak_tflops() -> float | None:
    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name()
    return next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)


def flops_per_token(config, seq_len: float) -> float:
    """Training FLOPs per token: 6N for the matmuls plus 12·L·H·T for attention scores."""
    h, layers, inter = config.hidden_size, config.num_hidden_layers, config.intermediate_size
    params = layers * (4 * h * h + 2 * h * inter)
    return 6 * params + 12 * layers * h * seq_len


def mfu(tokens_per_s: float, config, seq_len: float) -> float | None:
    peak = peak_tflops()
    return None if peak is None else tokens_per_s * flops_per_token(config, seq_len) / (peak * 1e12)


def narrow_encoder(encoder: str, out: Path, width: int = 8) -> str:
    """A random encoder with ``encoder``'s layers, vocabulary and tokenizer but ``width`` hidden units."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    path = resolve_encoder(encoder)
    config = AutoConfig.from_pretrained(path)
    config.hidden_size, config.intermediate_size, config.num_attention_heads = width, 4 * width, 2
    torch.manual_seed(0)
    AutoModel.from_config(config).save_pretrained(out)
    AutoTokenizer.from_pretrained(path).save_pretrained(out)
    return str(out)


class StepClock(TrainerCallback):
    """Trainer callback timing the training loop alone, as mindscreen's clock does (setup excluded)."""

    def __init__(self) -> None:
        self.started = self.seconds = 0.0

    def _now(self) -> float:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return time.perf_counter()

    def on_train_begin(self, args, state, control, **kwargs) -> None:
        self.started = self._now()

    def on_train_end(self, args, state, control, **kwargs) -> None:
        self.seconds = self._now() - self.started


def run_trainer(splits: Splits, encoder: str, args: argparse.Namespace) -> dict:
    """The plain Trainer recipe: AutoModelForSequenceClassification, dynamic padding, bf16 on GPU."""
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
    )

    path = resolve_encoder(encoder)
    tokenizer = AutoTokenizer.from_pretrained(path)
    problem = "multi_label_classification" if splits.multi_label else "single_label_classification"
    model = AutoModelForSequenceClassification.from_pretrained(
        path, num_labels=len(splits.label_names), problem_type=problem, dtype=torch.float32
    )

    def rows(texts: list[str], labels: np.ndarray) -> list[dict]:
        enc = tokenizer(texts, truncation=True, max_length=args.max_length)
        targets = labels.astype(np.float32) if splits.multi_label else labels.argmax(1)
        return [
            {"input_ids": ids, "attention_mask": mask, "labels": target}
            for ids, mask, target in zip(enc["input_ids"], enc["attention_mask"], targets, strict=True)
        ]

    train_rows = rows(splits.train.texts, splits.train.labels)
    cuda = torch.cuda.is_available()
    with tempfile.TemporaryDirectory() as tmp:
        training_args = TrainingArguments(
            output_dir=tmp,
            per_device_train_batch_size=args.batch_size,
            per_device_eval_batch_size=args.batch_size,
            learning_rate=args.lr,
            num_train_epochs=args.epochs,
            warmup_steps=0.1,
            bf16=cuda,
            use_cpu=not cuda,
            save_strategy="no",
            eval_strategy="no",
            report_to=[],
            seed=0,
            disable_tqdm=True,
        )
        trainer = Trainer(
            model=model,
            args=training_args,
            train_dataset=train_rows,
            data_collator=DataCollatorWithPadding(tokenizer),
        )
        clock = StepClock()
        trainer.add_callback(clock)
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        trainer.train()
        seconds = clock.seconds
        logits = trainer.predict(rows(splits.test.texts, splits.test.labels)).predictions
    tokens = sum(len(r["input_ids"]) for r in train_rows) * args.epochs
    samples = len(train_rows) * args.epochs
    probs = to_probabilities(np.asarray(logits, dtype=np.float32), splits.multi_label)
    return {
        "samples_per_s": samples / seconds,
        "tokens_per_s": tokens / seconds,
        "mfu": mfu(tokens / seconds, model.config, tokens / samples),
        "peak_gpu_gib": torch.cuda.max_memory_allocated() / 2**30 if cuda else None,
        "test_macro_f1": macro_f1(splits.test.labels, probs, splits.multi_label),
        "train_seconds": seconds,
        "steps": int(trainer.state.global_step),
    }


def run_mindscreen(splits: Splits, encoder: str, args: argparse.Namespace, out: Path) -> dict:
    config = load_config(
        None,
        [
            f"model.encoder={encoder}",
            f"model.max_length={args.max_length}",
            f"train.batch_size={args.batch_size}",
            f"train.eval_batch_size={args.batch_size * 8}",
            f"train.lr={args.lr}",
            f"train.epochs={args.epochs}",
            "train.patience=null",
            "defaults_from_data=false",  # the same recipe as the Trainer's
            f"output_dir={out}",
            *args.overrides,
        ],
    )
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    result = train(config, overwrite=True, progress=False, splits=splits)  # the texts the Trainer saw
    timing = result.metrics["timing"]
    from transformers import AutoConfig

    encoder_config = AutoConfig.from_pretrained(resolve_encoder(encoder))
    return {
        "samples_per_s": timing["samples_per_s"],
        "tokens_per_s": timing["tokens_per_s"],
        "mfu": mfu(timing["tokens_per_s"], encoder_config, timing["tokens"] / timing["samples"]),
        "peak_gpu_gib": timing.get("peak_gpu_gib"),
        "test_macro_f1": result.metrics["test_default_thresholds"]["macro_f1"],
        "test_macro_f1_fitted": result.metrics["test"]["macro_f1"],
        "train_seconds": timing["train_seconds"],
        "steps": int(result.metrics["steps"]),
    }


def median_run(rows: list[dict]) -> dict:
    """The run with the median training time, plus every repeat's samples/s and ms/step."""
    for row in rows:
        row["ms_per_step"] = 1000 * row["train_seconds"] / max(1, row["steps"])
    median = sorted(rows, key=lambda row: row["train_seconds"])[len(rows) // 2]
    return median | {
        "repeats_samples_per_s": [row["samples_per_s"] for row in rows],
        "repeats_ms_per_step": [row["ms_per_step"] for row in rows],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", default="goemotions")
    parser.add_argument("--data-root", type=Path, default=SHARED)
    parser.add_argument("--encoder", default="minilm")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--epochs", type=float, default=3)
    parser.add_argument("--train-subsample", type=int)
    parser.add_argument("--test-subsample", type=int)
    parser.add_argument("--smoke", action="store_true", help="CPU smoke test: 256 texts, 1 epoch, length 64")
    parser.add_argument(
        "--overhead",
        action="store_true",
        help="CPU: per-step host overhead with a width-8 copy of the encoder (goemotions, 4,000 texts)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        help="Runs of each loop, alternating; the median is reported (default 1, 5 with --overhead)",
    )
    parser.add_argument("--out", type=Path, default=Path(".bench/train_speed"))
    parser.add_argument("overrides", nargs="*", help="extra key=value overrides for mindscreen's loop")
    args = parser.parse_args()
    if args.smoke:
        args.dataset, args.train_subsample, args.test_subsample = "dreaddit", 256, 128
        args.epochs, args.max_length = 1, 64
    if args.overhead:
        args.train_subsample = args.train_subsample or 4000
        args.test_subsample, args.epochs = args.test_subsample or 256, 1
        args.encoder = narrow_encoder(args.encoder, args.out / "narrow-encoder")
        args.repeats = args.repeats or 5
    args.repeats = args.repeats or 1
    splits = load_splits(load_config(None, [f"data.dir={args.data_root / args.dataset}"]).data)
    splits = subsample(splits, args.train_subsample, args.test_subsample)
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
    runs: dict[str, list[dict]] = {"trainer": [], "mindscreen": []}
    for _ in range(args.repeats):  # alternating, so drift in the machine's speed hits both loops
        runs["trainer"].append(run_trainer(splits, args.encoder, args))
        runs["mindscreen"].append(run_mindscreen(splits, args.encoder, args, args.out / "run"))
    results = {name: median_run(rows) for name, rows in runs.items()}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(
        json.dumps(
            {
                "device": device,
                "args": vars(args) | {"data_root": str(args.data_root), "out": str(args.out)},
                "results": results,
            },
            indent=2,
        )
    )
    print(
        f"\ndevice: {device}; dataset {args.dataset}, {len(splits.train.texts)} train texts, "
        f"max length {args.max_length}, batch {args.batch_size}, {args.epochs} epochs\n"
    )
    print("| loop | samples/s | tokens/s | ms/step | MFU | peak GPU GiB | test macro-F1 |")
    print("|---|---|---|---|---|---|---|")
    for name, row in results.items():
        mfu_text = "n/a" if row["mfu"] is None else f"{row['mfu']:.1%}"
        mem = "n/a" if row["peak_gpu_gib"] is None else f"{row['peak_gpu_gib']:.1f}"
        f1 = "n/a" if args.overhead else f"{row['test_macro_f1']:.3f}"
        print(
            f"| {name} | {row['samples_per_s']:.0f} | {row['tokens_per_s']:.0f} "
            f"| {row['ms_per_step']:.1f} | {mfu_text} | {mem} | {f1} |"
        )
    ratio = results["mindscreen"]["samples_per_s"] / results["trainer"]["samples_per_s"]
    print(f"\nspeed-up (samples/s, median of {args.repeats}): {ratio:.2f}x")
    for name, row in results.items():
        spread = ", ".join(f"{v:.1f}" for v in row["repeats_ms_per_step"])
        print(f"{name} ms/step per repeat: {spread}")


if __name__ == "__main__":
    main()
