"""Accuracy of mindscreen's default recipe against the TF-IDF reference, on public data.

Trains the embedded MiniLM encoder with mindscreen's loop on each dataset of
../shared/data (default: dreaddit and sad), scores the test split with dev-fitted
thresholds, and in the same run fits the classical peer (TF-IDF word 1-2 grams +
class-balanced logistic regression) on the same files. Prints a Markdown table and
writes the numbers as JSON.

    python benchmarks/accuracy.py                       # dreaddit + sad, 3 epochs
    python benchmarks/accuracy.py --datasets sad --epochs 1 train.batch_size=16
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from mindscreen.config import load_config
from mindscreen.data import load_splits
from mindscreen.training import train

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def tfidf_reference(data_dir: Path) -> dict[str, float]:
    """TF-IDF word 1-2 grams + class-balanced logistic regression, as in DATASETS.md."""
    config = load_config(None, [f"data.dir={data_dir}"])
    splits = load_splits(config.data)
    assert splits.test is not None
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    x_train = vectorizer.fit_transform(splits.train.texts)
    model = LogisticRegression(C=4.0, max_iter=2000, class_weight="balanced")
    model.fit(x_train, splits.train.labels.argmax(1))
    pred = model.predict(vectorizer.transform(splits.test.texts))
    true = splits.test.labels.argmax(1)
    per_class = f1_score(true, pred, average=None, labels=range(len(splits.label_names)))
    return {
        "macro_f1": float(f1_score(true, pred, average="macro")),
        **{f"f1_{name}": float(v) for name, v in zip(splits.label_names, per_class, strict=True)},
    }


def run_mindscreen(name: str, data_dir: Path, out_root: Path, epochs: float, overrides: list[str]) -> dict:
    config = load_config(
        None,
        [
            f"data.dir={data_dir}",
            f"output_dir={out_root / name}",
            f"name={name}",
            "model.max_length=128",
            "train.batch_size=32",
            "train.lr=5e-5",
            f"train.epochs={epochs}",
            "train.patience=null",
            *overrides,
        ],
    )
    started = time.perf_counter()
    result = train(config, overwrite=True, progress=True)
    seconds = time.perf_counter() - started
    test = result.metrics["test"]
    return {
        "macro_f1": test["macro_f1"],
        "macro_f1_argmax": result.metrics["test_default_thresholds"]["macro_f1"],
        **{f"f1_{label}": row["f1"] for label, row in test["per_class"].items()},
        "train_seconds": seconds,
        "config": {"epochs": epochs, "overrides": overrides},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", nargs="+", default=["dreaddit", "sad"])
    parser.add_argument("--epochs", type=float, default=3)
    parser.add_argument("--data-root", type=Path, default=SHARED)
    parser.add_argument("--out", type=Path, default=Path(".bench/accuracy"))
    parser.add_argument("overrides", nargs="*", help="extra key=value config overrides")
    args = parser.parse_args()
    device = (
        torch.cuda.get_device_name()
        if torch.cuda.is_available()
        else f"CPU ({platform.processor() or 'x86_64'}, {torch.get_num_threads()} threads)"
    )
    rows = {}
    for name in args.datasets:
        data_dir = args.data_root / name
        rows[name] = {
            "tfidf": tfidf_reference(data_dir),
            "mindscreen": run_mindscreen(name, data_dir, args.out, args.epochs, args.overrides),
        }
        print(json.dumps(rows[name], indent=2))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps({"device": device, "rows": rows}, indent=2))
    print(f"\ndevice: {device}\n")
    print("| dataset | metric | TF-IDF + LogReg | mindscreen MiniLM | ratio | train time |")
    print("|---|---|---|---|---|---|")
    for name, row in rows.items():
        keys = ["macro_f1"] + (["f1_stressed"] if "f1_stressed" in row["mindscreen"] else [])
        for key in keys:
            a, b = row["tfidf"][key], row["mindscreen"][key]
            seconds = row["mindscreen"]["train_seconds"]
            print(f"| {name} | {key} | {a:.3f} | {b:.3f} | {b / a:.2f}x | {seconds:.0f} s |")


if __name__ == "__main__":
    main()
