"""Scoring a large synthetic corpus: the single-process ``predict`` path against Ray with 1 and 2 workers.

Generates a corpus of short texts (default 1 million, 5-30 words each) by sampling words with their
frequencies in the public sets' training texts (``../shared/data/*/train.jsonl``), written once as
one Parquet file (row groups of 10,000) under ``--workdir`` (never committed). Then scores it with an
ONNX export (int8 by default, run even if its check against torch failed: the check's result is
printed beside the table, since this measures speed and memory, not answers) three ways, each in a
fresh child process:

- ``single``: ``predict_table`` (what ``mindscreen predict --input`` runs), the runtime on all cores;
- ``ray1`` / ``ray2``: ``predict_corpus`` (``predict --engine ray``) with 1 and 2 workers of one CPU
  (one runtime thread) each.

The runtime is ONNX Runtime unless ``--engine openvino bf16`` (or ``openvino fp32``) says otherwise.

For each: rows/s over the whole run, start-up overhead (single: loading the model; Ray: from starting
the engine to the first part written, less that part's own time), busy rows/s per worker, and the
peak resident memory of every process of the run (sampled every 0.2 s with psutil: the driver, each
Ray worker, Ray's own daemons).

    python benchmarks/batch_scale.py /tmp/ray-bench/run-onnx --rows 20000      # validate, minutes
    python benchmarks/batch_scale.py /tmp/ray-bench/run-onnx                    # 1M rows: hours on 2 cores
    python benchmarks/batch_scale.py /tmp/ray-bench/run-onnx --rows 20000 --fp32 --engine openvino bf16

Prints a Markdown table and writes JSON (``--out``).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.parquet as pq

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CONFIGS = {"single": 0, "ray1": 1, "ray2": 2}


def vocabulary(data_dir: Path) -> tuple[list[str], np.ndarray]:
    """Words of the public sets' training texts and their relative frequencies."""
    counts: Counter[str] = Counter()
    for path in sorted(data_dir.glob("*/train.jsonl")):
        for line in path.read_text().splitlines():
            counts.update(json.loads(line)["text"].lower().split())
    words = [word for word, _ in counts.most_common(50_000)]
    freq = np.array([counts[word] for word in words], dtype=np.float64)
    return words, freq / freq.sum()


def make_corpus(path: Path, rows: int, data_dir: Path, seed: int = 0) -> Path:
    """``rows`` texts of 5-30 words sampled by word frequency, with an ``id`` column (skipped if present)."""
    if path.is_file() and pq.ParquetFile(path).metadata.num_rows == rows:
        return path
    words, freq = vocabulary(data_dir)
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    schema = pa.schema([("id", pa.int64()), ("text", pa.string())])
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, rows, 10_000):
            count = min(10_000, rows - start)
            lengths = rng.integers(5, 31, size=count)
            picks = rng.choice(len(words), size=int(lengths.sum()), p=freq)
            cuts = np.cumsum(lengths)[:-1]
            texts = [" ".join(words[i] for i in chunk) for chunk in np.split(picks, cuts)]
            writer.write_table(
                pa.table({"id": np.arange(start, start + count), "text": texts}, schema=schema)
            )
    return path


def child(
    config: str, export: Path, corpus: Path, workdir: Path, int8: bool, part_rows: int, engine: list[str]
) -> dict[str, Any]:
    """One configuration, run in this (child) process; returns its timings. ``engine``: the runtime and
    the precision that run the export."""
    from mindscreen.predictors import LoadOptions

    runtime, precision = engine
    load = {"int8": int8, "allow_failed_int8": int8, "runtime": runtime, "precision": precision}

    output = workdir / f"out-{config}"
    shutil.rmtree(output, ignore_errors=True)
    workers = CONFIGS[config]
    rows = pq.ParquetFile(corpus).metadata.num_rows
    began = time.perf_counter()
    if workers == 0:
        from mindscreen.pipeline import load_pipeline, predict_table

        pipeline = load_pipeline(export, LoadOptions(device="cpu", **load))
        loaded = time.perf_counter()
        predict_table(pipeline, corpus, output.with_suffix(".parquet"), text_column="text")
        seconds = time.perf_counter() - began
        return {
            "rows": rows,
            "seconds": seconds,
            "startup_s": loaded - began,
            "busy_rows_per_s": [rows / (seconds - (loaded - began))],
        }
    from mindscreen.corpus import ClusterSettings, predict_corpus

    result = predict_corpus(
        export,
        corpus,
        output,
        text_column="text",
        part_rows=part_rows,
        cluster=ClusterSettings(workers=workers),
        options=LoadOptions(device="cpu", threads=1, **load),
    )
    busy = [w["rows"] / w["busy_s"] for w in result.workers.values() if w["busy_s"]]
    return {
        "rows": result.rows,
        "seconds": result.seconds,
        "startup_s": result.startup_s,
        "busy_rows_per_s": busy,
    }


