"""Data-parallel training across processes (DDP semantics: every rank holds the whole model, takes its share
of each global batch, and gradients are averaged before every optimiser step).

With ``TrainConfig.parallel = "fsdp"`` the model is sharded instead (FSDP2's ``fully_shard``: each block the
family names, then the whole): parameters, gradients and optimiser state are split across the ranks, and
FSDP reduces the gradients itself. Checkpoints then gather the full weights and optimiser state, so a run
resumes under any number of processes.

Launched by ``torchrun`` / ``accelerate launch`` (they set RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT) or
by ``spatialvlm train --num-processes N``. Gradients are all-reduced by hand after the backward passes rather
than through the ``DistributedDataParallel`` wrapper: the composed family's warm-ups train parts of the model
outside its forward, and a parameter one rank's rows leave unused (no dense targets, no relation row) must
still reduce (as zeros there), so every rank issues the same collectives.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import distributed as dist
from torch import nn
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_optimizer_state_dict,
    set_optimizer_state_dict,
)
from torch.distributed.fsdp import fully_shard
from torch.distributed.tensor import DTensor

_FULL = StateDictOptions(full_state_dict=True, cpu_offload=True)


@dataclass
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0
    sharded: bool = field(default=False, init=False)  # set by ``fully_shard``

    @property
    def main(self) -> bool:
        return self.rank == 0

    def shard(self, rows: list[Any]) -> list[Any]:
        """This rank's rows of a global (micro-)batch: every ``size``-th, starting at ``rank``."""
        return rows[self.rank::self.size]

    def fully_shard(self, model: nn.Module, blocks: list[nn.Module]) -> None:
        """FSDP: shard each of ``blocks`` (a transformer's layers: one is gathered at a time), then the rest."""
        if self.size == 1:
            return
        for block in blocks:
            fully_shard(block)
        fully_shard(model)
        self.sharded = True

    @contextmanager
    def full_weights(self, model: nn.Module) -> Iterator[None]:
        """Inside, every rank's model holds its full parameters (gathered from the shards), so the model's own
        ``save`` writes a whole checkpoint; the shards come back after. Every rank must enter (a collective)."""
        swapped: list[tuple[nn.Module, str, nn.Parameter]] = []
        if self.sharded:
            for module in model.modules():
                for name, p in list(module._parameters.items()):
                    if isinstance(p, DTensor):
                        swapped.append((module, name, p))
                        module._parameters[name] = nn.Parameter(p.full_tensor().detach(), requires_grad=p.requires_grad)
        try:
            yield
        finally:
            for module, name, p in swapped:
                module._parameters[name] = p

    def optimizer_state(self, model: nn.Module, opt: torch.optim.Optimizer) -> dict[str, Any]:
        """The optimiser state to checkpoint: whole (gathered, keyed by parameter name) when sharded."""
        return get_optimizer_state_dict(model, opt, options=_FULL) if self.sharded else opt.state_dict()

    def load_optimizer_state(self, model: nn.Module, opt: torch.optim.Optimizer, state: dict[str, Any]) -> None:
        if self.sharded:
            # strict=False: a parameter no step has used (no gradient yet) has no state, as in a fresh optimiser
            set_optimizer_state_dict(model, opt, state, options=StateDictOptions(full_state_dict=True, strict=False))
        else:
            opt.load_state_dict(state)

    def average_gradients(self, params: list[torch.nn.Parameter]) -> None:
        if self.size == 1 or self.sharded:  # FSDP has reduce-scattered them in the backward pass
            return
        # A parameter no rank used keeps no gradient, as in one process: AdamW then leaves it alone (a zero
        # gradient would still apply weight decay to it).
        used = torch.tensor([p.grad is not None for p in params], dtype=torch.float32)
        dist.all_reduce(used, op=dist.ReduceOp.SUM)
        for p, n in zip(params, used.tolist(), strict=True):
            if n == 0:
                continue
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
