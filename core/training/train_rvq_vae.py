"""Training the residual VQ-VAE on a built dataset, as MoMask trains its tokenizer.

Loss: smooth L1 on the normalised features, plus `position_weight` x the same on the joint
positions part (official `loss_vel` weight on the ric channels), plus `commitment` x the
quantizer's commitment loss. AdamW, linear warm-up, step decay at the milestones. Random
windows of `window` frames. Resumable: the state is saved every `checkpoint_every` steps and a
run started again with the same settings continues where it stopped, bit for bit.
"""

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from keymask.core.features import FeatureLayout, recover_from_ric
from keymask.core.fileio import ensure_output_dir
from keymask.core.models.rvq_vae import RVQVAE, RVQVAEConfig
from keymask.core.training.data import FeatureWindows, clip_features, load_statistics
from keymask.core.training.distributed import broadcast_buffers, setup_distributed, teardown, unwrap, wrap_model
from keymask.core.training.log import TrainingLog
from keymask.core.training.state import load_state, save_state


@dataclass
class RVQTrainingConfig:
    dataset_dir: str
    output_dir: str
    model: RVQVAEConfig = field(default_factory=lambda: RVQVAEConfig(nb_code=512, code_dim=128, width=128, depth=2,
                                                                     num_quantizers=6))
    iterations: int = 3000
    batch_size: int = 128
    window: int = 64  # frames per training window
    lr: float = 2e-4
    warmup: int = 200  # iterations of linear warm-up
    milestones: tuple[float, ...] = (0.7, 0.9)  # fractions of the run where the rate drops
    gamma: float = 0.1
    commitment: float = 0.02
    position_weight: float = 0.5
    seed: int = 0
    log_every: int = 25
    checkpoint_every: int = 250

    def resumable_settings(self) -> dict:
        """What must match for a saved state to be continued (not where files go)."""
        values = dataclasses.asdict(self)
        values.pop("output_dir")
        values.pop("log_every")
        values.pop("checkpoint_every")
        values["milestones"] = list(values["milestones"])
        return values


def _learning_rate_factor(config: RVQTrainingConfig):
    drops = [int(f * config.iterations) for f in config.milestones]

    def factor(step: int) -> float:
        warm = min(1.0, (step + 1) / max(config.warmup, 1))
        return warm * config.gamma ** sum(step >= d for d in drops)

    return factor


def _batches(dataset: FeatureWindows, config: RVQTrainingConfig, rank: int, world_size: int, start_step: int):
    """Batches from `start_step` on: epoch e is a permutation seeded by (seed, e), sharded by rank."""
    per_rank = len(dataset) // world_size
    per_epoch = per_rank // config.batch_size
    if per_epoch == 0:
        raise ValueError(f"The training split has {len(dataset)} windows, fewer than one batch of "
                         f"{config.batch_size} per process.")
    step = start_step
    while True:
        epoch, offset = divmod(step, per_epoch)
        order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(config.seed * 100003 + epoch))
        mine = order[rank::world_size][: per_epoch * config.batch_size]
        for b in range(offset, per_epoch):
            indices = mine[b * config.batch_size: (b + 1) * config.batch_size]
            yield step, torch.stack([dataset[int(i)] for i in indices])
            step += 1


