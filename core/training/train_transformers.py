"""Training the masked transformer, the residual transformer and the length estimator on tokens.

Each trains on the token clips of the training split (see tokens.py) with the losses of
models/*.py (MoMask's: cosine masking with BERT-style corruption and condition dropout for the
masked transformer, a random residual layer per sample for the residual transformer, cross
entropy over token counts for the length estimator), in the shared loop of loop.py.
"""

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from keymask.core.models.length_estimator import LengthEstimator, LengthEstimatorConfig
from keymask.core.models.mask_transformer import MaskTransformer, MaskTransformerConfig
from keymask.core.models.residual_transformer import ResidualTransformer, ResidualTransformerConfig
from keymask.core.models.rvq_vae import RVQVAE
from keymask.core.models.saved import CONFIG_FILE, read_config
from keymask.core.spec import HUMANML3D
from keymask.core.text.encoders import SentenceEncoder
from keymask.core.text.prompts import TextEncoder
from keymask.core.training.distributed import setup_distributed
from keymask.core.training.data import manifest
from keymask.core.training.loop import RunConfig, run_training, shuffled_batches
from keymask.core.training.tokens import TokenCrops, action_centroids, collate, prepare_token_clips

KINDS = ("mask_transformer", "residual_transformer", "length_estimator")


@dataclass(kw_only=True)
class TokenTrainingConfig(RunConfig):
    kind: str  # one of KINDS
    dataset_dir: str
    rvq_dir: str  # a trained RVQ-VAE folder (config.json + model.safetensors)
    model: MaskTransformerConfig | ResidualTransformerConfig | LengthEstimatorConfig | None = None  # None: defaults
    model_size: dict | None = None  # overrides of the default sizes, e.g. {"latent_dim": 192, "n_layers": 4, "ff_size": 1280}
    text_noise: float = 0.0  # embedding-space augmentation of the captions (tokens.TokenCrops)
    balance_actions: int = 1  # up to this many repeats per epoch of clips whose action is rare (action_repeats)
    balance_power: float = 0.5  # repeats grow as (commonest count / own count) ** balance_power
    pull_share: float = 0.0  # share of captions pulled toward their action's mean caption (tokens.TokenCrops)
    mix_share: float = 0.0  # share of captions blended with another caption of the same clip (tokens.TokenCrops)


def default_model_config(kind: str, vq: RVQVAE, text_dim: int, *, latent_dim: int = 256, n_layers: int = 4,
                         ff_size: int | None = None):
    """KeyMask's default sizes, matched to a trained RVQ-VAE and a text encoder (feed-forward width
    3 x latent_dim unless given)."""
    common = dict(num_tokens=vq.config.nb_code, code_dim=vq.config.code_dim, latent_dim=latent_dim,
                  ff_size=ff_size or 3 * latent_dim, n_layers=n_layers, n_heads=4, dropout=0.1, text_dim=text_dim)
    if kind == "mask_transformer":
        return MaskTransformerConfig(**common, cond_drop_prob=0.1)
    if kind == "residual_transformer":
        return ResidualTransformerConfig(**common, num_quantizers=vq.config.num_quantizers, cond_drop_prob=0.2)
    if kind == "length_estimator":
        return LengthEstimatorConfig(text_dim=text_dim, n_classes=HUMANML3D.max_tokens + 1)
    raise ValueError(f"Unknown model kind '{kind}'; choose one of {', '.join(KINDS)}.")


def starting_size(init_from: str | None, kind: str) -> dict:
    """The sizes (width, layers, feed-forward width) of the model a run starts from
    (`<init_from>/<kind>/config.json`, as a model folder or a run folder holds it), so that
    fine-tuning needs no size option; {} when there is none to read. An explicit size given with the
    run overrides it."""
    if not init_from:
        return {}
    folder = Path(init_from) / kind
    if not (folder / CONFIG_FILE).exists():
        return {}
    config_class = MaskTransformerConfig if kind == "mask_transformer" else ResidualTransformerConfig
    config = read_config(folder, kind, config_class)
    return {"latent_dim": config.latent_dim, "n_layers": config.n_layers, "ff_size": config.ff_size}