def measure(config: str, args: argparse.Namespace, corpus: Path) -> dict[str, Any]:
    """Run ``config`` in a child process, sampling the memory of its whole process tree."""
    command = [sys.executable, __file__, str(args.export), "--child", config, "--corpus", str(corpus)]
    command += ["--workdir", str(args.workdir), "--part-rows", str(args.part_rows)]
    command += ["--fp32"] if args.fp32 else []
    command += ["--engine", *args.engine]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    peaks: dict[int, tuple[str, float]] = {}
    peak_total = 0.0
    root = psutil.Process(process.pid)
    while process.poll() is None:
        total = 0.0
        for member in [root, *_children(root)]:
            try:
                rss = member.memory_info().rss / 2**20
                role = _role(member, root)
            except psutil.Error:
                continue
            total += rss
            peaks[member.pid] = (role, max(rss, peaks.get(member.pid, (role, 0.0))[1]))
        peak_total = max(peak_total, total)
        time.sleep(0.2)
    out, _ = process.communicate()
    if process.returncode:
        raise SystemExit(f"{config} failed with exit code {process.returncode}")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    by_role: dict[str, list[float]] = {}
    for role, rss in peaks.values():
        by_role.setdefault(role, []).append(round(rss))
    return {
        **result,
        "peak_rss_mb": {role: sorted(v, reverse=True) for role, v in by_role.items()},
        "peak_total_mb": round(peak_total),
    }


def _children(root: psutil.Process) -> list[psutil.Process]:
    try:
        return root.children(recursive=True)
    except psutil.Error:
        return []


def _role(process: psutil.Process, root: psutil.Process) -> str:
    if process.pid == root.pid:
        return "driver"
    name = " ".join(process.cmdline()) or process.name()
    return "worker" if "PartScorer" in name else "ray daemon"  # a Ray run's only other processes


def export_check(export: Path, variant: str) -> dict[str, Any] | None:
    """The export's recorded check of ``variant`` against torch (``None`` if it never ran)."""
    meta = json.loads((export / "export.json").read_text())
    check: dict[str, Any] | None = meta.get("check", {}).get(variant)
    return check


def table(results: dict[str, dict[str, Any]]) -> str:
    """Markdown: rows/s and its ratio to the single process, start-up, per-worker rate, peak memory."""
    base = results.get("single", {}).get("seconds")
    lines = [
        "| path | rows | rows/s | vs single | start-up (s) | busy rows/s per worker "
        "| peak RSS MB: driver | each worker | Ray daemons (sum) | all processes |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for config, r in results.items():
        rss = r["peak_rss_mb"]
        cells = [
            config,
            str(r["rows"]),
            f"{r['rows'] / r['seconds']:.0f}",
            f"{base / r['seconds']:.2f}x" if base else "-",
            f"{r['startup_s']:.1f}",
            ", ".join(f"{b:.0f}" for b in r["busy_rows_per_s"]),
            str(rss.get("driver", ["-"])[0]),
            ", ".join(map(str, rss.get("worker", []))) or "-",
            str(sum(rss["ray daemon"])) if "ray daemon" in rss else "-",
            str(r["peak_total_mb"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("export", type=Path, help="ONNX export directory (mindscreen export RUN --int8)")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/batch-scale"))
    parser.add_argument(
        "--data-dir", type=Path, default=DATA, help="folders holding train.jsonl (vocabulary)"
    )
    parser.add_argument("--configs", default="single,ray1,ray2")
    parser.add_argument("--part-rows", type=int, default=10_000)
    parser.add_argument("--fp32", action="store_true", help="run the fp32 model instead of int8")
    parser.add_argument(
        "--engine",
        nargs=2,
        default=["onnxruntime", "fp32"],
        metavar=("RUNTIME", "PRECISION"),
        help="what runs the export: onnxruntime fp32 (default), or e.g. openvino bf16 (with --fp32)",
    )
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--child", choices=list(CONFIGS), help=argparse.SUPPRESS)
    parser.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = child(
            args.child, args.export, args.corpus, args.workdir, not args.fp32, args.part_rows, args.engine
        )
        print(json.dumps(result))
        return
    started = time.perf_counter()
    corpus = make_corpus(args.workdir / f"corpus-{args.rows}.parquet", args.rows, args.data_dir)
    print(f"corpus: {corpus} ({args.rows} rows, {time.perf_counter() - started:.0f} s)", flush=True)
    results = {}
    for config in args.configs.split(","):
        results[config] = measure(config, args, corpus)
        print(config, json.dumps(results[config]), flush=True)
    variant = "fp32" if args.fp32 else "int8"
    check = export_check(args.export, variant)
    print(
        f"\n{platform.processor() or platform.machine()}, {psutil.cpu_count()} CPUs, "
        f"{variant} on {' '.join(args.engine)}, {args.rows} rows, parts of {args.part_rows}\n"
        f"{variant} export's check: {check}\n"
    )
    print(table(results))
    if args.out:
        summary = {"rows": args.rows, "variant": variant, "engine": args.engine, "check": check}
        args.out.write_text(json.dumps({**summary, "results": results}, indent=2))


if __name__ == "__main__":
    main()
