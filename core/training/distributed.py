"""Data-parallel training under torchrun: gloo on the CPU, nccl on GPUs; a no-op when run alone."""

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Distributed:
    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup_distributed(device: str | None = None) -> Distributed:
    """Join the process group torchrun describes in the environment (WORLD_SIZE, RANK, ...)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    use_cuda = (device or ("cuda" if torch.cuda.is_available() else "cpu")).startswith("cuda")
    if world_size == 1:
        return Distributed(device=torch.device(device or ("cuda" if use_cuda else "cpu")))
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    if use_cuda:
        torch.cuda.set_device(local_rank)
    return Distributed(rank=rank, world_size=world_size,
                       device=torch.device(f"cuda:{local_rank}") if use_cuda else torch.device("cpu"))


def wrap_model(model: torch.nn.Module, env: Distributed) -> torch.nn.Module:
    model = model.to(env.device)
    if not env.enabled:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[env.device.index] if env.device.type == "cuda" else None)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if hasattr(model, "module") else model


def broadcast_buffers(model: torch.nn.Module, env: Distributed) -> None:
    """Copy rank 0's buffers (e.g. EMA codebooks, which each rank updates from its own batch) to all."""
    if env.enabled:
        for buffer in unwrap(model).buffers():
            dist.broadcast(buffer, src=0)


def teardown(env: Distributed) -> None:
    if env.enabled and dist.is_initialized():
        dist.destroy_process_group()
