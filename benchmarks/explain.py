"""Faithfulness and cost of word attributions: ERASER comprehensiveness and sufficiency, CPU time per text.

For each trained run directory, on a seeded random sample of its test split (read through the run's
config; nothing is copied), every text's predicted label (the most probable class, calibrated) is
explained by:

- ``occlusion`` (every model kind; mindscreen.explain.occlusion);
- ``integrated_gradients`` with ``--steps`` steps (Captum, on the token embeddings);
- ``attention``: last-layer attention received per word (a baseline, Jain & Wallace 2019);
- ``random``: uniform random word scores (the floor).

Faithfulness (DeYoung et al. 2020, ERASER): comprehensiveness ``p(x) - p(x without the top-k% words)``
(higher is better) and sufficiency ``p(x) - p(only the top-k% words)`` (lower is better), averaged over
k = 1, 5, 10, 20, 50%. Each method is compared with random on the same texts: the mean paired difference
with a 95% bootstrap interval (1,000 resamples of texts), and comprehensiveness as a ratio to random's.
Time: wall time per text of the attribution alone (tokenising and deciding what was seen included, the
ERASER predictions excluded), p50/p95, after two warm-up texts; torch uses its default threads.

    python benchmarks/explain.py /tmp/explain-bench/dreaddit /tmp/explain-bench/sad --texts 150 --steps 20

Prints a Markdown table and writes JSON (``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mindscreen.data import load_splits
from mindscreen.explain.attention import attention_scores
from mindscreen.explain.faithfulness import PERCENTS, eraser, random_scores
from mindscreen.explain.gradients import gradient_path, gradient_scores
from mindscreen.explain.occlusion import occlusion
from mindscreen.explain.seen import seen_words
from mindscreen.explain.words import segment
from mindscreen.predictors import load_predictor
from mindscreen.rundir import run_data_config

METHODS = ("occlusion", "integrated_gradients", "attention", "random")


def scorers(predictor: Any, steps: int, seed: int) -> dict[str, Callable[[str, list, int], np.ndarray]]:
    """Per method: ``(text, words, target) -> (W,)`` word scores toward the target class (NaN: unseen)."""
    path = gradient_path(predictor)
    rng = np.random.default_rng(seed)

    def occluded(text: str, words: list, target: int) -> np.ndarray:
        seen = seen_words(predictor, text, words)
        ((_, scores),) = occlusion(predictor, [text], [words], [seen])
        return scores[:, target]

    def gradients(text: str, words: list, target: int) -> np.ndarray:
        assert path is not None
        return gradient_scores(path, text, words, [target], steps)[0]

    return {
        "occlusion": occluded,
        "integrated_gradients": gradients,
        "attention": lambda text, words, target: attention_scores(predictor, text, words),
        "random": lambda text, words, target: random_scores(seen_words(predictor, text, words), rng),
    }


def bootstrap(values: np.ndarray, seed: int, rounds: int = 1000) -> tuple[float, float, float]:
    """Mean and 95% bootstrap interval of ``values`` (resampling texts)."""
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), (rounds, len(values)))].mean(axis=1)
    return float(values.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def measure(run: Path, count: int, steps: int, seed: int, methods: list[str]) -> dict[str, Any]:
    """Every method on ``count`` test texts of ``run``: faithfulness, time, and the comparison to random."""
    predictor = load_predictor(run, device="cpu")
    test = load_splits(run_data_config(run)).test
    assert test is not None, f"{run}'s data has no test split"
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(test.texts), size=min(count, len(test.texts)), replace=False))
    texts = [test.texts[i] for i in rows]
    words = [segment(text) for text in texts]
    targets = predictor.predict_proba(texts).argmax(axis=1).tolist()
    results: dict[str, Any] = {"run": str(run), "texts": len(texts), "methods": {}}
    for name, score in scorers(predictor, steps, seed).items():
        if name not in methods:
            continue
        for text, spans, target in list(zip(texts, words, targets, strict=True))[:2]:
            score(text, spans, target)  # warm-up
        scores, seconds = [], []
        for text, spans, target in zip(texts, words, targets, strict=True):
            started = time.perf_counter()
            scores.append(score(text, spans, target))
            seconds.append(time.perf_counter() - started)
        comp, suff = eraser(predictor, texts, words, scores, targets)
        results["methods"][name] = {
            "comprehensiveness": comp.tolist(),
            "sufficiency": suff.tolist(),
            "p50_ms": float(np.percentile(seconds, 50) * 1000),
            "p95_ms": float(np.percentile(seconds, 95) * 1000),
        }
        print(f"{run.name} {name}: comp {comp.mean():.4f} suff {suff.mean():.4f}", flush=True)
    results["words_per_text"] = float(np.mean([len(w) for w in words]))
    return results


def summary(results: dict[str, Any], seed: int) -> list[dict[str, Any]]:
    """One row per method: means, paired differences from random with 95% intervals, time."""
    random = results["methods"]["random"]
    rows = []
    for name, found in results["methods"].items():
        comp, suff = np.array(found["comprehensiveness"]), np.array(found["sufficiency"])
        rows.append(
            {
                "method": name,
                "comprehensiveness": float(comp.mean()),
                "sufficiency": float(suff.mean()),
                "comp_ratio_to_random": float(comp.mean() / np.mean(random["comprehensiveness"])),
                "comp_minus_random": bootstrap(comp - np.array(random["comprehensiveness"]), seed),
                "random_minus_suff": bootstrap(np.array(random["sufficiency"]) - suff, seed),
                "p50_ms": found["p50_ms"],
                "p95_ms": found["p95_ms"],
            }
        )
    return rows


def table(name: str, rows: list[dict[str, Any]]) -> str:
    def interval(values: tuple[float, float, float]) -> str:
        return f"{values[0]:+.3f} [{values[1]:+.3f}, {values[2]:+.3f}]"

    lines = [
        "| data | method | comprehensiveness ↑ | sufficiency ↓ | comp. / random | comp. − random (95% CI) | "
        "suff.: random − method (95% CI) | p50 ms/text | p95 ms/text |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {name} | {row['method']} | {row['comprehensiveness']:.3f} | {row['sufficiency']:.3f} | "
            f"{row['comp_ratio_to_random']:.2f}x | {interval(row['comp_minus_random'])} | "
            f"{interval(row['random_minus_suff'])} | {row['p50_ms']:.0f} | {row['p95_ms']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "runs", nargs="+", type=Path, help="Trained run directories (test split in their data)."
    )
    parser.add_argument("--texts", type=int, default=150, help="Test texts sampled per run.")
    parser.add_argument("--steps", type=int, default=20, help="Integrated Gradients steps.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--methods",
        nargs="+",
        choices=METHODS,
        default=list(METHODS),
        help="Methods to run (random always runs).",
    )
    parser.add_argument("--out", type=Path, default=Path("explain-benchmark.json"))
    args = parser.parse_args()
    report: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "percents": list(PERCENTS),
        "steps": args.steps,
        "runs": {},
    }
    for run in args.runs:
        results = measure(run, args.texts, args.steps, args.seed, sorted({*args.methods, "random"}))
        results["summary"] = summary(results, args.seed)
        report["runs"][run.name] = results
        print(f"\n{run.name}: {results['texts']} test texts, {results['words_per_text']:.1f} words per text")
        print(table(run.name, results["summary"]), flush=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
