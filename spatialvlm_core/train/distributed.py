"""Data-parallel training across processes (DDP semantics: every rank holds the whole model, takes its share
of each global batch, and gradients are averaged before every optimiser step).

Launched by ``torchrun`` / ``accelerate launch`` (they set RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT) or
by ``spatialvlm train --num-processes N``. Gradients are all-reduced by hand after the backward passes rather
than through the ``DistributedDataParallel`` wrapper: the loop calls the model's ``loss_parts`` and warm-ups,
not its ``forward``, and parameters a batch leaves unused (no dense targets, no relation row) still reduce as
zeros, so every rank issues the same collectives.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import distributed as dist


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    def shard(self, rows: list[Any]) -> list[Any]:
        """This rank's rows of a global (micro-)batch: every ``size``-th, starting at ``rank``."""
        return rows[self.rank::self.size]

    def average_gradients(self, params: list[torch.nn.Parameter]) -> None:
        if self.size == 1:
            return
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
            p.grad.div_(self.size)

    def mean(self, value: float, device: str) -> float:
        """The mean of ``value`` over the ranks (the logged loss of the global batch)."""
        if self.size == 1:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=device)
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return float(t.item()) / self.size

    def barrier(self) -> None:
        if self.size > 1:
            dist.barrier()


def init_world(batch_size: int, cuda: bool = False) -> World:
    """The process group from the launcher's environment (NCCL when ``cuda``, one GPU per process; else gloo);
    one process: no group."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if batch_size % size:
        raise ValueError(f"batch_size {batch_size} must be a multiple of the {size} processes (each takes an "
                         f"equal share of every global batch)")
    if cuda and local >= torch.cuda.device_count():
        raise ValueError(f"process {rank} of {size} needs GPU {local}, but this machine has "
                         f"{torch.cuda.device_count()}: launch at most one process per GPU (or train with "
                         f"device='cpu')")
    if not dist.is_initialized():
        if cuda:
            torch.cuda.set_device(local)
        dist.init_process_group("nccl" if cuda else "gloo")
    return World(rank, size, local)


def close_world(world: World) -> None:
    if world.size > 1 and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def launch(config: Path, num_processes: int) -> int:
    """Run ``python -m spatialvlm_core.train --config CONFIG`` in ``num_processes`` processes on this machine
    (torch's own launcher: no extra dependency); returns its exit code."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={num_processes}",
           "-m", "spatialvlm_core.train", "--config", str(config)]
    return subprocess.run(cmd, check=False).returncode  # noqa: S603 - our own interpreter and module, fixed argv
