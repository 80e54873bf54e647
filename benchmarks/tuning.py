"""What hyperparameter search buys, and what pruning buys the search.

On one dataset of ../shared/data (default: sad) with the embedded MiniLM encoder:

1. search the space below for ``--trials`` trials with median pruning, then the same number of trials
   without pruning (same sampler seed), timing both: trials per hour with and without pruning;
2. train the default config and the best config of the pruned search the same way (same epochs, seed
   and full training set) and score both on test (macro-F1, dev-fitted thresholds).

The searches train on a seeded sample of ``--train-subsample`` training rows and are scored on dev;
test is read only by step 2. Prints a Markdown table and writes the numbers as JSON.

    python benchmarks/tuning.py                                  # sad, 12 + 12 trials, 3 epochs
    python benchmarks/tuning.py --dataset dreaddit --trials 20 --train-subsample 1500
    python benchmarks/tuning.py --smoke                          # seconds: wiring check only
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from mindscreen.config import RunConfig, load_config
from mindscreen.training import train
from mindscreen.tuning import SearchSpace, TuneResult, tune

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"

SPACE: dict[str, Any] = {
    "space": {
        "train.lr": {"type": "float", "low": 1.0e-5, "high": 3.0e-4, "log": True},
        "train.warmup": {"type": "float", "low": 0.0, "high": 0.2},
        "train.weight_decay": {"type": "float", "low": 0.0, "high": 0.1},
        "model.pooling": {"type": "categorical", "choices": ["mean", "cls", "mean_max", "attention"]},
        "model.head_blocks": {"type": "int", "low": 0, "high": 2},
        "model.dropout": {"type": "float", "low": 0.0, "high": 0.3},
    },
    "sampler": {"seed": 0, "n_startup_trials": 5},
    "pruner": {"type": "median", "n_startup_trials": 3, "n_warmup_steps": 1},
}


def sample_file(source: Path, rows: int | None, seed: int, folder: Path) -> Path:
    """``source`` itself, or a seeded sample of ``rows`` of its lines written to ``folder``."""
    if rows is None:
        return source
    lines = [line for line in source.read_text().splitlines() if line.strip()]
    if rows >= len(lines):
        return source
    target = folder / source.name
    target.write_text("\n".join(random.Random(seed).sample(lines, rows)) + "\n")
    return target


def base_config(data_dir: Path, files: dict[str, Path], out: Path, args: argparse.Namespace) -> RunConfig:
    """The default recipe, as `mindscreen train` would run it, on these files."""
    labels = json.loads((data_dir / "dataset.json").read_text())["labels"]
    return load_config(
        None,
        [
            f"name={data_dir.name}",
            f"output_dir={out / 'default'}",
            f"data.train={files['train']}",
            f"data.dev={files['dev']}",
            f"data.test={files['test']}",
            f"data.labels={json.dumps(labels)}",
            "model.encoder=minilm",
            f"model.max_length={args.max_length}",
            "train.batch_size=32",
            "train.lr=5e-5",
            f"train.epochs={args.epochs}",
            f"train.eval_every={args.eval_every}",
            "train.patience=null",
            "defaults_from_data=false",  # default and tuned differ only in the searched keys
            *args.overrides,
        ],
    )


def search(base: RunConfig, pruner: str, args: argparse.Namespace, out: Path) -> TuneResult:
    space = SearchSpace.model_validate({**SPACE, "n_trials": args.trials})
    return tune(base, space, pruner=pruner, output_dir=out / f"search-{pruner}", study_name=f"bench-{pruner}")


def per_hour(result: TuneResult) -> float:
    return sum(result.ran.values()) / result.seconds * 3600


def final_run(config: RunConfig, train_file: Path, run_dir: Path) -> dict[str, Any]:
    """Train on the full training file and score test: the comparison both configs get."""
    raw = config.model_dump(mode="json")
    raw["data"]["train"], raw["output_dir"] = str(train_file), str(run_dir)
    started = time.perf_counter()
    metrics = train(RunConfig.model_validate(raw), overwrite=True, progress=True).metrics
    return {
        "test_macro_f1": metrics["test"]["macro_f1"],
        "test_macro_f1_argmax": metrics["test_default_thresholds"]["macro_f1"],
        "dev_macro_f1": metrics["dev_default_thresholds"]["macro_f1"],
        "train_seconds": time.perf_counter() - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", default="sad")
    parser.add_argument("--data-root", type=Path, default=SHARED)
    parser.add_argument("--trials", type=int, default=12, help="Trials per search (pruned and unpruned).")
    parser.add_argument("--epochs", type=float, default=3)
    parser.add_argument("--train-subsample", type=int, default=2000, help="Training rows the searches use.")
    parser.add_argument(
        "--final-subsample",
        type=int,
        help="Training rows of the two final runs (default: all; reduced CPU runs).",
    )
    parser.add_argument("--eval-every", type=int, help="Steps between evaluations; default: twice an epoch.")
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--smoke", action="store_true", help="Tiny everything: checks the wiring in seconds.")
    parser.add_argument("--out", type=Path, default=Path(".bench/tuning"))
    parser.add_argument("overrides", nargs="*", help="extra key=value overrides of the default config")
    args = parser.parse_args()
    if args.smoke:
        args.trials, args.epochs, args.train_subsample, args.max_length, args.eval_every = 2, 1, 48, 32, 2
        args.overrides = [*args.overrides, "train.eval_batch_size=64", "train.fit_thresholds=false"]
        torch.set_num_threads(1)  # on a shared CPU, two threads fighting are many times slower
    if args.eval_every is None:  # twice per epoch of the search: pruning points inside each epoch
        args.eval_every = max(1, math.ceil(args.train_subsample / 32 / 2))
    data_dir = args.data_root / args.dataset
    device = (
        torch.cuda.get_device_name()
        if torch.cuda.is_available()
        else f"CPU ({platform.processor() or 'x86_64'})"
    )

    with tempfile.TemporaryDirectory() as tmp:
        eval_rows = 64 if args.smoke else None
        full = {
            name: sample_file(data_dir / f"{name}.jsonl", eval_rows, 1, Path(tmp)) for name in ("dev", "test")
        }
        final_rows = eval_rows or args.final_subsample
        full["train"] = sample_file(data_dir / "train.jsonl", final_rows, 1, Path(tmp))
        (Path(tmp) / "search").mkdir()
        searched = {
            **full,
            "train": sample_file(full["train"], args.train_subsample, 0, Path(tmp) / "search"),
        }
        base = base_config(data_dir, searched, args.out, args)
        results = {pruner: search(base, pruner, args, args.out) for pruner in ("median", "none")}
        tuned = results["median"]
        assert tuned.best_config is not None, "no trial of the pruned search completed"
        runs = {
            "default": final_run(base, full["train"], args.out / "final-default"),
            "tuned": final_run(load_config(tuned.best_config), full["train"], args.out / "final-tuned"),
        }

    report = {
        "dataset": args.dataset,
        "device": device,
        "trials": args.trials,
        "epochs": args.epochs,
        "train_subsample": args.train_subsample,
        "final_subsample": args.final_subsample,
        "searches": {
            pruner: {
                "seconds": r.seconds,
                "trials_per_hour": per_hour(r),
                "ran": r.ran,
                "best_dev_macro_f1": r.best_value,
                "best_params": r.best_params,
            }
            for pruner, r in results.items()
        },
        "final": runs,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    med, none = results["median"], results["none"]
    print(f"\n{args.dataset}, MiniLM, {device}, {args.epochs:g} epochs\n")
    print("| search | trials | pruned | wall time | trials/hour | best dev macro-F1 |")
    print("|---|---|---|---|---|---|")
    for name, r in (("median pruning", med), ("no pruning", none)):
        print(
            f"| {name} | {sum(r.ran.values())} | {r.ran['pruned']} | {r.seconds / 60:.1f} min "
            f"| {per_hour(r):.1f} | {r.best_value:.3f} |"
        )
    print(f"\npruning: {per_hour(med) / per_hour(none):.2f}x the trials per hour\n")
    print("| config | test macro-F1 (dev thresholds) | test macro-F1 (argmax) | dev macro-F1 |")
    print("|---|---|---|---|")
    for name, run in runs.items():
        scores = (run["test_macro_f1"], run["test_macro_f1_argmax"], run["dev_macro_f1"])
        print(f"| {name} | " + " | ".join(f"{v:.3f}" for v in scores) + " |")
    print(f"\ntuned: {json.dumps(tuned.best_params)}")


if __name__ == "__main__":
    main()
