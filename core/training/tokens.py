"""Token training data: every clip of a split as RVQ token ids, with its captions' text embeddings.

Prepared once per (RVQ-VAE, text encoder) and cached in the run folder as `tokens_<split>.pt`.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from keymask.core.fileio import atomic_write
from keymask.core.models.rvq_vae import RVQVAE
from keymask.core.text.prompts import TextEncoder
from keymask.core.training.data import caption_cache_path, embed_captions, load_statistics, read_split


@dataclass
class TokenClips:
    clip_ids: list[str]
    tokens: list[torch.Tensor]  # per clip (N_i, Q) int64
    captions: list[list[str]]
    caption_embeddings: list[torch.Tensor]  # per clip (captions, text_dim)


@torch.no_grad()
def prepare_token_clips(dataset_dir: Path, split: str, vq: RVQVAE, text_encoder: TextEncoder, cache: Path,
                        progress: bool = True) -> TokenClips:
    cache = Path(cache)
    if cache.exists():
        return TokenClips(**torch.load(cache, weights_only=True))
    dataset_dir = Path(dataset_dir)
    mean, std = load_statistics(dataset_dir)
    frames_per_token = 2 ** vq.config.down_t
    clips = TokenClips([], [], [], [])
    vq.eval()
    for clip_id in tqdm(read_split(dataset_dir, split), desc=f"tokens ({split})", disable=not progress):
        features = np.load(dataset_dir / "features" / f"{clip_id}.npy")
        usable = len(features) // frames_per_token * frames_per_token
        if usable == 0:
            continue
        normalised = torch.from_numpy(((features[:usable] - mean) / std).astype(np.float32))[None]
        captions = (dataset_dir / "texts" / f"{clip_id}.txt").read_text().splitlines()
        clips.clip_ids.append(clip_id)
        clips.tokens.append(vq.encode(normalised)[0])
        clips.captions.append(captions)
    clips.caption_embeddings = embed_captions(clips.captions, text_encoder, progress=progress,
                                              cache=caption_cache_path(dataset_dir, text_encoder.name))
    with atomic_write(cache, "wb") as handle:
        torch.save(vars(clips), handle)
    return clips


class TokenCrops(Dataset):
    """Item: (ids (N_max, Q), length, text embedding) with a random caption and, for clips longer
    than N_max tokens, a random crop; padding positions hold 0 (the models mask them by length).

    text_noise > 0 adds Gaussian noise of that standard deviation per dimension to the caption's
    embedding and puts it back on the unit sphere: the model then answers for a neighbourhood of
    each caption, as unseen wordings of it land near it (embedding-space augmentation).

    pull_share > 0: that share of the items is conditioned on the caption pulled toward its action,
    unit(e + w c) with w uniform in [0, 1) and c the clip's `pull_targets` row, as generation pulls
    prompts (CaptionIndex.pulled_toward_actions), so the model is trained on the embeddings it is
    given. A clip without a target (None) keeps its caption.

    mix_share > 0: that share of the items is conditioned on a random blend of two of the clip's
    captions, unit(l e_a + (1 - l) e_b) with l uniform in [0, 1): a new wording of the same motion
    tends to land between its known wordings, so the model is taught that region too."""

    def __init__(self, clips: TokenClips, max_tokens: int, text_noise: float = 0.0,
                 pull_targets: list[torch.Tensor | None] | None = None, pull_share: float = 0.0,
                 mix_share: float = 0.0):
        self.clips, self.max_tokens, self.text_noise = clips, max_tokens, text_noise
        self.pull_targets, self.pull_share, self.mix_share = pull_targets, pull_share, mix_share

    def __len__(self) -> int:
        return len(self.clips.tokens)

    def __getitem__(self, index: int):
        tokens = self.clips.tokens[index]  # (N, Q)
        length = min(len(tokens), self.max_tokens)
        start = int(torch.randint(0, len(tokens) - length + 1, ()))
        ids = torch.zeros(self.max_tokens, tokens.shape[1], dtype=torch.long)
        ids[:length] = tokens[start: start + length]
        embeddings = self.clips.caption_embeddings[index]
        text = embeddings[int(torch.randint(0, len(embeddings), ()))]
        if self.mix_share > 0 and float(torch.rand(())) < self.mix_share:
            other = embeddings[int(torch.randint(0, len(embeddings), ()))]
            share = float(torch.rand(()))
            blend = share * text / text.norm() + (1 - share) * other / other.norm()
            text = blend * (text.norm() / blend.norm().clamp_min(1e-8))
        if self.text_noise > 0:
            noisy = text + self.text_noise * torch.randn_like(text)
            text = noisy * (text.norm() / noisy.norm())
        target = self.pull_targets[index] if self.pull_targets is not None else None
        if target is not None and float(torch.rand(())) < self.pull_share:
            pulled = text / text.norm() + float(torch.rand(())) * target
            text = pulled * (text.norm() / pulled.norm())
        return ids, length, text


def action_centroids(clips: TokenClips, actions: list[str | None]) -> list[torch.Tensor | None]:
    """Per clip, the unit mean caption embedding of all clips of its action (`actions`, one label or
    None per clip); None for a clip without one."""
    by_action: dict[str, list[torch.Tensor]] = {}
    for action, embeddings in zip(actions, clips.caption_embeddings):
        if action is not None:
            by_action.setdefault(action, []).append(embeddings / embeddings.norm(dim=-1, keepdim=True))
    centroids = {}
    for action, rows in by_action.items():
        mean = torch.cat(rows).mean(0)
        centroids[action] = mean / mean.norm()
    return [None if action is None else centroids[action] for action in actions]


def collate(items) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    ids, lengths, texts = zip(*items)
    longest = max(lengths)  # padding past the batch's longest clip would only cost time
    return torch.stack(ids)[:, :longest], torch.tensor(lengths), torch.stack(texts)  # (B, N, Q), (B,), (B, text_dim)
