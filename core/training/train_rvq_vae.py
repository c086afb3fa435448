"""Training the residual VQ-VAE on a built dataset, as MoMask trains its tokenizer.

Loss: smooth L1 on the normalised features, plus `position_weight` x the same on the joint
positions part (official `loss_vel` weight on the ric channels), plus `commitment` x the
quantizer's commitment loss; random windows of `window` frames (see loop.py for the rest).
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from keymask.core.backends.interface import MotionTokenizer
from keymask.core.backends.torch_backend import TorchRVQVAE
from keymask.core.features import FeatureLayout, recover_from_ric
from keymask.core.models.rvq_vae import RVQVAE, RVQVAEConfig
from keymask.core.training.data import FeatureWindows, clip_features, load_statistics
from keymask.core.training.distributed import setup_distributed
from keymask.core.training.loop import RunConfig, run_training, shuffled_batches


@dataclass(kw_only=True)
class RVQTrainingConfig(RunConfig):
    dataset_dir: str
    model: RVQVAEConfig = field(default_factory=lambda: RVQVAEConfig(nb_code=512, code_dim=128, width=128, depth=2,
                                                                     num_quantizers=6))
    batch_size: int = 128
    window: int = 64  # frames per training window
    commitment: float = 0.02
    position_weight: float = 0.5
    decoder_only: bool = False  # fine-tune the decoder alone: every clip keeps its tokens


def train_rvq_vae(config: RVQTrainingConfig, progress: bool = True, stop_after_seconds: float | None = None,
                  stop_at_step: int | None = None) -> RVQVAE:
    """Train (or continue) a run in `config.output_dir`; returns the model as trained so far.

    stop_after_seconds / stop_at_step end this run early with its state saved, so that a long
    training fits in several sessions: run the same command again to continue.
    """
    env = setup_distributed()
    torch.manual_seed(config.seed)  # the same initial weights on every rank
    model = RVQVAE(config.model)
    if config.decoder_only:
        for parameter in [*model.encoder.parameters(), *model.quantizer.parameters()]:
            parameter.requires_grad_(False)
    windows = FeatureWindows(config.dataset_dir, "train", config.window)
    ric = FeatureLayout.from_size(config.model.input_dim).ric

    def make_batch(indices: torch.Tensor) -> torch.Tensor:
        return torch.stack([windows[int(i)] for i in indices])  # (B, T, D)

    def loss_function(network: torch.nn.Module, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        reconstruction, losses = network(batch, frozen_tokens=config.decoder_only)
        recon = F.smooth_l1_loss(reconstruction, batch)
        positions = F.smooth_l1_loss(reconstruction[..., ric], batch[..., ric])
        loss = recon + config.position_weight * positions + config.commitment * losses.commitment
        return {"loss": loss, "reconstruction": recon, "positions": positions, "commitment": losses.commitment,
                "perplexity": losses.perplexity}

    batches = shuffled_batches(len(windows), config.batch_size, make_batch, config.seed)
    return run_training("rvq_vae", model, batches, loss_function, config.loop_settings(), config.output_dir, env,
                        config.resumable_settings(), progress=progress, stop_after_seconds=stop_after_seconds,
                        stop_at_step=stop_at_step)


def joint_position_errors(features: np.ndarray, reference: np.ndarray, *, root_aligned: bool = True) -> np.ndarray:
    """(T * J,) distances in metres between the joints of two (T, D) un-normalised feature sequences;
    root_aligned: each frame's pose relative to its pelvis, as MoMask's `calculate_mpjpe` measures."""
    ours, theirs = recover_from_ric(features), recover_from_ric(reference)  # (T, J, 3)
    if root_aligned:
        ours, theirs = ours - ours[:, :1], theirs - theirs[:, :1]
    return np.linalg.norm(ours - theirs, axis=-1).reshape(-1)


@torch.no_grad()
def reconstruction_mpjpe(model: RVQVAE | MotionTokenizer, dataset_dir: str | Path, split: str = "test", *,
                         root_aligned: bool = True) -> float:
    """Mean per-joint position error (metres) of encode -> decode over every clip of a split, on the
    joints recovered from the features (each clip cut to whole tokens).

    root_aligned: measure each frame's pose relative to its pelvis, as MoMask's `calculate_mpjpe`
    does; otherwise global positions, where small root-velocity errors add up along long clips.
    model: a torch RVQVAE or any backend's tokenizer.
    """
    tokenizer = TorchRVQVAE(model) if isinstance(model, RVQVAE) else model
    mean, std = load_statistics(Path(dataset_dir))
    errors, frames_per_token = [], 2 ** tokenizer.config.down_t
    for features in clip_features(dataset_dir, split).values():
        usable = len(features) // frames_per_token * frames_per_token
        if usable == 0:
            continue
        target = features[:usable]
        normalised = ((target - mean) / std).astype(np.float32)[None]  # (1, T, D)
        decoded = tokenizer.decode(tokenizer.encode(normalised))[0] * std + mean
        errors.append(joint_position_errors(decoded, target, root_aligned=root_aligned))
    return float(np.concatenate(errors).mean())