class TrainingObjective(torch.nn.Module):
    """A model whose forward() is its training loss, so that DistributedDataParallel sees the call
    (and synchronises gradients). Saves as the bare model."""

    def __init__(self, model: torch.nn.Module, kind: str):
        super().__init__()
        self.model, self.kind = model, kind

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor, text: torch.Tensor) -> dict[str, torch.Tensor]:
        # ids (B, N, Q), lengths (B,) tokens, text (B, text_dim)
        if self.kind == "length_estimator":
            logits = self.model(text)  # (B, classes)
            return {"loss": F.cross_entropy(logits, lengths),
                    "accuracy": (logits.argmax(-1) == lengths).float().mean()}
        if self.kind == "mask_transformer":
            result = self.model.training_loss(ids[..., 0], text, lengths)
        else:
            result = self.model.training_loss(ids, text, lengths)
        return {"loss": result.loss, "accuracy": result.accuracy}

    def save_pretrained(self, folder):
        return self.model.save_pretrained(folder)


def action_repeats(actions: list[str | None], most: int, power: float = 0.5) -> list[int]:
    """Per clip, how often an epoch shows it: (the commonest action's clip count over its own
    action's) to the `power` (0.5: the square root), rounded, between 1 and `most`, so that an action
    with a handful of clips is not drowned by one with hundreds (power 1 shows every action as often,
    up to `most`). Clips without one action (None: joined ones) show once."""
    counts = Counter(a for a in actions if a is not None)
    largest = max(counts.values(), default=1)
    return [1 if a is None else int(min(most, max(1, round((largest / counts[a]) ** power)))) for a in actions]


def _build(kind: str, config):
    return {"mask_transformer": MaskTransformer, "residual_transformer": ResidualTransformer,
            "length_estimator": LengthEstimator}[kind](config)


def train_token_model(config: TokenTrainingConfig, text_encoder: TextEncoder | None = None, progress: bool = True,
                      stop_after_seconds: float | None = None, stop_at_step: int | None = None) -> torch.nn.Module:
    """Train (or continue) one token model in `config.output_dir`; returns it as trained so far."""
    if config.kind not in KINDS:
        raise ValueError(f"Unknown model kind '{config.kind}'; choose one of {', '.join(KINDS)}.")
    env = setup_distributed()
    vq = RVQVAE.from_pretrained(config.rvq_dir)
    text_encoder = text_encoder or SentenceEncoder()
    output = Path(config.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    clips = prepare_token_clips(Path(config.dataset_dir), "train", vq, text_encoder, output / "tokens_train.pt",
                                progress=progress and env.is_main)
    model_config = config.model or default_model_config(
        config.kind, vq, text_encoder.dim, **({} if config.kind == "length_estimator" else
                                              starting_size(config.init_from, config.kind) | (config.model_size or {})))
    torch.manual_seed(config.seed)  # the same initial weights on every rank
    objective = TrainingObjective(_build(config.kind, model_config), config.kind)
    records = manifest(config.dataset_dir) if config.balance_actions > 1 or config.pull_share > 0 else {}
    # The label of each clip's action ("" for described clips); None for joined ones, as generation
    # splits "..., then ..." and never pulls a sequence.
    actions = [records[c]["content"] if records and records[c]["source"] != "joined" else None for c in clips.clip_ids]
    pull_targets = action_centroids(clips, [a or None for a in actions]) if config.pull_share > 0 else None
    crops = TokenCrops(clips, HUMANML3D.max_tokens, text_noise=config.text_noise, pull_targets=pull_targets,
                       pull_share=config.pull_share, mix_share=config.mix_share)

    def make_batch(indices: torch.Tensor):
        return collate([crops[int(i)] for i in indices])

    def loss_function(network: torch.nn.Module, batch) -> dict[str, torch.Tensor]:
        return network(*batch)

    repeats = None
    if config.balance_actions > 1:
        repeats = action_repeats(actions, config.balance_actions, config.balance_power)
    batches = shuffled_batches(len(crops), config.batch_size, make_batch, config.seed, repeats)
    trained = run_training(config.kind, objective, batches, loss_function, config.loop_settings(),
                           config.output_dir, env, config.resumable_settings(), progress=progress,
                           stop_after_seconds=stop_after_seconds, stop_at_step=stop_at_step)
    return trained.model
