"""Goodput under overload: successful requests per second when many clients retry at once.

Starts ``mindscreen serve`` in its own process on a free loopback port, serving an untrained MiniLM
classifier on the demo labels (the embedded encoder: the real CPU cost of one text; its predictions do
not matter here). Then, for each client count, runs that many asyncio clients for ``--seconds``; each
sends one demo text per request over its own keep-alive connection and, when refused (429 or 503),
sends again at once, ignoring ``Retry-After``. Reported per count: successful requests/s (goodput),
refusals/s, and p50/p95 latency of the successful requests. One client is the capacity reference.

``--baseline-src DIR`` serves the same model with the ``src`` folder of another checkout (e.g. the code
before a change, from ``git archive``) in the same run, and prints both with their ratio.

    python benchmarks/overload.py                                  # this checkout
    python benchmarks/overload.py --baseline-src /tmp/base/src     # against the code in /tmp/base/src

The clients run on the same machine as the server and take CPU from it; say so when quoting numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

SRC = Path(__file__).resolve().parents[1] / "src"
CLIENT_TIMEOUT_S = 30.0  # an answer slower than this counts as a timeout


def minilm_run(folder: Path) -> Path:
    """An untrained MiniLM classifier on the demo labels, saved as a run directory (no training)."""
    from mindscreen.config import DataConfig, ModelConfig, RunConfig, dump_config
    from mindscreen.data import load_splits
    from mindscreen.modeling import build_model, save_model
    from mindscreen.rundir import CONFIG_FILE, write_calibration, write_json, write_thresholds
    from mindscreen.thresholds import default_thresholds

    splits = load_splits(DataConfig(dir="demo"))
    labels = splits.label_names
    model, tokenizer = build_model(ModelConfig(encoder="minilm"), labels, splits.multi_label)
    run = folder / "run"
    save_model(model, tokenizer, run)
    write_thresholds(run, labels, default_thresholds(len(labels), splits.multi_label), fitted=False)
    write_calibration(run, labels, "none", np.ones(1), {})
    write_json(run / "metrics.json", {"note": "overload benchmark: untrained"})
    (run / CONFIG_FILE).write_text(dump_config(RunConfig(output_dir=str(run))))
    return run


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    run: Path, src: Path, port: int, max_concurrency: int, extra: list[str] | None = None
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(src), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    command = [sys.executable, "-m", "mindscreen.cli", "-q", "serve", str(run), "--port", str(port)]
    command += ["--max-concurrency", str(max_concurrency), "--allow-failed-int8", *(extra or [])]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError(f"the server from {src} did not become ready")


async def one_client(port: int, bodies: list[bytes], stop_at: float, log: list[tuple[int, float]]) -> None:
    """Send requests back to back until ``stop_at``, logging (status, seconds) for each answer.

    An answer that takes longer than ``CLIENT_TIMEOUT_S``, or a broken connection, is logged as status 0
    and the connection is opened again.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = 0
    while time.monotonic() < stop_at:
        body = bodies[i % len(bodies)]
        i += 1
        head = (
            "POST /v1/classify HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        started = time.perf_counter()
        try:
            writer.write(head.encode() + body)
            status, close = await asyncio.wait_for(read_response(reader), CLIENT_TIMEOUT_S)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            status, close = 0, True
        log.append((status, time.perf_counter() - started))
        if close:
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.close()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """The status of one HTTP/1.1 response, and whether the server closes the connection."""
    status = int((await reader.readline()).split()[1])
    length, close = 0, False
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
        close |= name.lower() == "connection" and value.strip().lower() == "close"
    await reader.readexactly(length)
    return status, close


async def load(port: int, clients: int, seconds: float, bodies: list[bytes]) -> dict[str, float]:
    log: list[tuple[int, float]] = []
    stop_at = time.monotonic() + seconds
    await asyncio.gather(*(one_client(port, bodies[c:] + bodies[:c], stop_at, log) for c in range(clients)))
    ok = [s for status, s in log if status == 200]
    refused = [s for status, s in log if status in (429, 503)]
    return {
        "clients": clients,
        "goodput_per_s": len(ok) / seconds,
        "refused_per_s": len(refused) / seconds,
        "timeouts": float(sum(1 for status, _ in log if status == 0)),
        "other": float(sum(1 for status, _ in log if status not in (0, 200, 429, 503))),
        "p50_ms": _percentile_ms(ok, 50),
        "p95_ms": _percentile_ms(ok, 95),
        "p99_ms": _percentile_ms(ok, 99),
        "refused_p99_ms": _percentile_ms(refused, 99),
    }


def _percentile_ms(seconds: list[float], q: float) -> float:
    return float(np.percentile(seconds, q) * 1000) if seconds else float("nan")


def measure(
    run: Path, src: Path, args: argparse.Namespace, bodies: list[bytes], extra: list[str]
) -> list[dict[str, float]]:
    port = free_port()
    server = start_server(run, src, port, args.max_concurrency, extra)
    try:
        asyncio.run(load(port, 1, 2.0, bodies))  # warm-up
        return [asyncio.run(load(port, n, args.seconds, bodies)) for n in args.clients]
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument("--seconds", type=float, default=20.0, help="Duration of each load level.")
    parser.add_argument("--max-concurrency", type=int, default=4)
    parser.add_argument("--baseline-src", type=Path, help="The src folder of the code to compare against.")
    parser.add_argument(
        "--batch-window-ms",
        type=float,
        help="Also measure this checkout with micro-batching on (serve --batch-window-ms).",
    )
    parser.add_argument(
        "--model",
        type=Path,
        help="Serve this run, ensemble, export or pipeline instead of an untrained MiniLM classifier.",
    )
    parser.add_argument("--out", type=Path, default=Path(".bench/overload/results.json"))
    args = parser.parse_args()
    from mindscreen.config import DataConfig
    from mindscreen.data import load_splits

    texts = load_splits(DataConfig(dir="demo")).dev.texts
    bodies = [json.dumps({"text": text}).encode() for text in texts]
    run = args.model or minilm_run(Path(tempfile.mkdtemp(prefix="mindscreen-overload-")))
    sources = {"this checkout": (SRC, [])}
    if args.batch_window_ms is not None:
        window = ["--batch-window-ms", str(args.batch_window_ms)]
        sources[f"this checkout, micro-batching {args.batch_window_ms:g} ms"] = (SRC, window)
    if args.baseline_src:
        sources["baseline"] = (args.baseline_src, [])
    results = {name: measure(run, src, args, bodies, extra) for name, (src, extra) in sources.items()}
    report: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "seconds_per_level": args.seconds,
        "max_concurrency": args.max_concurrency,
        "model": str(args.model) if args.model else "untrained MiniLM classifier, demo labels (torch)",
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(
        "| code | clients | goodput req/s | refused req/s | p50 ms | p95 ms | p99 ms | refusal p99 ms "
        "| timeouts | other errors |\n|---|---|---|---|---|---|---|---|---|---|"
    )
    for name, rows in results.items():
        for row in rows:
            print(
                f"| {name} | {row['clients']} | {row['goodput_per_s']:.1f} | {row['refused_per_s']:.0f} | "
                f"{row['p50_ms']:.0f} | {row['p95_ms']:.0f} | {row['p99_ms']:.0f} | "
                f"{row['refused_p99_ms']:.0f} | {row['timeouts']:.0f} | {row['other']:.0f} |"
            )
    if "baseline" in results:
        for new, old in zip(results["this checkout"], results["baseline"], strict=True):
            ratio = new["goodput_per_s"] / max(old["goodput_per_s"], 1e-9)
            print(f"{new['clients']} clients: goodput {ratio:.2f}x the baseline")


if __name__ == "__main__":
    main()
