"""Data-parallel training: two real processes under torchrun, gloo backend, on the CPU."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

from mindscreen.rundir import RUN_FILES, read_log
from mindscreen.training.distributed import World, shard


def test_every_rank_gets_the_same_number_of_batches_and_none_twice() -> None:
    batches = [np.array([i]) for i in range(7)]
    shares = [shard(batches, World(size=2, rank=r)) for r in range(2)]
    assert len(shares[0]) == len(shares[1]) == 3
    seen = [int(b[0]) for share in shares for b in share]
    assert len(seen) == len(set(seen))


def test_single_process_keeps_every_batch() -> None:
    batches = [np.array([i]) for i in range(5)]
    assert shard(batches, World()) == batches


def test_train_under_torchrun_with_two_processes_writes_one_run_directory(
    tmp_path: Path, tiny_bert_dir: Path
) -> None:
    run_dir = tmp_path / "ddp"
    config = tmp_path / "ddp.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "output_dir": str(run_dir),
                "data": {"dir": "demo"},
                "model": {"encoder": str(tiny_bert_dir), "max_length": 32},
                "train": {"epochs": 2, "batch_size": 32, "lr": 3e-3, "patience": None},
            }
        )
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
        "-m", "mindscreen.cli", "-q", "train", "-c", str(config),
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(p.name for p in run_dir.iterdir()) == sorted(RUN_FILES)
    steps = [record["step"] for record in read_log(run_dir)]
    assert steps == sorted(set(steps)) and len(steps) == 2  # rank 0 alone evaluates, once per epoch
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["timing"]["world_size"] == 2
    # 420 demo texts in batches of 32: 14 batches, 7 per rank, so 7 optimizer steps per epoch.
    assert metrics["steps"] == 14
    assert done.stdout.count("run saved to") == 1
