"""Training the text-motion evaluator (metrics/evaluator.py) on the training split only.

Each step takes a batch of clips, each with a random crop of at most `max_frames` frames (a
multiple of 4) and one of its captions, and minimises the symmetric contrastive loss. Pairs that
show the same content and style are not each other's negatives.

With `body_variants`, each clip also appears carried onto that many random bodies (core/animation.py
mixed_body, by its joint rotations: bone directions kept, lengths changed), with its captions: each
source's actors have their own proportions, and an evaluator trained on them as recorded learns to
read the body as well as the movement (`python bench/evaluator_bodies.py`).
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from keymask.core.animation import animate, mixed_body
from keymask.core.features import joints_to_features
from keymask.core.fileio import atomic_write
from keymask.core.metrics.evaluator import EvaluatorConfig, MotionTextEvaluator
from keymask.core.text.encoders import SentenceEncoder
from keymask.core.text.prompts import TextEncoder
from keymask.core.training.data import caption_cache_path, embed_captions, load_statistics, manifest, read_split
from keymask.core.training.distributed import setup_distributed
from keymask.core.training.loop import RunConfig, run_training, shuffled_batches

MIN_FRAMES = 16


@dataclass(kw_only=True)
class EvaluatorTrainingConfig(RunConfig):
    dataset_dir: str
    model: EvaluatorConfig = field(default_factory=EvaluatorConfig)
    iterations: int = 1500
    batch_size: int = 96
    body_variants: int = 0  # copies of each clip carried onto random bodies (0: clips as recorded only)


@dataclass
class CaptionedClips:
    features: list[torch.Tensor]  # per clip (T_i, D), raw
    caption_embeddings: list[torch.Tensor]  # per clip (captions, text_dim)
    labels: torch.Tensor  # (clips,) one id per (content, style)
    clip_ids: list[str]  # (clips,) the dataset clip each comes from


@torch.no_grad()
def prepare_captioned_clips(dataset_dir: Path, split: str, text_encoder: TextEncoder, cache: Path | None = None,
                            progress: bool = True) -> CaptionedClips:
    """The split's clips (at least MIN_FRAMES long) with their captions' embeddings, which are kept
    in `cache` (the features are read from the dataset each time)."""
    dataset_dir = Path(dataset_dir)
    records = manifest(dataset_dir)
    label_ids: dict[tuple[str, str], int] = {}
    clip_ids, features, labels = [], [], []
    for clip_id in read_split(dataset_dir, split):
        clip = np.load(dataset_dir / "features" / f"{clip_id}.npy")
        if len(clip) < MIN_FRAMES:
            continue
        record = records[clip_id]
        clip_ids.append(clip_id)
        features.append(torch.from_numpy(clip.astype(np.float32)))
        labels.append(label_ids.setdefault((record["content"], record["style"]), len(label_ids)))
    cached = torch.load(cache, weights_only=True) if cache is not None and Path(cache).exists() else None
    if cached is not None and cached["clip_ids"] == clip_ids:
        embeddings = cached["caption_embeddings"]
    else:
        embeddings = embed_captions([records[c]["captions"] for c in clip_ids], text_encoder, progress=progress,
                                    cache=caption_cache_path(dataset_dir, text_encoder.name))
        if cache is not None:
            with atomic_write(cache, "wb") as handle:
                torch.save({"clip_ids": clip_ids, "caption_embeddings": embeddings}, handle)
    return CaptionedClips(features, embeddings, torch.tensor(labels), clip_ids)


def with_body_variants(clips: CaptionedClips, dataset_dir: Path, variants: int, seed: int) -> CaptionedClips:
    """The clips followed by `variants` copies of each carried onto a random body (seeded by clip and
    copy, so a resumed run sees the same ones), with the clip's captions and label."""
    features, embeddings, labels = list(clips.features), list(clips.caption_embeddings), clips.labels.tolist()
    clip_ids = list(clips.clip_ids)
    for index, clip_id in enumerate(clips.clip_ids):
        recorded = animate(np.load(Path(dataset_dir) / "joints" / f"{clip_id}.npy"))  # the clip as recorded
        for copy in range(variants):
            moved = recorded.on_body(mixed_body(np.random.default_rng([seed, index, copy]))).joints().astype(np.float32)
            features.append(torch.from_numpy(joints_to_features(moved).astype(np.float32)))
            embeddings.append(clips.caption_embeddings[index])
            labels.append(labels[index])
            clip_ids.append(clip_id)
    return CaptionedClips(features, embeddings, torch.tensor(labels), clip_ids)


