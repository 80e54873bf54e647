"""One optimizer step of the loop: micro-batches, out-of-memory recovery, throughput.

Shapes: ``B`` batch, ``C`` classes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from mindscreen.config import TrainConfig
from mindscreen.inference import autocast, collate
from mindscreen.training.checkpoint import TrainState
from mindscreen.training.distributed import World, no_sync
from mindscreen.training.epochs import Epoch
from mindscreen.training.oom import OOM_ERRORS, free_memory, micro_batch_size, next_split, split_batch

logger = logging.getLogger(__name__)


class Throughput:
    """Training samples and real (non-pad) tokens per second, evaluation time excluded."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.seconds = 0.0
        self.samples = 0
        self.tokens = 0
        self.started = time.perf_counter()

    def count(self, ids: list[list[int]], group: list[np.ndarray]) -> None:
        for indices in group:
            self.samples += len(indices)
            self.tokens += sum(len(ids[i]) for i in indices)

    def pause(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)  # queued kernels belong to the training time
        self.seconds += time.perf_counter() - self.started

    def resume(self) -> None:
        self.started = time.perf_counter()

    def summary(self, world: World) -> dict[str, Any]:
        """Throughput of this process times the world size (every rank trains on equal shares)."""
        seconds = max(self.seconds, 1e-9)
        samples, tokens = self.samples * world.size, self.tokens * world.size
        peak = torch.cuda.max_memory_allocated(self.device) / 2**30 if self.device.type == "cuda" else None
        return {
            "train_seconds": seconds,
            "samples": samples,
            "tokens": tokens,
            "samples_per_s": samples / seconds,
            "tokens_per_s": tokens / seconds,
            "peak_gpu_gib": peak,
            "world_size": world.size,
        }


@dataclass
class Stepper:
    """Runs the micro-batches of one optimizer step, recovering from CUDA out-of-memory."""

    model: nn.Module  # the Classifier, or its DistributedDataParallel wrapper
    loss_fn: nn.Module
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    device: torch.device
    amp_dtype: torch.dtype | None
    tcfg: TrainConfig
    pad_id: int

    def accumulate(self, epoch: Epoch, group: list[np.ndarray], state: TrainState) -> torch.Tensor:
        """Forward and backward every micro-batch of ``group``; the sum of their mean losses.

        On out-of-memory (``train.oom_recovery``) the step's gradients are dropped, each
        micro-batch is split into twice as many parts and the whole step is redone.
        """
        while True:
            try:
                return self._accumulate_once(epoch, group, state.micro_splits)
            except OOM_ERRORS:
                if not self.tcfg.oom_recovery:
                    raise
            # Outside the except block, so the failed step's frames and tensors can be freed.
            self.optimizer.zero_grad(set_to_none=True)
            free_memory(self.device)
            size, splits = self.tcfg.batch_size, state.micro_splits
            state.micro_splits = next_split(size, splits)
            logger.warning(
                "CUDA out of memory at step %d: micro-batch %d -> %d, grad_accum %d -> %d "
                "(effective batch %d unchanged); redoing the step",
                state.step + 1,
                micro_batch_size(size, splits),
                micro_batch_size(size, state.micro_splits),
                self.tcfg.grad_accum * splits,
                self.tcfg.grad_accum * state.micro_splits,
                size * self.tcfg.grad_accum,
            )

    def _accumulate_once(self, epoch: Epoch, group: list[np.ndarray], splits: int) -> torch.Tensor:
        total = torch.zeros((), device=self.device)
        parts = [(indices, part) for indices in group for part in split_batch(indices, splits)]
        for n, (indices, part) in enumerate(parts):
            share = len(part) / len(indices)  # parts of a micro-batch add up to its mean loss
            batch = collate(
                epoch.ids,
                part,
                self.pad_id,
                epoch.labels,
                self.tcfg.pad_to_multiple,
                self.device.type == "cuda",
            )
            # Under DDP, gradients are all-reduced once per optimizer step, on its last micro-batch.
            with no_sync(self.model, skip=n < len(parts) - 1):
                loss = forward_backward(
                    self.model,
                    batch,
                    self.loss_fn,
                    self.device,
                    self.amp_dtype,
                    self.scaler,
                    self.tcfg.grad_accum / share,
                )
            total += loss.detach() * share
        return total


def forward_backward(
    model: nn.Module,
    batch: dict[str, torch.Tensor],
    loss_fn: nn.Module,
    device: torch.device,
    amp_dtype: torch.dtype | None,
    scaler: torch.amp.GradScaler,
    loss_divisor: float,
) -> torch.Tensor:
    """One micro-batch: forward under autocast, loss divided for accumulation, backward."""
    input_ids = batch["input_ids"].to(device, non_blocking=True)
    mask = batch["attention_mask"].to(device, non_blocking=True)
    targets = batch["labels"].to(device, non_blocking=True)
    with autocast(device, amp_dtype):
        logits = model(input_ids, mask)  # (B, C)
    loss = loss_fn(logits.float(), targets)
    scaler.scale(loss / loss_divisor).backward()
    return loss


def optimizer_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: torch.amp.GradScaler,
    clip_norm: float | None,
) -> None:
    if clip_norm is not None:
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
    scaler.step(optimizer)
    scaler.update()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
