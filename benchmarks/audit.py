"""``mindscreen audit`` on the public data sets: time, findings, and two checks against peers.

1. The whole audit (``audit_data``, as the CLI runs it) on the demo set and each set in
   ../shared/data: seconds per step and the counts it finds.
2. Near-duplicates: MinHash + LSH against brute force (exact Jaccard of every pair, a sparse
   product) on the first ``--brute-texts`` distinct texts of GoEmotions: pairs found, recall, time.
3. Label errors: on each multi-class set, ``--flip`` of the labels are changed on purpose (seed 1);
   precision and recall of cleanlab's flags and precision of the top k of its ranking (k = the
   number flipped), against the chance rate (the share flipped).

    python benchmarks/audit.py                  # everything, about 3 minutes on 2 CPU cores
    python benchmarks/audit.py --only timing    # part 1 only

Prints and writes every number as JSON (``--output``). No text is printed or written.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from mindscreen.audit import AuditSettings, audit_data
from mindscreen.audit.label_issues import out_of_fold_probabilities
from mindscreen.audit.minhash import near_duplicate_pairs, shingle_sets
from mindscreen.data.quality import normalize_text

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SETS = ["dreaddit", "sad", "depression_reddit", "goemotions"]
MULTI_CLASS = ["dreaddit", "sad", "depression_reddit"]


def timing() -> list[dict[str, Any]]:
    rows = []
    for name in ["demo", *SETS]:
        data = "demo" if name == "demo" else str(SHARED / name)
        start = time.perf_counter()
        f = audit_data(data, settings=AuditSettings(max_lengths=(128, 256, 512))).findings
        seconds = time.perf_counter() - start
        dup, issues = f["duplicates"], f["label_issues"]
        length = f["lengths"]["splits"]["train"]["truncated"]
        rows.append(
            {
                "data": name,
                "rows": sum(s["rows"] for s in f["splits"].values()),
                "seconds": round(seconds, 1),
                "steps": f["seconds"],
                "text_problems": {k: sum(map(len, v.values())) for k, v in f["text_problems"].items()},
                "exact_groups": dup["exact"]["groups"],
                "extra_copies": dup["exact"]["extra_copies"],
                "conflicting_groups": dup["exact"]["conflicting_groups"],
                "near_groups": dup["near"]["groups"],
                "near_conflicting": dup["near"]["conflicting_groups"],
                "leakage": {
                    f"{p['from']}->{p['to']}": [p["exact_rows"], p["exact_or_near_rows"]]
                    for p in dup["leakage"]
                },
                "flagged": issues["flagged"],
                "checked": issues["checked_rows"],
                "model_accuracy": issues["model_accuracy"],
                "train_cut_at": {k: v["share"] for k, v in length.items()},
            }
        )
        print(f"{name}: {seconds:.1f} s", flush=True)
    return rows


def near_duplicates(limit: int) -> dict[str, Any]:
    texts = [json.loads(line)["text"] for line in (SHARED / "goemotions" / "train.jsonl").open()]
    keys = list(dict.fromkeys(normalize_text(t) for t in texts))[:limit]
    start = time.perf_counter()
    pairs, _ = near_duplicate_pairs(keys, 0.8)
    minhash_s = time.perf_counter() - start
    start = time.perf_counter()
    shingles = shingle_sets(keys)
    sizes = shingles.getnnz(axis=1).astype(float)
    found = set()
    for first in range(0, len(keys), 2000):  # exact Jaccard of every pair, 2000 rows at a time
        shared = (shingles[first : first + 2000] @ shingles.T).tocoo()
        jac = shared.data / (sizes[shared.row + first] + sizes[shared.col] - shared.data)
        keep = (jac >= 0.8) & (shared.row + first < shared.col)
        found |= set(zip((shared.row[keep] + first).tolist(), shared.col[keep].tolist(), strict=True))
    brute_s = time.perf_counter() - start
    got = {tuple(p) for p in pairs.tolist()}
    return {
        "texts": len(keys),
        "pairs_brute_force": len(found),
        "pairs_minhash": len(got),
        "recall": round(len(got & found) / max(len(found), 1), 4),
        "false_pairs": len(got - found),
        "seconds_minhash": round(minhash_s, 2),
        "seconds_brute_force": round(brute_s, 2),
    }


def planted_noise(flip: float) -> list[dict[str, Any]]:
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    rows = []
    for name in MULTI_CLASS:
        records = [
            json.loads(line)
            for s in ("train", "dev", "test")
            for line in (SHARED / name / f"{s}.jsonl").open()
        ]
        names = sorted({r["label"] for r in records})
        truth = np.array([names.index(r["label"]) for r in records])
        rng = np.random.default_rng(1)
        flipped = rng.choice(len(truth), int(flip * len(truth)), replace=False)
        given = truth.copy()
        given[flipped] = (truth[flipped] + rng.integers(1, len(names), len(flipped))) % len(names)
        probs = out_of_fold_probabilities([r["text"] for r in records], np.eye(len(names))[given], False)
        flagged = set(np.flatnonzero(find_label_issues(given, probs)).tolist())
        top = set(np.argsort(get_label_quality_scores(given, probs))[: len(flipped)].tolist())
        planted = set(flipped.tolist())
        rows.append(
            {
                "data": name,
                "rows": len(truth),
                "flipped": len(planted),
                "model_accuracy_on_true_labels": round(float((probs.argmax(1) == truth).mean()), 4),
                "flagged": len(flagged),
                "precision": round(len(flagged & planted) / max(len(flagged), 1), 3),
                "recall": round(len(flagged & planted) / len(planted), 3),
                "precision_top_k": round(len(top & planted) / len(planted), 3),
                "chance": flip,
            }
        )
        print(f"{name}: planted noise done", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=["timing", "near", "noise"])
    parser.add_argument("--brute-texts", type=int, default=10_000)
    parser.add_argument("--flip", type=float, default=0.05)
    parser.add_argument("--output", default=".bench/audit/results.json")
    args = parser.parse_args()
    result: dict[str, Any] = {"machine": f"{platform.processor() or platform.machine()}, {platform.system()}"}
    if args.only in (None, "timing"):
        result["timing"] = timing()
    if args.only in (None, "near"):
        result["near_duplicates"] = near_duplicates(args.brute_texts)
    if args.only in (None, "noise"):
        result["planted_noise"] = planted_noise(args.flip)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
