"""One resumable training loop for every model: optimizer, schedule, logging, checkpoints, DDP.

A model's trainer supplies a batch stream and a loss function; the loop does the rest. State is
saved every `checkpoint_every` steps (and when stopped early), and a run started again with the
same settings continues bit for bit (single process).
"""

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import torch
from tqdm import tqdm

from keymask.core.fileio import ensure_output_dir
from keymask.core.training.distributed import Distributed, broadcast_buffers, teardown, unwrap, wrap_model
from keymask.core.training.log import TrainingLog
from keymask.core.training.state import load_state, load_weights, save_state

# (start step, rank, world size) -> (step, batch) pairs from that step on
BatchStream = Callable[[int, int, int], Iterator[tuple[int, object]]]
# (network, batch on the device) -> {"loss": scalar to minimise, other scalars to log}
LossFunction = Callable[[torch.nn.Module, object], dict[str, torch.Tensor]]


@dataclass
class LoopSettings:
    iterations: int
    lr: float = 2e-4
    warmup: int = 200  # iterations of linear warm-up
    milestones: tuple[float, ...] = (0.7, 0.9)  # fractions of the run where the rate drops by gamma
    gamma: float = 0.1
    weight_decay: float = 0.0
    seed: int = 0
    log_every: int = 25
    checkpoint_every: int = 250
    init_from: str | None = None  # a run folder whose weights start this run (fine-tuning)


@dataclass(kw_only=True)
class RunConfig:
    """Settings every training run has; a model's run config adds its own (keyword-only) fields."""

    output_dir: str
    iterations: int = 3000
    batch_size: int = 64
    lr: float = 2e-4
    warmup: int = 200
    milestones: tuple[float, ...] = (0.7, 0.9)
    gamma: float = 0.1
    seed: int = 0
    log_every: int = 25
    checkpoint_every: int = 250
    init_from: str | None = None  # a run folder whose weights start this run (fine-tuning)

    def loop_settings(self) -> LoopSettings:
        return LoopSettings(iterations=self.iterations, lr=self.lr, warmup=self.warmup, milestones=self.milestones,
                            gamma=self.gamma, seed=self.seed, log_every=self.log_every,
                            checkpoint_every=self.checkpoint_every, init_from=self.init_from)

    def resumable_settings(self) -> dict:
        """What must match for a saved state to be continued (not where files go, nor how often)."""
        values = dataclasses.asdict(self)
        for key in ("output_dir", "log_every", "checkpoint_every"):
            values.pop(key)
        values["milestones"] = list(values["milestones"])
        return values


def learning_rate_factor(settings: LoopSettings) -> Callable[[int], float]:
    drops = [int(f * settings.iterations) for f in settings.milestones]

    def factor(step: int) -> float:
        warm = min(1.0, (step + 1) / max(settings.warmup, 1))
        return warm * settings.gamma ** sum(step >= d for d in drops)

    return factor


def shuffled_batches(n_items: int, batch_size: int, make_batch: Callable[[torch.Tensor], object], seed: int,
                     repeats: Sequence[int] | None = None) -> BatchStream:
    """A BatchStream over items 0..n-1: epoch e is a permutation seeded by (seed, e), sharded by rank.
    repeats[i] > 1 puts item i that many times in every epoch (rare classes seen more often)."""
    pool = torch.arange(n_items) if repeats is None else torch.repeat_interleave(
        torch.arange(n_items), torch.as_tensor(list(repeats), dtype=torch.long))

    def stream(start_step: int, rank: int, world_size: int):
        per_epoch = len(pool) // world_size // batch_size
        if per_epoch == 0:
            raise ValueError(f"{len(pool)} training items are fewer than one batch of {batch_size} per process.")
        step = start_step
        while True:
            epoch, offset = divmod(step, per_epoch)
            order = pool[torch.randperm(len(pool), generator=torch.Generator().manual_seed(seed * 100003 + epoch))]
            mine = order[rank::world_size][: per_epoch * batch_size]
            for b in range(offset, per_epoch):
                yield step, make_batch(mine[b * batch_size: (b + 1) * batch_size])
                step += 1

    return stream


def _to_device(batch, device: torch.device):
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, (tuple, list)):
        return type(batch)(_to_device(b, device) for b in batch)
    return batch


def _out_of_time(deadline: float | None, env: Distributed) -> bool:
    """Whether the time budget is spent; every rank follows rank 0's clock so they stop together."""
    if deadline is None:
        return False
    flag = torch.tensor([float(time.monotonic() > deadline)])
    if env.enabled:
        torch.distributed.broadcast(flag, src=0)
    return bool(flag.item())


def run_training(name: str, model: torch.nn.Module, batches: BatchStream, loss_function: LossFunction,
                 settings: LoopSettings, output_dir: str | Path, env: Distributed, resumable_settings: dict, *,
                 progress: bool = True, stop_after_seconds: float | None = None,
                 stop_at_step: int | None = None) -> torch.nn.Module:
    """Train `model` (built with the same seed on every rank); saves `<output>/<name>/` and logs."""
    deadline = None if stop_after_seconds is None else time.monotonic() + stop_after_seconds
    output = ensure_output_dir(output_dir) if env.is_main else Path(output_dir)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, betas=(0.9, 0.99),
                                  weight_decay=settings.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, learning_rate_factor(settings))
    step = load_state(output, model=model, optimizer=optimizer, scheduler=scheduler, config=resumable_settings)
    if step == 0 and settings.init_from:
        load_weights(Path(settings.init_from), model, name)
    if step == 0:  # a resumed run got its random generator back from the state
        torch.manual_seed(settings.seed * 7919 + env.rank)
    network = wrap_model(model, env).train()
    log = TrainingLog(output, name) if env.is_main else None
    bar = tqdm(total=settings.iterations, initial=step, desc=name, unit="it", disable=not (progress and env.is_main))
    started, sums = time.perf_counter(), {}

    def checkpoint(at_step: int) -> None:
        save_state(output, model=unwrap(network), optimizer=optimizer, scheduler=scheduler, step=at_step,
                   config=resumable_settings)
        unwrap(network).save_pretrained(output / name)

    stream = batches(step, env.rank, env.world_size)
    while True:
        # Decide before drawing the next batch: drawing may consume random numbers, and a resumed
        # run must find the generator exactly where the saved state left it.
        if step >= settings.iterations or step == stop_at_step or _out_of_time(deadline, env):
            if env.is_main and step < settings.iterations:
                checkpoint(step)
            break
        step, batch = next(stream)
        values = loss_function(network, _to_device(batch, env.device))
        optimizer.zero_grad(set_to_none=True)
        values["loss"].backward()
        optimizer.step()
        scheduler.step()
        broadcast_buffers(network, env)
        for key, value in values.items():
            sums[key] = sums.get(key, 0.0) + value.item()
        done = step + 1
        bar.update()
        if env.is_main and (done % settings.log_every == 0 or done == settings.iterations):
            count = done % settings.log_every or settings.log_every
            log.add(done, **{k: v / count for k, v in sums.items()}, lr=scheduler.get_last_lr()[0],
                    seconds_per_iteration=(time.perf_counter() - started) / count)
            log.save()
            bar.set_postfix(loss=f"{sums['loss'] / count:.4f}")
            sums, started = {}, time.perf_counter()
        if env.is_main and (done % settings.checkpoint_every == 0 or done == settings.iterations):
            checkpoint(done)
        step = done
    bar.close()
    teardown(env)
    return unwrap(network).eval()
