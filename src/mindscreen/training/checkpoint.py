"""Resumable training state: written at every evaluation, read by ``--resume``.

Model weights (and the EMA shadow, when on) go to safetensors; optimizer, scheduler and RNG
states are plain tensors and numbers saved with ``torch.save`` and read back with
``weights_only=True``.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

# has_checkpoint is re-exported: the loop and the tests import it from here.
from mindscreen.rundir import CHECKPOINT_DIR
from mindscreen.rundir import has_checkpoint as has_checkpoint
from mindscreen.training.ema import EMA


@dataclass
class TrainState:
    """Where training stands; enough, with the weights, to continue exactly."""

    step: int = 0  # optimizer steps done
    epoch: int = 0
    batches_done: int = 0  # micro-batches done in the current epoch
    best_metric: float = float("-inf")
    best_step: int = -1
    evals_without_improvement: int = 0
    train_loss_sum: float = 0.0
    train_loss_count: int = 0
    micro_splits: int = 1  # each configured micro-batch runs in this many parts (after CUDA OOM)


def save_checkpoint(
    run_dir: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    state: TrainState,
    ema: EMA | None = None,
) -> None:
    """Write the checkpoint to a temporary folder, then swap it in: a crash never leaves half of one."""
    final = run_dir / CHECKPOINT_DIR
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(weights, str(tmp / "model.safetensors"))
    if ema is not None:
        save_file(ema.state_dict(), str(tmp / "ema.safetensors"))
    rng = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.stack(list(torch.cuda.get_rng_state_all()))
    torch.save(
        {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": rng},
        tmp / "optimizer.pt",
    )
    (tmp / "state.json").write_text(json.dumps(asdict(state), indent=2) + "\n")
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)


def load_checkpoint(
    run_dir: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    ema: EMA | None = None,
) -> TrainState:
    """Restore weights, EMA shadow, optimizer, scheduler and RNG states in place; return the state."""
    folder = run_dir / CHECKPOINT_DIR
    device = next(model.parameters()).device
    model.load_state_dict(load_file(str(folder / "model.safetensors"), device=str(device)))
    if ema is not None:
        if not (folder / "ema.safetensors").is_file():
            raise ValueError(
                f"{folder} holds no EMA weights but train.ema_decay is set; resume with the config "
                "the run started with (its config.yaml)"
            )
        ema.load_state_dict(load_file(str(folder / "ema.safetensors"), device=str(device)))
    saved = torch.load(folder / "optimizer.pt", map_location=device, weights_only=True)
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    torch.set_rng_state(saved["rng"]["torch"].cpu())
    if "cuda" in saved["rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(saved["rng"]["cuda"].cpu()))
    return TrainState(**json.loads((folder / "state.json").read_text()))


def remove_checkpoints(run_dir: Path) -> None:
    shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