def train_rvq_vae(config: RVQTrainingConfig, progress: bool = True, stop_after_seconds: float | None = None,
                  stop_at_step: int | None = None) -> RVQVAE:
    """Train (or continue) a run in `config.output_dir`; returns the model as trained so far.

    stop_after_seconds / stop_at_step end this run early with its state saved, so that a long
    training fits in several sessions: run the same command again to continue.
    """
    env = setup_distributed()
    deadline = None if stop_after_seconds is None else time.monotonic() + stop_after_seconds
    output = ensure_output_dir(config.output_dir) if env.is_main else Path(config.output_dir)
    torch.manual_seed(config.seed)  # the same initial weights on every rank
    model = RVQVAE(config.model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, betas=(0.9, 0.99), weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _learning_rate_factor(config))
    step = load_state(output, model=model, optimizer=optimizer, scheduler=scheduler,
                      config=config.resumable_settings())  # also restores the random generator
    if step == 0:
        torch.manual_seed(config.seed * 7919 + env.rank)  # quantizer dropout and Gumbel draws, per rank
    network = wrap_model(model, env).train()
    dataset = FeatureWindows(config.dataset_dir, "train", config.window)
    ric = FeatureLayout.from_size(config.model.input_dim).ric
    log = TrainingLog(output, "rvq_vae") if env.is_main else None
    bar = tqdm(total=config.iterations, initial=step, desc="RVQ-VAE", unit="it", disable=not (progress and env.is_main))
    started, sums = time.perf_counter(), {}

    for step, batch in _batches(dataset, config, env.rank, env.world_size, step):
        if step >= config.iterations or step == stop_at_step or _out_of_time(deadline, env):
            if env.is_main and step < config.iterations:
                save_state(output, model=unwrap(network), optimizer=optimizer, scheduler=scheduler, step=step,
                           config=config.resumable_settings())
            break
        batch = batch.to(env.device)  # (B, T, D)
        reconstruction, losses = network(batch)
        recon_loss = F.smooth_l1_loss(reconstruction, batch)
        position_loss = F.smooth_l1_loss(reconstruction[..., ric], batch[..., ric])
        loss = recon_loss + config.position_weight * position_loss + config.commitment * losses.commitment
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        broadcast_buffers(network, env)
        for name, value in (("loss", loss), ("reconstruction", recon_loss), ("positions", position_loss),
                            ("commitment", losses.commitment), ("perplexity", losses.perplexity)):
            sums[name] = sums.get(name, 0.0) + value.item()
        done = step + 1
        bar.update()
        if env.is_main and (done % config.log_every == 0 or done == config.iterations):
            count = done % config.log_every or config.log_every
            log.add(done, **{k: v / count for k, v in sums.items()}, lr=scheduler.get_last_lr()[0],
                    seconds_per_iteration=(time.perf_counter() - started) / count)
            log.save()
            bar.set_postfix(loss=f"{sums['loss'] / count:.4f}")
            sums, started = {}, time.perf_counter()
        if env.is_main and (done % config.checkpoint_every == 0 or done == config.iterations):
            save_state(output, model=unwrap(network), optimizer=optimizer, scheduler=scheduler, step=done,
                       config=config.resumable_settings())
            unwrap(network).save_pretrained(output / "rvq_vae")
    bar.close()
    teardown(env)
    return unwrap(network).eval()


def _out_of_time(deadline: float | None, env) -> bool:
    """Whether the time budget is spent; every rank follows rank 0's clock so they stop together."""
    if deadline is None:
        return False
    flag = torch.tensor([float(time.monotonic() > deadline)])
    if env.enabled:
        torch.distributed.broadcast(flag, src=0)
    return bool(flag.item())


@torch.no_grad()
def reconstruction_mpjpe(model: RVQVAE, dataset_dir: str | Path, split: str = "test") -> float:
    """Mean per-joint position error (metres) of encode -> decode over every clip of a split,
    on the joints recovered from the features (each clip cut to whole tokens)."""
    model.eval()
    mean, std = load_statistics(Path(dataset_dir))
    errors, frames_per_token = [], 2 ** model.config.down_t
    for features in clip_features(dataset_dir, split).values():
        usable = len(features) // frames_per_token * frames_per_token
        if usable == 0:
            continue
        target = features[:usable]
        normalised = torch.from_numpy(((target - mean) / std).astype(np.float32))[None]
        decoded = model.decode(model.encode(normalised))[0].numpy() * std + mean
        errors.append(np.linalg.norm(recover_from_ric(decoded) - recover_from_ric(target), axis=-1).reshape(-1))
    return float(np.concatenate(errors).mean())