def collate_crops(clips: CaptionedClips, indices: torch.Tensor, max_frames: int):
    """Random crops (multiple of 4 frames, at most max_frames) with a random caption each:
    (features (B, T, D) zero-padded, lengths (B,), text (B, text_dim), labels (B,))."""
    crops, texts = [], []
    for index in indices.tolist():
        features = clips.features[index]
        length = min(len(features), max_frames) // 4 * 4
        start = int(torch.randint(0, len(features) - length + 1, ()))
        crops.append(features[start: start + length])
        embeddings = clips.caption_embeddings[index]
        texts.append(embeddings[int(torch.randint(0, len(embeddings), ()))])
    lengths = torch.tensor([len(c) for c in crops])
    padded = torch.zeros(len(crops), int(lengths.max()), crops[0].shape[1])
    for row, crop in enumerate(crops):
        padded[row, : len(crop)] = crop
    return padded, lengths, torch.stack(texts), clips.labels[indices]


class EvaluatorObjective(torch.nn.Module):
    """The evaluator whose forward() is its training loss (so DDP sees the call); saves as the evaluator."""

    def __init__(self, evaluator: MotionTextEvaluator):
        super().__init__()
        self.evaluator = evaluator

    def forward(self, features, lengths, text, labels) -> dict[str, torch.Tensor]:
        result = self.evaluator.contrastive_loss(features, lengths, text, labels)
        return {"loss": result.loss, "accuracy": result.accuracy}

    def save_pretrained(self, folder):
        return self.evaluator.save_pretrained(folder)


def train_evaluator(config: EvaluatorTrainingConfig, text_encoder: TextEncoder | None = None, progress: bool = True,
                    stop_after_seconds: float | None = None, stop_at_step: int | None = None) -> MotionTextEvaluator:
    """Train (or continue) the evaluator in `config.output_dir` (saved as `<output>/evaluator/`)."""
    env = setup_distributed()
    text_encoder = text_encoder or SentenceEncoder()
    if text_encoder.dim != config.model.text_dim:
        raise ValueError(f"The evaluator expects {config.model.text_dim}-wide text embeddings; the text encoder "
                         f"gives {text_encoder.dim}.")
    output = Path(config.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    clips = prepare_captioned_clips(Path(config.dataset_dir), "train", text_encoder, output / "captions_train.pt",
                                    progress=progress and env.is_main)
    if config.body_variants > 0:
        clips = with_body_variants(clips, Path(config.dataset_dir), config.body_variants, config.seed)
    torch.manual_seed(config.seed)
    evaluator = MotionTextEvaluator(config.model)
    evaluator.set_statistics(*load_statistics(Path(config.dataset_dir)))

    def make_batch(indices: torch.Tensor):
        return collate_crops(clips, indices, config.model.max_frames)

    def loss_function(network: torch.nn.Module, batch) -> dict[str, torch.Tensor]:
        return network(*batch)

    batches = shuffled_batches(len(clips.features), config.batch_size, make_batch, config.seed)
    trained = run_training("evaluator", EvaluatorObjective(evaluator), batches, loss_function, config.loop_settings(),
                           config.output_dir, env, config.resumable_settings(), progress=progress,
                           stop_after_seconds=stop_after_seconds, stop_at_step=stop_at_step)
    return trained.evaluator
