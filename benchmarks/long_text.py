"""The long-text modes (``model.long_text``) side by side: test macro-F1, train and predict time.

Trains the embedded MiniLM once per mode with the same seed, length, batch, learning rate and epochs
(the "fixed" recipe of benchmarks/accuracy.py, nothing chosen from the data), then times
``RunPredictor.predict_proba`` on the test split. Prints a Markdown table and writes results.json.

    python benchmarks/long_text.py --dataset dreaddit --epochs 2
    python benchmarks/long_text.py --smoke              # a minute: 64 texts, a tiny random encoder
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

from mindscreen.config import RunConfig, load_config
from mindscreen.data import load_splits
from mindscreen.inference import LONG_TEXT_MODES, encode_windows
from mindscreen.predictors.run import RunPredictor
from mindscreen.training import train

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def mode_config(
    data_dir: Path, out: Path, mode: str, max_length: int, epochs: float, extra: list[str]
) -> RunConfig:
    fixed = [
        f"model.max_length={max_length}",
        "train.batch_size=32",
        "train.lr=5e-5",
        f"train.epochs={epochs}",
    ]
    common = [f"data.dir={data_dir}", f"output_dir={out}", f"model.long_text={mode}"]
    return load_config(None, [*common, *fixed, "train.patience=null", "defaults_from_data=false", *extra])


def run_mode(config: RunConfig) -> dict[str, Any]:
    """Train, then time prediction of the test split; the test scores come from metrics.json."""
    started = time.perf_counter()
    result = train(config, overwrite=True, progress=True)
    train_seconds = time.perf_counter() - started
    splits = load_splits(config.data)
    assert splits.test is not None
    predictor = RunPredictor.from_dir(config.output_dir, device="cpu")
    started = time.perf_counter()
    predictor.predict_proba(splits.test.texts)
    predict_seconds = time.perf_counter() - started
    spec = predictor.model.spec
    windows = encode_windows(predictor.tokenizer, splits.test.texts, spec.max_length, spec.long_text)
    return {
        "macro_f1": result.metrics["test"]["macro_f1"],
        "macro_f1_argmax": result.metrics["test_default_thresholds"]["macro_f1"],
        "train_seconds": train_seconds,
        "predict_seconds": predict_seconds,
        "test_texts": len(splits.test.texts),
        "test_windows": len(windows.ids),
    }


def share_longer(data_dir: Path, max_length: int, extra: list[str]) -> float:
    """Share of test texts longer than ``max_length`` tokens (special tokens included)."""
    config = load_config(None, [f"data.dir={data_dir}", *extra])
    from mindscreen.modeling import load_tokenizer

    splits = load_splits(config.data)
    assert splits.test is not None
    windows = encode_windows(load_tokenizer(config.model.encoder), splits.test.texts, max_length, "chunks")
    return float(np.mean(np.bincount(windows.owner, minlength=windows.count) > 1))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", default="dreaddit")
    parser.add_argument("--modes", nargs="+", default=list(LONG_TEXT_MODES), choices=LONG_TEXT_MODES)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--epochs", type=float, default=2)
    parser.add_argument("--data-root", type=Path, default=SHARED)
    parser.add_argument("--out", type=Path, default=Path(".bench/long_text"))
    parser.add_argument("--smoke", action="store_true", help="64 training texts, a tiny random encoder.")
    parser.add_argument("overrides", nargs="*", help="extra key=value config overrides for every mode")
    args = parser.parse_args()
    device = (
        torch.cuda.get_device_name()
        if torch.cuda.is_available()
        else f"CPU, {torch.get_num_threads()} threads"
    )
    scratch = Path(tempfile.mkdtemp(prefix="mindscreen-long-text-"))
    data_dir = args.data_root / args.dataset
    if args.smoke:
        from ablation import tiny_encoder  # benchmarks/ is the script's folder
        from accuracy import smoke_data

        data_dir = smoke_data(data_dir, scratch / args.dataset)
        args.overrides = [f"model.encoder={tiny_encoder(scratch / 'encoder')}", *args.overrides]
        args.epochs = 1
    rows = {
        mode: run_mode(
            mode_config(data_dir, args.out / mode, mode, args.max_length, args.epochs, args.overrides)
        )
        for mode in args.modes
    }
    longer = share_longer(data_dir, args.max_length, args.overrides)
    args.out.mkdir(parents=True, exist_ok=True)
    summary = {"device": device, "platform": platform.platform(), "smoke": args.smoke, "rows": rows}
    (args.out / "results.json").write_text(json.dumps({**summary, "share_test_longer": longer}, indent=2))
    print(f"\n{args.dataset}, max_length {args.max_length}, {args.epochs:g} epochs, {device}")
    print(f"test texts longer than {args.max_length} tokens: {longer:.0%}\n")
    print("| long_text | test macro-F1 | argmax macro-F1 | train s | predict s (test) | windows / text |")
    print("|---|---|---|---|---|---|")
    for mode, row in rows.items():
        print(
            f"| {mode} | {row['macro_f1']:.3f} | {row['macro_f1_argmax']:.3f} | {row['train_seconds']:.0f} "
            f"| {row['predict_seconds']:.1f} | {row['test_windows'] / row['test_texts']:.2f} |"
        )
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
