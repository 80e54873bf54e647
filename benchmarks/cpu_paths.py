"""CPU serving paths side by side with ``transformers.pipeline("text-classification")`` (issue 15).

For one run directory, on the test texts of each dataset given (dreaddit, goemotions: only the texts
are used, so any run can be timed on both), at the run's max length and at each ``--lengths`` value:

- the Hugging Face pipeline on the run's own encoder (a fresh sequence-classification head: the same
  compute), ``batch_size=32``, truncated at the same length: the peer;
- mindscreen's torch predictor in fp32 and under bfloat16 autocast (``--precision bf16``), the ONNX
  fp32 export (fused graph) and the int8 export (static QDQ calibrated on the run's dev texts), as
  ``mindscreen export`` writes them, and, where OpenVINO is installed, the fp32 export on OpenVINO in
  bfloat16 (``--runtime openvino --precision bf16``);
- per path: one-text p50 (ms), texts/s in calls of 32 texts, and for mindscreen's paths the share of
  texts whose thresholded labels equal torch's.

Rounds alternate the paths (``--rounds``) and medians are reported, which matters on a shared machine.
``--service`` also serves the torch run and the int8 export with ``mindscreen serve`` (its own process,
loopback), micro-batching off and on, and reports one-text p50 through the service against the same
call in process, and the split the service's ``Server-Timing`` header gives per request: time in the
model, the service's own time, and the client's and loopback's (the client runs on the same cores).
``--service-only`` times the service alone.

    python benchmarks/cpu_paths.py .bench/runs/dreaddit64 --texts 256 --service
    python benchmarks/cpu_paths.py .bench/runs/dreaddit64 --service-only --singles 50 --rounds 3
    python benchmarks/cpu_paths.py --smoke      # an untrained tiny encoder, seconds: every path runs

Prints Markdown rows with the machine and versions, and writes JSON (``--out``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from mindscreen.data import resolve_data_dir
from mindscreen.export import OnnxPredictor, export_run
from mindscreen.predictors.run import RunPredictor
from mindscreen.thresholds import apply_thresholds

Call = Callable[[list[str]], Any]


def test_texts(dataset: str, limit: int, split: str = "test") -> list[str]:
    """The first ``limit`` texts of a split (test by default) of a data folder, a folder of
    ../shared/data, or a shipped set."""
    shared = Path(__file__).resolve().parents[2] / "shared" / "data" / dataset
    folder = Path(dataset) if Path(dataset).is_dir() else shared
    folder = folder if folder.is_dir() else resolve_data_dir(dataset)
    path = folder / f"{split}.jsonl"
    return [json.loads(line)["text"] for line in path.read_text().splitlines() if line.strip()][:limit]


def at_length(run: Path, length: int, folder: Path) -> Path:
    """``run`` itself at its own max length, else a copy whose model.json says ``length``."""
    spec = json.loads((run / "model.json").read_text())
    if spec["max_length"] == length:
        return run
    copy = Path(shutil.copytree(run, folder / f"{run.name}-{length}"))
    (copy / "model.json").write_text(json.dumps({**spec, "max_length": length}, indent=2))
    return copy


def hf_peer(run: Path, length: int, threads: int) -> Call:
    """``transformers.pipeline`` on the run's encoder with a sequence-classification head."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    labels = json.loads((run / "model.json").read_text())["labels"]
    model = AutoModelForSequenceClassification.from_pretrained(run / "encoder", num_labels=len(labels))
    tokenizer = AutoTokenizer.from_pretrained(run / "encoder")
    pipe = pipeline("text-classification", model=model, tokenizer=tokenizer, device=-1, top_k=None)
    torch.set_num_threads(threads)
    return lambda texts: pipe(texts, batch_size=32, truncation=True, max_length=length)


def time_once(call: Call, texts: list[str], singles: int) -> tuple[float, float]:
    """One round: median one-text latency (ms) over ``singles`` texts, and texts/s in calls of 32."""
    latencies = []
    for text in texts[:singles]:
        started = time.perf_counter()
        call([text])
        latencies.append((time.perf_counter() - started) * 1000)
    started = time.perf_counter()
    for start in range(0, len(texts), 32):
        call(texts[start : start + 32])
    return statistics.median(latencies), len(texts) / (time.perf_counter() - started)


