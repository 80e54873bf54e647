"""`mindscreen predict --engine ray` end to end: real `mindscreen` processes, each starting a local Ray
instance (its files under a private RAY_TMPDIR, searched afterwards for texts), on the tiny run.

Slow (each run starts Ray and actors that import torch: 15-40 s); CI runs them in their own step
(`make test-ray`)."""

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mindscreen.pipeline import predict_table

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="needs the ray extra"),
]

SENTINEL = "zebra-quokka-7731 cannot see a way out"
TEXTS = [
    "exams are close and i cannot sleep",
    "had a calm walk today",
    "i feel so alone lately",
    "work is ok",
]


@pytest.fixture
def ray_tmp() -> Iterator[Path]:
    """A short private RAY_TMPDIR: Ray's socket paths under it must stay within 107 bytes."""
    folder = Path(tempfile.mkdtemp(prefix="msray-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def mindscreen(args: list[str], ray_tmp: Path) -> tuple[list[str], dict[str, str]]:
    """The command and its environment: a `mindscreen` process whose Ray keeps its files in ``ray_tmp``."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "RAY_TMPDIR": str(ray_tmp)}
    return [sys.executable, "-m", "mindscreen.cli", "-q", *args], env


def run(args: list[str], ray_tmp: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    command, env = mindscreen(args, ray_tmp)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


def files_holding(folder: Path, text: str) -> list[Path]:
    """Every file under ``folder`` whose bytes contain ``text`` (Ray's logs, events, spilled objects)."""
    needle = text.encode()
    return [path for path in folder.rglob("*") if path.is_file() and needle in path.read_bytes()]


def scored(output: Path) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(path) for path in sorted(output.glob("*.parquet"))], ignore_index=True)


def test_ray_gives_the_single_process_answers_and_an_error_column_and_no_text_reaches_ray(
    trained_run: Path, tmp_path: Path, ray_tmp: Path
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    good = pd.DataFrame({"id": range(60), "text": [f"{TEXTS[i % 4]} {i}" for i in range(60)]})
    good.loc[17, "text"] = SENTINEL
    good.iloc[:30].to_csv(corpus / "a.csv", index=False)
    pq.write_table(pa.Table.from_pandas(good.iloc[30:], preserve_index=False), corpus / "b.parquet")
    bad = [{"id": 100, "text": ""}, {"id": 101}, {"id": 102, "text": 5}]
    lines = [json.dumps(row) for row in bad] + ["{broken " + SENTINEL]
    (corpus / "c.jsonl").write_text("\n".join(lines) + "\n")
    args = ["predict", str(trained_run), "--input", str(corpus), "--output", str(tmp_path / "out")]
    done = run([*args, "--engine", "ray", "--workers", "2", "--part-rows", "8", "--batch-size", "5"], ray_tmp)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "64 rows in 9 parts" in done.stdout and "(4 with an error)" in done.stdout

    out = scored(tmp_path / "out")
    good.to_parquet(tmp_path / "good.parquet")
    predict_table(trained_run, tmp_path / "good.parquet", tmp_path / "single.parquet")
    single = pd.read_parquet(tmp_path / "single.parquet")
    assert list(out.columns) == [*single.columns, "error"]
    ok = out[out["error"].isna()].assign(id=lambda f: f["id"].astype(int)).set_index("id").sort_index()
    single = single.set_index("id")
    assert ok.index.tolist() == list(range(60))
    assert ok["labels"].map(list).tolist() == single["labels"].map(list).tolist()
    probs = [column for column in single.columns if column.startswith("prob_")]
    np.testing.assert_allclose(ok[probs].to_numpy(), single[probs].to_numpy(), atol=1e-5)
    assert (ok[["risk", "stage", "needs_review"]] == single[["risk", "stage", "needs_review"]]).all().all()
    errors = out[out["error"].notna()]
    assert len(errors) == 4 and errors[probs].isna().all().all()

    assert SENTINEL not in done.stdout + done.stderr
    assert list((ray_tmp / "ray").glob("session_*/logs/*.log"))  # Ray did write its logs there
    assert files_holding(ray_tmp, "zebra-quokka") == []


def test_a_part_that_cannot_be_read_stops_the_job_without_quoting_it(
    trained_run: Path, tmp_path: Path, ray_tmp: Path
) -> None:
    source = tmp_path / "posts.csv"
    source.write_text("text\n" + "".join(f"post {i}\n" for i in range(10)) + f'"{SENTINEL}\n')
    args = ["predict", str(trained_run), "--input", str(source), "--output", str(tmp_path / "out")]
    done = run([*args, "--engine", "ray", "--workers", "1", "--part-rows", "5"], ray_tmp)
    assert done.returncode == 1
    assert "posts.csv, rows 11-11 could not be scored: DataError" in done.stderr
    assert "run the same command again" in done.stderr
    assert SENTINEL not in done.stdout + done.stderr
    assert files_holding(ray_tmp, "zebra-quokka") == []


def test_a_job_killed_halfway_finishes_on_the_same_command_with_every_row_once(
    trained_run: Path, tmp_path: Path, ray_tmp: Path
) -> None:
    import psutil

    rows = 4000
    source = tmp_path / "posts.parquet"
    texts = [f"{TEXTS[i % 4]} {i}" for i in range(rows)]
    pq.write_table(pa.table({"id": list(range(rows)), "text": texts}), source, row_group_size=500)
    out = tmp_path / "out"
    args = ["predict", str(trained_run), "--input", str(source), "--output", str(out)]
    args += ["--engine", "ray", "--workers", "1", "--part-rows", "20"]
    command, env = mindscreen(args, ray_tmp)
    driver = subprocess.Popen(command, env=env, start_new_session=True)
    deadline = time.monotonic() + 180
    while len(list(out.glob("*.parquet"))) < 3 and driver.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    family = psutil.Process(driver.pid).children(recursive=True)
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait(timeout=30)
    _, alive = psutil.wait_procs(family, timeout=10)
    for process in alive:  # Ray's agents outlive a killed driver; end the ones this test started
        process.kill()
    before = {path.name: path.stat().st_ino for path in out.glob("*.parquet")}
    assert 3 <= len(before) < rows // 20, "the kill must land halfway: raise the row count"

    done = run(args, ray_tmp)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"skipped {len(before)} finished earlier" in done.stdout
    after = scored(out)
    assert sorted(after["id"].tolist()) == list(range(rows))  # every row exactly once
    assert {name: (out / name).stat().st_ino for name in before} == before  # finished parts not rewritten
    assert not [path for path in out.iterdir() if path.name.startswith(".tmp-")]
    assert json.loads((out / "_manifest.json").read_text())["status"] == "complete"
