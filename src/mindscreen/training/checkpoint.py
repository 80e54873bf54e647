"""Resumable training state: written at every evaluation, read by ``--resume``.

Model weights (and the EMA shadow, when on) go to safetensors; optimizer, scheduler and RNG
states are plain tensors and numbers saved with ``torch.save`` and read back with
``weights_only=True``.

A checkpoint is written to ``checkpoints/last.tmp`` and then swapped in for ``checkpoints/last``;
``state.json``, written last and atomically, marks a folder as complete. A run killed during the
swap leaves a complete ``last.tmp``, which :func:`recover_checkpoint` puts in place. A file that
cannot be read stops ``--resume`` with a message naming it, and so does a config that differs from
the one the run started with (:func:`check_resume_config`), unless ``--overwrite`` accepts it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
import yaml
from safetensors.torch import load_file, save_file
from torch import nn

from mindscreen.config import RunConfig, dump_config

# has_checkpoint is re-exported: the loop and the tests import it from here.
from mindscreen.rundir import CHECKPOINT_DIR, CHECKPOINT_STATE, CONFIG_FILE, checkpoint_tmp_dir
from mindscreen.rundir import has_checkpoint as has_checkpoint
from mindscreen.training.ema import EMA

logger = logging.getLogger(__name__)
T = TypeVar("T")

_SHOWN_CHANGES = 10


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
    final, tmp = run_dir / CHECKPOINT_DIR, checkpoint_tmp_dir(run_dir)
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
    part = tmp / (CHECKPOINT_STATE + ".part")
    part.write_text(json.dumps(asdict(state), indent=2) + "\n")
    os.replace(part, tmp / CHECKPOINT_STATE)
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)


def recover_checkpoint(run_dir: Path) -> None:
    """Put a complete ``last.tmp`` in place when it is newer than ``last`` (a kill during the swap).

    An incomplete ``last.tmp`` (a kill while it was written) is removed when ``last`` is complete.

    Raises:
        FileNotFoundError: ``last.tmp`` is incomplete and there is no complete ``last`` either.
    """
    final, tmp = run_dir / CHECKPOINT_DIR, checkpoint_tmp_dir(run_dir)
    if not tmp.is_dir():
        return
    if not (tmp / CHECKPOINT_STATE).is_file():
        if (final / CHECKPOINT_STATE).is_file():
            shutil.rmtree(tmp)
            return
        raise FileNotFoundError(
            f"{tmp} is incomplete (training was killed while writing it) and there is no complete "
            f"{final}: nothing to resume. Train again with --overwrite"
        )
    if (final / CHECKPOINT_STATE).is_file() and _step(final) >= _step(tmp):
        shutil.rmtree(tmp)
        return
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    logger.warning("recovered the checkpoint of step %d from %s (killed while saving it)", _step(final), tmp)


def _step(folder: Path) -> int:
    state = _read(folder / CHECKPOINT_STATE, lambda path: json.loads(path.read_text()))
    return int(state.get("step", -1))


def check_resume_config(run_dir: Path, config: RunConfig, overwrite: bool) -> None:
    """Refuse to resume under a config other than the run's ``config.yaml``, unless ``overwrite``.

    With ``overwrite`` the changes are logged and ``config.yaml`` is rewritten with the new config.

    Raises:
        ValueError: the resolved configs differ; the message lists the dotted keys and both values.
    """
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        return
    saved = _read(path, lambda p: yaml.safe_load(p.read_text()) or {})
    # Where the run lives is not what it trains: a moved run directory resumes.
    changes = [
        change
        for change in config_changes(saved, config.model_dump(mode="json"))
        if change[0] != "output_dir"
    ]
    if not changes:
        return
    listed = "; ".join(f"{key}: {old!r} -> {new!r}" for key, old, new in changes[:_SHOWN_CHANGES])
    listed += f"; and {len(changes) - _SHOWN_CHANGES} more" if len(changes) > _SHOWN_CHANGES else ""
    if not overwrite:
        raise ValueError(
            f"cannot resume {run_dir}: the config differs from the one the run started with ({path}) at "
            f"{listed}. Resume with that config (mindscreen train -c {path} --resume), or add --overwrite "
            "to continue under the new one"
        )
    logger.warning("resuming %s under a changed config (%s); %s is rewritten", run_dir, listed, path)
    path.write_text(dump_config(config))


def config_changes(saved: Any, current: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """``(dotted key, saved value, current value)`` for every leaf that differs; absent is None."""
    if isinstance(saved, dict) and isinstance(current, dict):
        return [
            change
            for key in dict.fromkeys([*saved, *current])
            for change in config_changes(saved.get(key), current.get(key), f"{prefix}{key}.")
        ]
    return [] if saved == current else [(prefix.rstrip("."), saved, current)]


def _read(path: Path, reader: Callable[[Path], T]) -> T:
    """``reader(path)``, or an error naming the file when it is missing or damaged."""
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: the checkpoint is incomplete. Train again with --overwrite"
        )
    try:
        return reader(path)
    except Exception as err:  # safetensors, torch, json and yaml each raise their own types
        raise ValueError(
            f"cannot read {path} ({type(err).__name__}: {str(err)[:200]}): the checkpoint is damaged, "
            "e.g. truncated by a full disk. Train again with --overwrite"
        ) from None


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
    model.load_state_dict(
        _read(folder / "model.safetensors", lambda p: load_file(str(p), device=str(device)))
    )
    if ema is not None:
        if not (folder / "ema.safetensors").is_file():
            raise ValueError(
                f"{folder} holds no EMA weights but train.ema_decay is set; resume with the config "
                "the run started with (its config.yaml)"
            )
        ema.load_state_dict(
            _read(folder / "ema.safetensors", lambda p: load_file(str(p), device=str(device)))
        )
    saved = _read(folder / "optimizer.pt", lambda p: torch.load(p, map_location=device, weights_only=True))
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    torch.set_rng_state(saved["rng"]["torch"].cpu())
    if "cuda" in saved["rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(saved["rng"]["cuda"].cpu()))
    return TrainState(**_read(folder / CHECKPOINT_STATE, lambda p: json.loads(p.read_text())))


def remove_checkpoints(run_dir: Path) -> None:
    shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
