"""Ablation of the imbalance techniques: a plain baseline, each technique alone, all together.

Fine-tunes the embedded MiniLM encoder with mindscreen's loop, with the same seeds and data for
every row, on a multi-label dataset (goemotions) and a multi-class one (sad) from ../shared/data.
The baseline is the plain recipe: cross-entropy/BCE, no class weights, no sampling, no
augmentation, thresholds at their defaults (argmax, 0.5), no calibration. Every other row switches
on one technique (``all`` switches on every one). Columns, on the test split: macro-F1, weighted
F1, F1 of the three rarest classes (by count in the training data used), ECE (of the probabilities
the run predicts with), and the seconds ``train`` took (training, per-epoch evaluation and the end
of run). Prints a Markdown table with the machine, and writes every number to JSON.

    python benchmarks/ablation.py                                  # GPU: full data, 3 epochs
    python benchmarks/ablation.py --train-subsample 4000 --eval-subsample 2000 \\
        --epochs 2 --max-length 64                                 # reduced CPU run
    python benchmarks/ablation.py --smoke                          # about a minute: a smoke test

``--smoke`` checks the script end to end in seconds per row: 48 training texts, 1 epoch, and a
tiny randomly initialised encoder with MiniLM's tokenizer instead of MiniLM (its numbers mean
nothing). Subsamples are drawn once (seed 0) into a temporary folder outside the repository; run
directories are deleted after their metrics are read unless --keep-runs is given.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mindscreen.config import load_config
from mindscreen.training import train

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"

# One technique per row: config overrides on top of the baseline. ``all`` is built from these.
TECHNIQUES: dict[str, list[str]] = {
    "focal": ["train.loss=focal", "train.loss.focal.gamma=2.0"],
    "class_weights": ["train.loss.class_weights=effective", "train.loss.class_weight_beta=0.999"],
    "label_smoothing": ["train.loss.label_smoothing=0.1"],
    "asymmetric": ["train.loss=asymmetric"],  # multi-label only
    "sampling": ["train.sampling=class_balanced", "train.sampling_power=0.5"],
    "augmentation": ["augment.probability=0.5", "augment.minority_only=false"],
    "llrd_head_lr": ["train.llrd=0.8", "train.head_lr=5e-4"],
    "ema": ["train.ema_decay=0.998"],
    "thresholds": ["train.fit_thresholds=true"],
    "calibration": ["train.calibration=temperature"],
}
# The plain recipe: no technique, and no settings chosen from the data (they would switch some on).
BASELINE = [
    "train.loss=auto",
    "train.fit_thresholds=false",
    "train.calibration=none",
    "defaults_from_data=false",
]


def rows_for(multi_label: bool) -> dict[str, list[str]]:
    """The rows of one dataset: baseline, every applicable technique alone, and all together."""
    alone = {k: v for k, v in TECHNIQUES.items() if multi_label or k != "asymmetric"}
    together = [o for k, v in alone.items() if k not in ("focal", "asymmetric") for o in v]
    together += TECHNIQUES["asymmetric"] if multi_label else TECHNIQUES["focal"]
    return {"baseline": [], **alone, "all": together}


def prepare_data(name: str, source: Path, target: Path, n_train: int | None, n_eval: int | None) -> Path:
    """The dataset's files, subsampled (seed 0) into ``target/name`` where asked."""
    folder = target / name
    folder.mkdir(parents=True)
    shutil.copy(source / "dataset.json", folder / "dataset.json")
    for split, n in (("train", n_train), ("dev", n_eval), ("test", n_eval)):
        lines = (source / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
        if n is not None and n < len(lines):
            keep = np.sort(np.random.default_rng(0).permutation(len(lines))[:n])
            lines = [lines[i] for i in keep]
        (folder / f"{split}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def rarest_classes(data_dir: Path, labels: list[str], k: int = 3) -> list[str]:
    """The ``k`` labels with the fewest examples in the training file."""
    counts = dict.fromkeys(labels, 0)
    for line in (data_dir / "train.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        for label in row["labels"] if "labels" in row else [row["label"]]:
            counts[label] += 1
    return sorted(labels, key=lambda label: (counts[label], label))[:k]


def run_row(data_dir: Path, out: Path, overrides: list[str], seed: int, args: argparse.Namespace) -> dict:
    config = load_config(
        None,
        [
            f"data.dir={data_dir}",
            f"output_dir={out}",
            f"name={out.name}",
            f"model.encoder={args.encoder}",
            f"model.max_length={args.max_length}",
            f"train.batch_size={args.batch_size}",
            f"train.lr={args.lr}",
            f"train.epochs={args.epochs}",
            f"train.seed={seed}",
            "train.patience=null",
            *BASELINE,
            *overrides,
        ],
    )
    started = time.perf_counter()
    result = train(config, overwrite=True, progress=False)
    seconds = time.perf_counter() - started
    test = result.metrics["test"]
    row = {
        "macro_f1": test["macro_f1"],
        "weighted_f1": test["weighted_f1"],
        "per_class_f1": {label: value["f1"] for label, value in test["per_class"].items()},
        "ece": test["ece"],
        "ece_before_calibration": result.metrics["calibration"]["test_ece_before"],
        "temperature": result.metrics["calibration"]["temperature"],
        "train_seconds": seconds,
    }
    if not args.keep_runs:
        shutil.rmtree(out, ignore_errors=True)
    return row


def summarise(runs: list[dict], rare: list[str]) -> dict[str, Any]:
    """Mean (and standard deviation over seeds) of every column."""
    columns = {
        "macro_f1": [r["macro_f1"] for r in runs],
        "weighted_f1": [r["weighted_f1"] for r in runs],
        **{f"f1_{label}": [r["per_class_f1"][label] or 0.0 for r in runs] for label in rare},
        "ece": [r["ece"] for r in runs],
        "train_seconds": [r["train_seconds"] for r in runs],
    }
    return {k: {"mean": float(np.mean(v)), "std": float(np.std(v))} for k, v in columns.items()}


def device_name() -> str:
    if torch.cuda.is_available():
        return f"GPU {torch.cuda.get_device_name()}"
    model = next(
        (line.split(":", 1)[1].strip() for line in _cpuinfo() if line.startswith("model name")),
        platform.processor() or platform.machine(),
    )
    return f"CPU {model}, {torch.get_num_threads()} threads"


def _cpuinfo() -> list[str]:
    path = Path("/proc/cpuinfo")
    return path.read_text().splitlines() if path.is_file() else []


def markdown(results: dict[str, Any]) -> str:
    lines = [f"device: {results['device']}; {results['setting']}", ""]
    for name, data in results["datasets"].items():
        rare = data["rarest"]
        head = ["row", "macro-F1", "weighted F1", *(f"F1 {label}" for label in rare), "ECE", "train s"]
        lines += [f"**{name}** ({data['task']}, seeds {results['seeds']})", ""]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for row, summary in data["rows"].items():
            keys = ["macro_f1", "weighted_f1", *(f"f1_{label}" for label in rare), "ece"]
            cells = [_cell(summary[k]) for k in keys] + [f"{summary['train_seconds']['mean']:.0f}"]
            lines.append(f"| {row} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def _cell(stat: dict[str, float]) -> str:
    return f"{stat['mean']:.3f}" + (f" ± {stat['std']:.3f}" if stat["std"] > 0 else "")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", nargs="+", default=["goemotions", "sad"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[42])
    parser.add_argument("--epochs", type=float, default=3)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--encoder", default="minilm", help="Encoder of every row (default: MiniLM).")
    parser.add_argument("--train-subsample", type=int, help="Training texts to keep (seed 0).")
    parser.add_argument("--eval-subsample", type=int, help="Dev and test texts to keep (seed 0).")
    parser.add_argument("--rows", nargs="+", help="Only these rows (default: all).")
    parser.add_argument("--smoke", action="store_true", help="Tiny subsample, 1 short epoch per row.")
    parser.add_argument("--keep-runs", action="store_true", help="Keep every run directory.")
    parser.add_argument("--data-root", type=Path, default=SHARED)
    parser.add_argument("--out", type=Path, default=Path(".bench/ablation"))
    args = parser.parse_args()
    if args.smoke:
        args.train_subsample, args.eval_subsample = 48, 32
        args.epochs, args.max_length, args.batch_size = 1, 24, 32
    return args


def tiny_encoder(folder: Path) -> str:
    """A 1-layer, 32-wide random BERT with MiniLM's tokenizer, for --smoke."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    from mindscreen.modeling import resolve_encoder

    source = resolve_encoder("minilm")
    shape = {"num_hidden_layers": 1, "hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2}
    torch.manual_seed(0)
    AutoModel.from_config(AutoConfig.from_pretrained(source, **shape)).save_pretrained(folder)
    AutoTokenizer.from_pretrained(source).save_pretrained(folder)
    return str(folder)


def main() -> None:
    args = parse_args()
    reduced = args.smoke or args.train_subsample is not None or args.eval_subsample is not None
    setting = (
        f"{'REDUCED RUN: ' if reduced else ''}train subsample {args.train_subsample or 'all'}, "
        f"dev/test subsample {args.eval_subsample or 'all'}, {args.epochs:g} epochs, max length "
        f"{args.max_length}, batch {args.batch_size}, lr {args.lr:g}"
        + (
            "; SMOKE: tiny random encoder, numbers mean nothing"
            if args.smoke
            else f"; encoder {args.encoder}"
        )
    )
    results: dict[str, Any] = {
        "device": device_name(),
        "setting": setting,
        "seeds": args.seeds,
        "datasets": {},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mindscreen-ablation-") as tmp:
        if args.smoke:
            args.encoder = tiny_encoder(Path(tmp) / "tiny-encoder")
        for name in args.datasets:
            source = args.data_root / name
            meta = json.loads((source / "dataset.json").read_text())
            multi_label = meta["task"] == "multi-label"
            data_dir = prepare_data(name, source, Path(tmp), args.train_subsample, args.eval_subsample)
            rare = rarest_classes(data_dir, meta["labels"])
            entry = {"task": meta["task"], "rarest": rare, "rows": {}, "runs": {}}
            results["datasets"][name] = entry
            for row, overrides in rows_for(multi_label).items():
                if args.rows and row not in args.rows:
                    continue
                runs = [
                    run_row(data_dir, args.out / "runs" / name / f"{row}-s{s}", overrides, s, args)
                    for s in args.seeds
                ]
                entry["runs"][row] = runs
                entry["rows"][row] = summarise(runs, rare)
                print(f"{name} {row}: macro-F1 {entry['rows'][row]['macro_f1']['mean']:.3f}", flush=True)
                (args.out / "results.json").write_text(json.dumps(results, indent=2))
    table = markdown(results)
    (args.out / "ablation.md").write_text(table + "\n")
    print("\n" + table)


if __name__ == "__main__":
    main()
