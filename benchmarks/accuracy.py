"""Accuracy of mindscreen's recipes against the TF-IDF reference, on public data.

For each dataset of ../shared/data (default: all four), fits the classical peer (TF-IDF word 1-2
grams + class-balanced logistic regression; per-label thresholds checked on dev for multi-label)
and trains the embedded MiniLM with mindscreen's loop under one or more recipes, scoring the test
split. Prints a Markdown table (with the plain Hugging Face Trainer numbers of DATASETS.md beside
it, measured elsewhere) and writes every number as JSON.

Recipes:

- ``defaults``: what ``mindscreen train data.dir=DATA`` runs with no config file: the library
  defaults plus the settings chosen from the data (profile.json in the run directory).
- ``quickstart``: the old no-config behaviour: the demo's quickstart settings (max length 64,
  6 epochs, batch 16, lr 1e-4) on this data, nothing chosen from the data.
- ``fixed``: the recipe of the earlier tables in BENCHMARKS.md (max length 128, batch 32, lr 5e-5,
  ``--epochs`` epochs, no early stopping), nothing chosen from the data.

    python benchmarks/accuracy.py                                        # 4 sets, defaults + quickstart
    python benchmarks/accuracy.py --datasets sad --recipes fixed --epochs 3
    python benchmarks/accuracy.py --profile-only                         # seconds: profiles and choices
    python benchmarks/accuracy.py --smoke                                # a minute: checks the script
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from mindscreen.config import RunConfig, load_config, packaged_config
from mindscreen.data import Splits, load_splits
from mindscreen.defaults import resolve_from_data
from mindscreen.linear import LinearPredictor
from mindscreen.modeling import load_tokenizer
from mindscreen.predictors.run import RunPredictor
from mindscreen.thresholds.rules import apply_thresholds
from mindscreen.training import train

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
DATASETS = ["goemotions", "dreaddit", "sad", "depression_reddit"]
NO_RULES = "defaults_from_data=false"
# The plain Hugging Face Trainer with the same encoder, from ../shared/data/DATASETS.md (one H100,
# max length 128, lr 5e-5, 3-4 epochs; goemotions: the better of two runs at threshold 0.5).
TRAINER_REFERENCE = {"goemotions": 0.080, "dreaddit": 0.787, "sad": 0.648, "depression_reddit": 0.802}
SETTINGS = ("model.max_length", "train.lr", "train.epochs", "train.eval_every", "train.patience")
SETTINGS += ("train.loss.class_weights", "train.batch_size", "model.long_text")


def recipe_config(recipe: str, data_dir: Path, out: Path, epochs: float, overrides: list[str]) -> RunConfig:
    """The run config of one recipe on one dataset."""
    common = [f"data.dir={data_dir}", f"output_dir={out}", f"name={out.parent.name}-{recipe}"]
    if recipe == "defaults":
        return load_config(None, [*common, *overrides])
    if recipe == "quickstart":
        return load_config(packaged_config(), [*common, NO_RULES, *overrides])
    fixed = ["model.max_length=128", "train.batch_size=32", "train.lr=5e-5", f"train.epochs={epochs}"]
    return load_config(None, [*common, *fixed, "train.patience=null", NO_RULES, *overrides])


def tfidf_reference(splits: Splits) -> dict[str, float]:
    """TF-IDF word 1-2 grams + class-balanced logistic regression, as in DATASETS.md."""
    assert splits.test is not None
    if splits.multi_label:  # one logistic regression per label, thresholds checked on dev
        screen = LinearPredictor.fit(splits)
        started = time.perf_counter()
        probs = screen.predict_proba(splits.test.texts)
        pred = apply_thresholds(probs, screen.thresholds, True)
        true = splits.test.labels
    else:
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
        model = LogisticRegression(C=4.0, max_iter=2000, class_weight="balanced")
        model.fit(vectorizer.fit_transform(splits.train.texts), splits.train.labels.argmax(1))
        started = time.perf_counter()
        pred = model.predict(vectorizer.transform(splits.test.texts))
        true = splits.test.labels.argmax(1)
    predict_seconds = time.perf_counter() - started
    per_class = f1_score(
        true, pred, average=None, labels=None if splits.multi_label else range(len(splits.label_names))
    )
    return {
        "macro_f1": float(f1_score(true, pred, average="macro", zero_division=0)),
        **{f"f1_{name}": float(v) for name, v in zip(splits.label_names, per_class, strict=True)},
        "predict_texts_per_s": len(splits.test.texts) / predict_seconds,
    }


def run_recipe(config: RunConfig) -> dict[str, Any]:
    started = time.perf_counter()
    result = train(config, overwrite=True, progress=True)
    seconds = time.perf_counter() - started
    test = result.metrics["test"]
    run_dir = Path(config.output_dir)
    profile = json.loads((run_dir / "profile.json").read_text())
    test_split = load_splits(config.data).test
    assert test_split is not None
    test_texts = test_split.texts
    predictor = RunPredictor.from_dir(run_dir, device="cpu")
    started = time.perf_counter()
    predictor.predict_proba(test_texts)  # what `mindscreen predict RUN --input TEST` computes
    predict_seconds = time.perf_counter() - started
    return {
        "macro_f1": test["macro_f1"],
        "macro_f1_argmax": result.metrics["test_default_thresholds"]["macro_f1"],
        **{f"f1_{label}": row["f1"] for label, row in test["per_class"].items()},
        "train_seconds": seconds,
        "predict_texts_per_s": len(test_texts) / predict_seconds,
        "settings": resolved_settings(load_config(run_dir / "config.yaml")),
        "choices": profile["choices"],
    }


def resolved_settings(config: RunConfig) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key in SETTINGS:
        value: Any = config
        for part in key.split("."):
            value = getattr(value, part)
        values[key] = value
    return values


def profile_row(name: str, data_dir: Path, overrides: list[str]) -> dict[str, Any]:
    """The profile and the settings the defaults recipe would use, without training."""
    config = recipe_config("defaults", data_dir, Path("unused") / name, 3, overrides)
    splits = load_splits(config.data)
    started = time.perf_counter()
    resolved = resolve_from_data(config, splits, load_tokenizer(config.model.encoder), log=False)
    return {
        "profile": resolved.profile.to_dict(),
        "profile_seconds": time.perf_counter() - started,
        "settings": resolved_settings(resolved.config),
    }


def print_profiles(rows: dict[str, dict[str, Any]]) -> None:
    print("| dataset | train | classes | imbalance | tokens p50/p90/p95/p99/max | >128 | >256 | >512 "
          "| max_length | lr | epochs | eval_every | patience | class_weights | profile s |")  # fmt: skip
    print("|---" * 15 + "|")
    for name, row in rows.items():
        p, s = row["profile"], row["settings"]
        q, share = p["tokens"]["quantiles"], p["tokens"]["share_longer"]
        lengths = "/".join(str(q[k]) for k in ("p50", "p90", "p95", "p99", "max"))
        print(
            f"| {name} | {p['rows']['train']:,} | {len(p['labels'])} | {p['imbalance_ratio']:.1f}:1 "
            f"| {lengths} "
            f"| {share['128']:.0%} | {share['256']:.0%} | {share['512']:.0%} | {s['model.max_length']} "
            f"| {s['train.lr']:g} | {s['train.epochs']:g} | {s['train.eval_every'] or 'epoch'} "
            f"| {s['train.patience']} | {s['train.loss.class_weights']} | {row['profile_seconds']:.1f} |"
        )


def print_accuracy(rows: dict[str, dict[str, Any]], recipes: list[str]) -> None:
    """Test scores, ratios to TF-IDF, train seconds and test-split prediction speed (texts/s, CPU)."""
    head = " | ".join(f"{r} | {r} / TF-IDF | {r} train s | {r} texts/s" for r in recipes)
    print(f"| dataset | metric | TF-IDF + LogReg | TF-IDF texts/s | Trainer (DATASETS.md) | {head} |")
    print("|---" * (5 + 4 * len(recipes)) + "|")
    for name, row in rows.items():
        keys = ["macro_f1"] + (["f1_stressed"] if "f1_stressed" in row["tfidf"] else [])
        for key in keys:
            peer = row["tfidf"][key]
            trainer = TRAINER_REFERENCE.get(name) if key == "macro_f1" else None
            cells = [
                f"{name} | {key} | {peer:.3f} | {_speed(row['tfidf'])} | "
                f"{'-' if trainer is None else f'{trainer:.3f}'}"
            ]
            for recipe in recipes:
                ours = row[recipe][key]
                cells.append(
                    f"{ours:.3f} | {ours / peer:.2f}x | {row[recipe]['train_seconds']:.0f} | "
                    f"{_speed(row[recipe])}"
                )
            print(f"| {' | '.join(cells)} |")


def _speed(row: dict[str, Any]) -> str:
    """Texts/s on the test split, or '-' for results written before it was measured."""
    return f"{row['predict_texts_per_s']:.0f}" if "predict_texts_per_s" in row else "-"


def smoke_data(source: Path, target: Path, rows: int = 64) -> Path:
    """A small seeded subsample of each split, in a folder outside the repository."""
    target.mkdir(parents=True, exist_ok=True)
    for split in ("train", "dev", "test"):
        lines = (source / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
        picked = random.Random(0).sample(lines, min(rows if split == "train" else rows // 2, len(lines)))
        (target / f"{split}.jsonl").write_text("\n".join(picked) + "\n", encoding="utf-8")
    (target / "dataset.json").write_text((source / "dataset.json").read_text())
    return target


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", nargs="+", default=DATASETS)
    parser.add_argument(
        "--recipes",
        nargs="+",
        default=["defaults", "quickstart"],
        choices=["defaults", "quickstart", "fixed"],
    )
    parser.add_argument("--epochs", type=float, default=3, help="Epochs of the fixed recipe.")
    parser.add_argument("--data-root", type=Path, default=SHARED)
    parser.add_argument("--out", type=Path, default=Path(".bench/accuracy"))
    parser.add_argument(
        "--profile-only", action="store_true", help="Profiles and chosen settings; no training."
    )
    parser.add_argument("--smoke", action="store_true", help="64 training texts, a tiny random encoder.")
    parser.add_argument("overrides", nargs="*", help="extra key=value config overrides for every recipe")
    args = parser.parse_args()
    device = (
        torch.cuda.get_device_name()
        if torch.cuda.is_available()
        else f"CPU ({platform.processor() or 'x86_64'}, {torch.get_num_threads()} threads)"
    )
    scratch = Path(tempfile.mkdtemp(prefix="mindscreen-accuracy-"))
    if args.smoke:
        from ablation import tiny_encoder  # benchmarks/ is the script's folder

        args.overrides = [
            f"model.encoder={tiny_encoder(scratch / 'encoder')}",
            "train.epochs=1",
            *args.overrides,
        ]
    rows: dict[str, dict[str, Any]] = {}
    for name in args.datasets:
        data_dir = smoke_data(args.data_root / name, scratch / name) if args.smoke else args.data_root / name
        if args.profile_only:
            rows[name] = profile_row(name, data_dir, args.overrides)
            continue
        rows[name] = {"tfidf": tfidf_reference(load_splits(load_config(None, [f"data.dir={data_dir}"]).data))}
        for recipe in args.recipes:
            config = recipe_config(recipe, data_dir, args.out / name / recipe, args.epochs, args.overrides)
            rows[name][recipe] = run_recipe(config)
        print(json.dumps(rows[name], indent=2))
    args.out.mkdir(parents=True, exist_ok=True)
    results = args.out / ("profiles.json" if args.profile_only else "results.json")
    results.write_text(json.dumps({"device": device, "smoke": args.smoke, "rows": rows}, indent=2))
    print(
        f"\ndevice: {device}{' (SMOKE: tiny random encoder, numbers mean nothing)' if args.smoke else ''}\n"
    )
    if args.profile_only:
        print_profiles(rows)
    else:
        print_accuracy(rows, args.recipes)
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