def bench_length(run: Path, texts: dict[str, list[str]], args: argparse.Namespace) -> dict[str, Any]:
    """Every path on every dataset's texts, rounds alternating the paths; medians."""
    export, check = export_run(run, run.parent / f"{run.name}-onnx", int8=True, overwrite=True)
    length = int(json.loads((run / "model.json").read_text())["max_length"])
    torch_path = RunPredictor.from_dir(run, device="cpu")
    paths: dict[str, Any] = {
        "HF pipeline (peer)": hf_peer(run, length, args.threads),
        "mindscreen torch": torch_path,
        "mindscreen torch bf16": RunPredictor.from_dir(run, device="cpu", precision="bf16"),
        "ONNX fp32 (fused)": OnnxPredictor.from_dir(export, int8=False, threads=args.threads),
        "ONNX int8 (static QDQ)": OnnxPredictor.from_dir(
            export, int8=True, threads=args.threads, allow_failed_int8=True
        ),
    }
    if importlib.util.find_spec("openvino") is not None:
        paths["ONNX fp32 on OpenVINO bf16"] = OnnxPredictor.from_dir(
            export, int8=False, threads=args.threads, runtime="openvino", precision="bf16"
        )
    rows: dict[str, Any] = {"max_length": length, "check": check, "rows": {}}
    for dataset, some in texts.items():
        reference = apply_thresholds(
            torch_path.predict_proba(some), torch_path.thresholds, torch_path.multi_label
        )
        for path in paths.values():  # warm-up
            (path if callable(path) else path.predict_proba)(some[:8])
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in paths}
        for _ in range(args.rounds):
            for name, path in paths.items():
                call = path if callable(path) else path.predict_proba
                samples[name].append(time_once(call, some, args.singles))
        for name, path in paths.items():
            row = {
                "p50_ms": statistics.median(s[0] for s in samples[name]),
                "texts_per_s_32": statistics.median(s[1] for s in samples[name]),
            }
            if not callable(path):
                labels = apply_thresholds(path.predict_proba(some), path.thresholds, path.multi_label)
                row["label_agreement"] = float((labels == reference).all(axis=1).mean())
            rows["rows"][f"{dataset} | {name}"] = row
            print(length, dataset, name, json.dumps(row), flush=True)
    return rows


def bench_service(
    model: Path, texts: list[str], singles: int, rounds: int, window_ms: float | None
) -> dict[str, float]:
    """One-text p50 in this process and through ``mindscreen serve`` (its own process, loopback).

    The service's own overhead is read from its ``Server-Timing`` header: the request's time in the
    service (``app``) minus the time it waited for and ran the model (``model``), per request; the client's
    own time and the loopback transport are what the client measures beyond ``app``.
    """
    import httpx
    from overload import free_port, start_server  # benchmarks/overload.py

    from mindscreen.pipeline import load_pipeline

    port = free_port()
    extra = [] if window_ms is None else ["--batch-window-ms", str(window_ms)]
    server = start_server(model, Path(__file__).resolve().parents[1] / "src", port, 4, extra)
    pipeline = load_pipeline(model, allow_failed_int8=True)
    local, remote, own, transport, in_model = [], [], [], [], []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            for _ in range(rounds):
                local.append(time_once(pipeline.classify, texts, singles)[0])
                for text in texts[:singles]:
                    started = time.perf_counter()
                    answer = http.post("/v1/classify", json={"texts": [text]})
                    client_ms = (time.perf_counter() - started) * 1000
                    timing = server_timing(answer.headers["server-timing"])
                    remote.append(client_ms)
                    own.append(timing["app"] - timing["model"])
                    transport.append(client_ms - timing["app"])
                    in_model.append(timing["model"])
    finally:
        server.terminate()
        server.wait(timeout=30)
    p50_local, p50_remote = statistics.median(local), statistics.median(remote)
    return {
        "in_process_p50_ms": p50_local,
        "service_p50_ms": p50_remote,
        "overhead_ms": p50_remote - p50_local,
        "server_model_p50_ms": statistics.median(in_model),
        "service_own_p50_ms": statistics.median(own),
        "client_and_transport_p50_ms": statistics.median(transport),
    }


def server_timing(header: str) -> dict[str, float]:
    """``{"model": ms, "app": ms}`` from a ``Server-Timing`` header of ``mindscreen serve``."""
    return {name.strip(): float(ms) for name, ms in (part.split(";dur=") for part in header.split(","))}


