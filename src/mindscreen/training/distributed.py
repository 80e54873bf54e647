"""Data-parallel training under ``torchrun`` / ``accelerate launch``.

Both launchers set ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``; when ``WORLD_SIZE > 1`` the
loop wraps the model in DistributedDataParallel, gives each rank its share of every
epoch's batches, and lets rank 0 alone evaluate and write the run directory.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class World:
    """This process's place among the training processes."""

    size: int = 1
    rank: int = 0
    local_rank: int = 0

    @property
    def is_distributed(self) -> bool:
        return self.size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_world(device_name: str) -> World:
    """Join the process group the launcher prepared, or run alone when there is none."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    world = World(size, int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0")))
    use_cuda = torch.cuda.is_available() and device_name in ("auto", "cuda")
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    if use_cuda:
        torch.cuda.set_device(world.local_rank)
    return world


def local_device_name(world: World, device_name: str) -> str:
    """``cuda:LOCAL_RANK`` for each process on a multi-GPU machine, else the configured device."""
    if world.is_distributed and device_name in ("auto", "cuda") and torch.cuda.is_available():
        return f"cuda:{world.local_rank}"
    return device_name


def shard(batches: list, world: World) -> list:
    """This rank's batches: every rank gets the same count, so all-reduces stay in step."""
    if not world.is_distributed:
        return batches
    usable = len(batches) - len(batches) % world.size
    return batches[world.rank : usable : world.size]


def wrap(model: nn.Module, world: World) -> nn.Module:
    if not world.is_distributed:
        return model
    device = next(model.parameters()).device
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def no_sync(model: nn.Module, skip: bool) -> contextlib.AbstractContextManager[None]:
    """Skip the gradient all-reduce on micro-batches that do not end an accumulation step."""
    if skip and isinstance(model, nn.parallel.DistributedDataParallel):
        return model.no_sync()
    return contextlib.nullcontext()


def broadcast_flag(flag: bool, world: World, device: torch.device) -> bool:
    """Rank 0's decision (for example: stop early), agreed by every rank."""
    if not world.is_distributed:
        return flag
    tensor = torch.tensor([int(flag)], device=device if dist.get_backend() == "nccl" else "cpu")
    dist.broadcast(tensor, src=0)
    return bool(tensor.item())


def barrier(world: World) -> None:
    if world.is_distributed:
        dist.barrier()


@contextlib.contextmanager
def main_process_first(world: World) -> Iterator[None]:
    """Let rank 0 run a block (e.g. create the run directory) before the others."""
    if not world.is_main:
        barrier(world)
    yield
    if world.is_main:
        barrier(world)


def shutdown(world: World) -> None:
    if world.is_distributed and dist.is_initialized():
        dist.destroy_process_group()
