"""Ensembles against their best single member and against a plain average, on public data.

For each dataset of ../shared/data (default: goemotions, multi-label, and sad, multi-class) it builds one
ensemble of MiniLM members that differ in pooling, loss and seed, plus the TF-IDF + logistic regression
member:

    mean   pooling=mean       loss=auto (BCE / cross-entropy)   seed 1
    attn   pooling=attention  loss=focal                        seed 2
           (focal when mindscreen has it; else BCE on multi-class data, the default loss otherwise)
    cls    pooling=cls        loss=auto                          seed 3
    tfidf  TF-IDF word 1-2 grams + class-balanced logistic regression

It builds the stacking ensemble, then the weighted one from the cached member predictions (timed: that
is the cost of re-weighting), and prints test macro-F1 of every member, the plain average, the weighted
ensemble and stacking as a Markdown table; the numbers go to OUT/results.json. Members are trained once:
their run directories under OUT are reused on the next invocation.

    python benchmarks/ensemble.py                                   # full data, 3 epochs, max length 128
    python benchmarks/ensemble.py --datasets sad --epochs 2 train.batch_size=64
    python benchmarks/ensemble.py --run sad=runs/ablation-sad-max   # an existing run as an extra member
    python benchmarks/ensemble.py --smoke                           # a pipeline check in well under a minute
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mindscreen.config import ConfigError, load_config, packaged_config
from mindscreen.ensemble import build_ensemble, validate_spec

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
MEMBERS = (("mean", "mean", None, 1), ("attn", "attention", "focal", 2), ("cls", "cls", None, 3))


def subsample(source: Path, target: Path, train_rows: int | None, eval_rows: int | None, seed: int) -> Path:
    """Write seeded random subsets of the dataset's files under ``target`` (outside the repository)."""
    target.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for split, rows in (("train", train_rows), ("dev", eval_rows), ("test", eval_rows)):
        lines = [line for line in (source / f"{split}.jsonl").read_text().splitlines() if line.strip()]
        if rows is not None and rows < len(lines):
            lines = [lines[i] for i in sorted(rng.choice(len(lines), rows, replace=False))]
        (target / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    (target / "dataset.json").write_text((source / "dataset.json").read_text())  # keeps the label order
    return target


def second_loss(data_dir: Path, multi_label: bool) -> str | None:
    """Focal loss when this mindscreen has it; else BCE on multi-class data; else the default loss."""
    try:
        load_config(None, [f"data.dir={data_dir}", "train.loss=focal"])
        return "focal"
    except ConfigError:
        return None if multi_label else "bce"


def member_specs(name: str, data_dir: Path, out: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    multi_label = json.loads((data_dir / "dataset.json").read_text()).get("task") == "multi-label"
    common = [
        f"data.dir={data_dir}",
        f"model.max_length={args.max_length}",
        f"train.epochs={args.epochs}",
        f"train.batch_size={args.batch_size}",
        f"train.lr={args.lr}",
        "train.patience=null",
        "defaults_from_data=false",  # members differ only where MEMBERS says
        *args.overrides,
    ]
    members: list[dict[str, Any]] = []
    for member, pooling, loss, seed in MEMBERS if not args.no_train else ():
        loss = second_loss(data_dir, multi_label) if loss == "focal" else loss
        overrides = [
            *common,
            f"name={name}-{member}",
            f"output_dir={out / 'runs' / member}",
            f"model.pooling={pooling}",
            f"train.seed={seed}",
            *([f"train.loss={loss}"] if loss else []),
        ]
        members.append({"name": member, "config": str(packaged_config()), "overrides": overrides})
    for index, path in enumerate(args.runs.get(name, [])):
        members.append({"name": f"run{index + 1}-{Path(path).name}", "run": path})
    members.append({"name": "tfidf", "linear": {"c": 4.0}})
    return members


def bench(name: str, args: argparse.Namespace) -> dict[str, Any]:
    out = args.out / name
    data_dir = args.data_root / name
    if args.train_subsample or args.eval_subsample:
        data_dir = subsample(data_dir, out / "data", args.train_subsample, args.eval_subsample, seed=0)
    spec = validate_spec(
        {
            "name": f"{name}-ensemble",
            "output_dir": str(out / "ensemble"),
            "data": {"dir": str(data_dir)},
            "members": member_specs(name, data_dir, out, args),
            "combine": {"method": "stacking", "metric": "macro_f1"},
        }
    )
    stacked = build_ensemble(spec, progress=not args.smoke)
    started = time.perf_counter()
    weighted = build_ensemble(spec, ["combine.method=weighted"], progress=False)
    reweight_seconds = time.perf_counter() - started
    summary = weighted.metrics["summary"]
    members = {member: row["test"] for member, row in summary["members"].items()}
    best = max(members, key=lambda member: members[member])
    return {
        "members": members,
        "best_member": best,
        "best_member_macro_f1": members[best],
        "average": summary["average"]["test"],
        "weighted": summary["ensemble"]["test"],
        "stacking": stacked.metrics["summary"]["ensemble"]["test"],
        "weights": weighted.metrics["weights"],
        "temperatures": weighted.metrics["temperatures"],
        "reweight_seconds": reweight_seconds,
        "reweight_sources": weighted.sources,
        "dev": {"weighted": summary["ensemble"]["dev"], "average": summary["average"]["dev"]},
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", nargs="+", default=["goemotions", "sad"])
    parser.add_argument("--data-root", type=Path, default=SHARED)
    parser.add_argument("--out", type=Path, default=Path(".bench/ensemble"))
    parser.add_argument("--epochs", type=float, default=3)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--train-subsample", type=int, help="Keep this many random training rows.")
    parser.add_argument("--eval-subsample", type=int, help="Keep this many random dev and test rows.")
    parser.add_argument(
        "--run",
        action="append",
        default=[],
        metavar="DATASET=RUN_DIR",
        help="Add a finished run directory (e.g. an ablation run) as a member for DATASET; repeatable.",
    )
    parser.add_argument("--no-train", action="store_true", help="Train no members: only --run ones + TF-IDF.")
    parser.add_argument("--smoke", action="store_true", help="Tiny subsamples, 1 epoch, max length 24.")
    parser.add_argument("overrides", nargs="*", help="extra key=value overrides for every trained member")
    args = parser.parse_args()
    args.runs = {}
    for item in args.run:
        dataset, _, path = item.partition("=")
        args.runs.setdefault(dataset, []).append(path)
    if args.smoke:
        args.out = args.out / "smoke"
        args.epochs, args.max_length, args.batch_size = 1, 24, 16
        args.train_subsample = args.train_subsample or 32
        args.eval_subsample = args.eval_subsample or 48
    return args


def main() -> None:
    args = parse_args()
    logging.basicConfig(
        level=logging.WARNING if args.smoke else logging.INFO, format="%(levelname)s %(message)s"
    )
    device = (
        torch.cuda.get_device_name()
        if torch.cuda.is_available()
        else f"CPU ({platform.processor() or 'x86_64'}, {torch.get_num_threads()} threads)"
    )
    rows = {name: bench(name, args) for name in args.datasets}
    args.out.mkdir(parents=True, exist_ok=True)
    settings = {
        k: getattr(args, k) for k in ("epochs", "max_length", "batch_size", "lr", "overrides", "smoke")
    }
    settings |= {"train_subsample": args.train_subsample, "eval_subsample": args.eval_subsample}
    (args.out / "results.json").write_text(
        json.dumps({"device": device, "settings": settings, "rows": rows}, indent=2)
    )
    print(f"\ndevice: {device}; settings: {json.dumps(settings)}\n")
    header = ("dataset", "members (test macro-F1)", "best single", "plain average", "weighted", "stacking")
    print("| " + " | ".join((*header, "weights", "re-weight")) + " |")
    print("|---|---|---|---|---|---|---|---|")
    for name, row in rows.items():
        members = ", ".join(f"{member} {value:.3f}" for member, value in row["members"].items())
        weights = ", ".join(f"{member} {value:.2f}" for member, value in row["weights"].items())
        print(
            f"| {name} | {members} | {row['best_member_macro_f1']:.3f} ({row['best_member']}) | "
            f"{row['average']:.3f} | {row['weighted']:.3f} | {row['stacking']:.3f} | {weights} | "
            f"{row['reweight_seconds']:.1f} s |"
        )


if __name__ == "__main__":
    main()