def machine(threads: int) -> str:
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {threads} threads"


def versions() -> str:
    import onnxruntime
    import transformers

    openvino = ""
    if importlib.util.find_spec("openvino") is not None:
        import openvino as ov

        openvino = f"openvino {ov.__version__}, "
    return (
        f"torch {torch.__version__}, transformers {transformers.__version__}, "
        f"onnxruntime {onnxruntime.__version__}, {openvino}Python {platform.python_version()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run", nargs="?", type=Path, help="A trained run directory.")
    parser.add_argument("--datasets", nargs="+", default=["dreaddit", "goemotions"])
    parser.add_argument(
        "--lengths", type=int, nargs="*", default=[128], help="Max lengths besides the run's."
    )
    parser.add_argument("--texts", type=int, default=256, help="Test texts per dataset.")
    parser.add_argument("--singles", type=int, default=50, help="Texts timed one at a time per round.")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--service", action="store_true", help="Also time the HTTP service (int8 export).")
    parser.add_argument(
        "--service-only", action="store_true", help="Time the HTTP service alone, at the run's length."
    )
    parser.add_argument("--out", type=Path, default=Path(".bench/cpu_paths/results.json"))
    parser.add_argument("--smoke", action="store_true", help="An untrained tiny encoder on the demo data.")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    workdir = Path(tempfile.mkdtemp(prefix="mindscreen-cpu-paths-"))
    if args.smoke:
        from serving import smoke_run  # benchmarks/serving.py

        args.run, args.datasets, args.lengths = smoke_run(workdir), ["demo"], [32]
        args.texts, args.singles, args.rounds = 64, 5, 1
    if args.run is None:
        parser.error("give a run directory (or --smoke)")
    texts = {name: test_texts(name, args.texts) for name in args.datasets}
    own = int(json.loads((args.run / "model.json").read_text())["max_length"])
    result: dict[str, Any] = {
        "machine": machine(args.threads),
        "versions": versions(),
        "run": str(args.run),
        "texts": args.texts,
        "lengths": {},
    }
    for length in dict.fromkeys([own] if args.service_only else [own, *args.lengths]):
        run = at_length(args.run, length, workdir)
        if args.service_only:
            export_run(run, run.parent / f"{run.name}-onnx", int8=True, overwrite=True)
        else:
            result["lengths"][length] = bench_length(run, texts, args)
        if (args.service or args.service_only) and length == own:
            first = next(iter(texts.values()))
            result["service"] = {}
            for name, model in (("torch", run), ("ONNX int8", run.parent / f"{run.name}-onnx")):
                for window in (None, 0.0):
                    key = f"{name}, micro-batching {'off' if window is None else f'{window:g} ms'}"
                    row = bench_service(model, first, args.singles, args.rounds, window)
                    result["service"][key] = row
                    print("service", key, json.dumps(row), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str))
    print_rows(result)


def print_rows(result: dict[str, Any]) -> None:
    print(f"\n{result['machine']}; {result['versions']}; {result['texts']} texts per dataset\n")
    if result["lengths"]:
        print("| max length | texts | path | p50 1 text (ms) | texts/s @32 | vs peer @32 | labels = torch |")
        print("|---|---|---|---|---|---|---|")
    for length, block in result["lengths"].items():
        rows = block["rows"]
        for key, row in rows.items():
            dataset, name = key.split(" | ")
            peer = rows[f"{dataset} | HF pipeline (peer)"]["texts_per_s_32"]
            agree = f"{row['label_agreement']:.1%}" if "label_agreement" in row else "-"
            print(
                f"| {length} | {dataset} | {name} | {row['p50_ms']:.2f} | {row['texts_per_s_32']:.0f} | "
                f"{row['texts_per_s_32'] / peer:.2f}x | {agree} |"
            )
    for key, row in result.get("service", {}).items():
        print(
            f"service ({key}, one text): {row['service_p50_ms']:.2f} ms p50 through HTTP, "
            f"{row['in_process_p50_ms']:.2f} ms in process; in the server (Server-Timing): model "
            f"{row['server_model_p50_ms']:.2f} ms, the service's own {row['service_own_p50_ms']:.2f} ms; "
            f"client and loopback {row['client_and_transport_p50_ms']:.2f} ms"
        )


if __name__ == "__main__":
    main()
