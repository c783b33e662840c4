"""Scale-out under ``torchrun --nproc_per_node N``: each rank evaluates every N-th sample; rank 0 merges.

Without torchrun (no WORLD_SIZE) everything runs in one process and these helpers are no-ops.
"""

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import torch
import torch.distributed as dist

from evaluation.predictions import PREDICTIONS_FILE

T = TypeVar("T")
# Generation on a rank can take long while another rank waits at the final barrier.
BARRIER_TIMEOUT = timedelta(hours=6)


@dataclass(frozen=True)
class DistributedContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def device(self) -> torch.device:
        return torch.device("cuda", self.local_rank) if torch.cuda.is_available() else torch.device("cpu")

    def shard(self, items: Sequence[T]) -> list[T]:
        """This rank's items: every world_size-th one, starting at its rank."""
        return list(items[self.rank :: self.world_size])

    def predictions_path(self, output_dir: Path) -> Path:
        """The file this process appends to: the merged file alone, or its own shard under torchrun."""
        if self.world_size == 1:
            return output_dir / PREDICTIONS_FILE
        return output_dir / f"predictions.rank{self.rank}.jsonl"

    def barrier(self) -> None:
        if self.world_size > 1:
            dist.barrier()


def is_main_process() -> bool:
    """Rank 0 of a torchrun launch, or a plain run: the one process that prints notes before the group exists."""
    return int(os.environ.get("RANK", "0")) == 0


def note(message: str) -> None:
    """A line for the person running this, printed once however many processes torchrun started."""
    if is_main_process():
        print(message, file=sys.stderr)


def init_distributed() -> DistributedContext:
    """Join the process group when started by torchrun (NCCL on GPUs, gloo on CPU)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return DistributedContext()
    context = DistributedContext(int(os.environ["RANK"]), world_size, int(os.environ.get("LOCAL_RANK", "0")))
    if torch.cuda.is_available():
        torch.cuda.set_device(context.local_rank)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo", timeout=BARRIER_TIMEOUT)
    return context


def shutdown_distributed() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
