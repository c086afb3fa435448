"""Text (and fixed tokens) -> base tokens -> residual layers -> features -> joints.

`MotionPipeline.__call__` is written as numbered steps over small helpers (style item 7). Any
set of token positions can be held fixed while the rest is decoded (`FixedTokens`): temporal
editing, continuation, long motions, key poses and the training clips a prompt's motion is made
from (exemplars.py) all go through that one mechanism.
"""

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from keymask.core.backends.interface import MotionModels
from keymask.core.errors import UsageError
from keymask.core.features import recover_from_ric
from keymask.core.generation.cleanup import CleanupSettings, clean_motion
from keymask.core.generation.exemplars import ExemplarLibrary, held_positions
from keymask.core.generation.known_actions import CaptionIndex, PromptCheck
from keymask.core.generation.masked_decoding import decode_base_tokens, decode_residual_layers
from keymask.core.generation.sampling import SamplingSettings
from keymask.core.models.saved import CLIP_TEXT_ENCODER
from keymask.core.spec import HUMANML3D, MotionSpec
from keymask.core.text.prompts import TextEncoder, TextEncoderUnavailable, clean_prompts

EXEMPLAR_STREAM = 1  # the seed's random stream that picks exemplar clips, apart from decoding's

# progress(stage, done, total): stage is "text", "tokens", "residual" or "decode"
Progress = Callable[[str, int, int], None]
Cancel = Callable[[], bool]


class GenerationInputError(UsageError, ValueError):
    """Generation inputs that cannot work (lengths out of range, bad fixed tokens): one sentence."""


@dataclass
class FixedTokens:
    """Token ids held fixed during decoding: ids (B, N, Q) and mask (B, N, Q), True where fixed.

    A fixed base-layer position is never masked; fixed residual ids are kept as they are.
    """

    ids: np.ndarray
    mask: np.ndarray


@dataclass
class GeneratedMotion:
    prompt: str
    sample: int  # index among the samples of this prompt
    tokens: np.ndarray  # (N, Q) token ids
    features: np.ndarray  # (T, D) un-normalised features, T = 4 N
    joints: np.ndarray  # (T, J, 3) metres, Y up, starting at the origin facing +Z
    fps: int = HUMANML3D.fps
    mirrored: bool = False  # the mirror image of the motion made, so that it moves the side the prompt names
    sources: tuple[str, ...] = ()  # the sources of the training clips it is made from (exemplars.py)

    @property
    def seconds(self) -> float:
        return len(self.joints) / self.fps


@dataclass
class GenerationResult:
    motions: list[GeneratedMotion]
    seed: int
    settings: SamplingSettings = field(default_factory=SamplingSettings)


def load_text_encoder(name: str, clip_weights: str | Path | None = None, device: str = "cpu") -> TextEncoder:
    """The text encoder a model was trained with; CLIP needs a local weights file."""
    if name == CLIP_TEXT_ENCODER:
        if clip_weights is None:
            raise TextEncoderUnavailable(
                "These official MoMask models need CLIP ViT-B/32 weights, which are not on this machine: copy "
                "OpenAI's ViT-B-32.pt somewhere and pass --clip-weights PATH (or set KEYMASK_CLIP_WEIGHTS)."
            )
        from keymask.core.text.encoders import ClipTextEncoder

        return ClipTextEncoder(clip_weights, device=device)
    from keymask.core.text.numpy_sentence_encoders import NumpySentenceEncoder

    if name == NumpySentenceEncoder.name:
        return NumpySentenceEncoder()
    raise TextEncoderUnavailable(f"Unknown text encoder '{name}' in the model folder.")


def as_numpy(array) -> np.ndarray:
    """A numpy copy of an array or a (possibly GPU) torch tensor, without importing torch."""
    if hasattr(array, "detach"):
        array = array.detach().cpu().numpy()
    return np.asarray(array)


class MotionPipeline:
    def __init__(self, models: MotionModels, text_encoder: TextEncoder, spec: MotionSpec = HUMANML3D,
                 caption_index: CaptionIndex | None = None, exemplars: ExemplarLibrary | None = None):
        if text_encoder.dim != models.mask_transformer.config.text_dim:
            raise GenerationInputError(f"The text encoder gives {text_encoder.dim}-d features but the model expects "
                                       f"{models.mask_transformer.config.text_dim}-d ones.")
        self.models = models
        self.text_encoder = text_encoder
        self.spec = spec
        self.caption_index = caption_index
        self.exemplars = exemplars

    def encode_text(self, prompts: Sequence[str]) -> np.ndarray:
        """(P, text_dim) float32 embeddings of prompts already cleaned by `clean_prompts`."""
        return as_numpy(self.text_encoder.encode(list(prompts))).astype(np.float32)

    @classmethod
    def from_folder(cls, folder: str | Path, *, clip_weights: str | Path | None = None, backend: str = "auto",
                    device: str = "cpu") -> "MotionPipeline":
        """A KeyMask model folder or official checkpoints; backend "auto" picks numpy for ours on the CPU."""
        from keymask.core.backends.loading import load_models

        models = load_models(folder, backend=backend, device=device)
        return cls(models, load_text_encoder(models.text_encoder, clip_weights, device),
                   caption_index=CaptionIndex.load(folder), exemplars=ExemplarLibrary.load(folder))

    @property
    def num_quantizers(self) -> int:
        return self.models.num_quantizers

    # ------------------------------------------------------------------------------------------

    def __call__(self, prompts: Sequence[str], *, frames: int | Sequence[int] | None = None, samples: int = 1,
                 seed: int | None = None, settings: SamplingSettings | None = None,
                 fixed: FixedTokens | None = None, text_embedding: np.ndarray | None = None,
                 cleanup: CleanupSettings | None = None, progress: Progress | None = None,
                 cancel: Cancel | None = None) -> GenerationResult:
        """Generate `samples` motions per prompt in one batched pass.

        frames: length per prompt (or one for all), in 20 fps frames, rounded to whole tokens
        (4 frames); None asks the length estimator. fixed: token ids held fixed, (B, N, Q) with
        B = prompts x samples; without them, a model with exemplars holds a training clip's tokens
        (SamplingSettings.exemplar_share), and its length is the clip's when frames is None.
        text_embedding (P, dim) skips the text encoder (tests, parity).
        cleanup: smooth the joints and lock planted feet (cleanup.py); None gives the decoder's
        joints as they are (features are never changed).
        """
        settings = settings or SamplingSettings()
        seed = secrets.randbits(31) if seed is None else int(seed)
        rng = np.random.default_rng(seed)

        # 1. Check inputs.
        prompts = clean_prompts(prompts)
        if samples < 1:
            raise GenerationInputError(f"samples must be at least 1, got {samples}.")
        batch = len(prompts) * samples

        # 2. Encode the text, once per prompt.
        if text_embedding is None:
            text_embedding = self.encode_text(prompts)
        words = as_numpy(text_embedding)
        text_embedding = self.conditioning_text(prompts, words, settings.action_pull)
        text = np.repeat(text_embedding.astype(np.float32), samples, axis=0)  # (B, text_dim)
        if progress:
            progress("text", 1, 1)

        # 3. Lengths in tokens; with exemplars, a training clip per motion, whose length it takes.
        token_lengths = self._token_lengths(frames, len(prompts), samples, text, settings, rng, fixed)  # (B,)
        sources = [()] * batch
        if fixed is None:
            fixed, token_lengths, sources = self._exemplar_tokens(prompts, words, samples, settings, seed,
                                                                  token_lengths, lengths_given=frames is not None)

        # 4. Fixed tokens (never masked) and the rest to decode.
        fixed_ids, fixed_mask = self._check_fixed(fixed, batch, int(token_lengths.max()))

        # 5. Base layer by iterative masked decoding.
        base = decode_base_tokens(
            self.models.mask_transformer, text, token_lengths, steps=settings.steps,
            guidance_scale=settings.guidance_scale, temperature=settings.temperature,
            topk_filter_thres=settings.topk_filter_thres, greedy=settings.greedy, rng=rng,
            fixed_tokens=None if fixed_ids is None else fixed_ids[..., 0],
            fixed_mask=None if fixed_mask is None else fixed_mask[..., 0],
            callback=(lambda done, total: progress("tokens", done, total)) if progress else None, cancel=cancel,
        )  # (B, N)

        # 6. Residual layers.
        all_ids = decode_residual_layers(
            self.models.residual_transformer, base, text, token_lengths,
            guidance_scale=settings.residual_guidance_scale, temperature=settings.finer_layers_temperature,
            topk_filter_thres=settings.finer_layers_topk, greedy=settings.greedy, rng=rng,
            fixed_tokens=fixed_ids, fixed_mask=fixed_mask,
            callback=(lambda done, total: progress("residual", done, total)) if progress else None, cancel=cancel,
        )  # (B, N, Q)

        # 7. Decode motion: features, then joints.
        features = self.decode_tokens(all_ids)  # (B, T, D) un-normalised
        if progress:
            progress("decode", 1, 1)

        # 8. Result, each motion cut to its own length.
        motions = []
        for i in range(batch):
            n = int(token_lengths[i])
            motion_features = features[i, : n * self.spec.frames_per_token]
            joints = np.asarray(recover_from_ric(motion_features), dtype=np.float32)
            if cleanup is not None:
                joints = clean_motion(joints, cleanup)
            motions.append(GeneratedMotion(
                prompt=prompts[i // samples], sample=i % samples, tokens=all_ids[i, :n],
                features=motion_features, joints=joints,
                fps=self.spec.fps, sources=sources[i],
            ))
        return GenerationResult(motions=motions, seed=seed, settings=settings)

    # ------------------------------------------------------------------------------------------

    def check_prompts(self, prompts: Sequence[str], text_embedding: np.ndarray | None = None) -> list[PromptCheck]:
        """Whether each prompt asks for something the model has learned (all known without a caption
        index); text_embedding (P, dim) saves encoding the prompts again when the caller has them."""
        prompts = clean_prompts(prompts)
        if self.caption_index is None:
            return [PromptCheck(p, 1.0, (), True) for p in prompts]
        return self.caption_index.check(prompts, self.encode_text(prompts) if text_embedding is None else text_embedding)

    def conditioning_text(self, prompts: Sequence[str], text_embedding: np.ndarray, action_pull: float) -> np.ndarray:
        """(P, dim) what the model is conditioned on for prompts with these embeddings: pulled toward
        their trained actions when the model has a caption index (SamplingSettings.action_pull)."""
        if self.caption_index is None or action_pull <= 0:
            return np.asarray(text_embedding, dtype=np.float32)
        return self.caption_index.pulled_toward_actions(list(prompts), text_embedding, action_pull)

    def estimate_frames(self, prompts: Sequence[str], *, seed: int = 0, greedy: bool = False,
                        sample_length: bool = False,
                        action_pull: float = SamplingSettings.action_pull) -> np.ndarray:
        """(P,) the length in frames generation would choose for each prompt (see SamplingSettings)."""
        prompts = clean_prompts(prompts)
        text = self.conditioning_text(prompts, self.encode_text(prompts), action_pull)
        rng = np.random.default_rng(seed)
        tokens = np.clip(self._estimate_token_counts(text, greedy, rng, sample_length), 1, self.spec.max_tokens)
        return tokens * self.spec.frames_per_token

    def delivered_frames(self, prompts: Sequence[str], settings: SamplingSettings | None = None,
                         seed: int = 0) -> np.ndarray:
        """(P,) the length in frames a motion of each prompt gets when none is given, as `__call__` chooses
        it for one sample: its exemplar clip's (exemplars.py), else the length estimator's."""
        settings = settings or SamplingSettings()
        prompts = clean_prompts(prompts)
        frames = self.estimate_frames(prompts, seed=seed, greedy=settings.greedy, sample_length=settings.sample_length,
                                      action_pull=settings.action_pull)
        step = self.spec.frames_per_token
        clips = self.choose_exemplars(prompts, None, 1, settings, seed, frames // step) or [None] * len(prompts)
        return np.array([f if clip is None else min(len(self.exemplars.clip_tokens[clip]), self.spec.max_tokens) * step
                         for f, clip in zip(frames, clips)], dtype=np.int64)

    def decode_tokens(self, ids: np.ndarray) -> np.ndarray:
        """(B, N, Q) ids (-1 on padding) -> (B, 4 N, D) un-normalised features."""
        normalised = self.models.vq.decode(np.asarray(ids, dtype=np.int64))
        return normalised * self.models.std + self.models.mean

    def encode_features(self, features: np.ndarray) -> np.ndarray:
        """(T, D) un-normalised features -> (1, T // 4, Q) token ids (T cut to whole tokens)."""
        features = np.asarray(features, dtype=np.float32)
        usable = (features.shape[0] // self.spec.frames_per_token) * self.spec.frames_per_token
        if usable == 0:
            raise GenerationInputError(f"A motion of {features.shape[0]} frames is shorter than one token "
                                       f"({self.spec.frames_per_token} frames).")
        normalised = (features[:usable] - self.models.mean) / self.models.std
        return self.models.vq.encode(normalised[None])

    def choose_exemplars(self, prompts: list[str], words: np.ndarray | None, samples: int,
                         settings: SamplingSettings, seed: int, token_lengths=None) -> list[int | None] | None:
        """(prompts x samples) the training clip to hold for each motion (its index in `self.exemplars`), None
        where a prompt has none; None when the settings or the model use no exemplars. words (P, dim):
        the prompts' embeddings by the model's encoder, when the caller has them; token_lengths
        (prompts x samples,): the lengths the clips should fit."""
        if settings.exemplar_share <= 0 or self.exemplars is None or self.caption_index is None:
            return None
        words = self.encode_text(prompts) if words is None else np.asarray(words, dtype=np.float32)
        rng = np.random.default_rng([seed, EXEMPLAR_STREAM])
        return self.exemplars.choose(prompts, words, self.caption_index.read_actions, samples, rng, token_lengths)

    def _exemplar_tokens(self, prompts: list[str], words: np.ndarray, samples: int, settings: SamplingSettings,
                         seed: int, token_lengths: np.ndarray, lengths_given: bool):
        """(FixedTokens or None, (B,) token lengths, (B,) sources): each motion's exemplar, chosen to fit its
        length (given, or the estimator's), held at the settings' share of positions; a motion of no given
        length then takes its clip's."""
        chosen = self.choose_exemplars(prompts, words, samples, settings, seed, token_lengths)
        if chosen is None or all(clip is None for clip in chosen):
            return None, token_lengths, [()] * len(token_lengths)
        clips = [None if c is None else self.exemplars.clip_tokens[c] for c in chosen]
        sources = [() if c is None else (self.exemplars.clip_sources[c],) for c in chosen]
        if not lengths_given:
            token_lengths = np.array([length if clip is None else min(len(clip), self.spec.max_tokens)
                                      for clip, length in zip(clips, token_lengths)], dtype=np.int64)
        rng = np.random.default_rng([seed, EXEMPLAR_STREAM, 1])
        ids, mask = held_positions(clips, token_lengths, settings.exemplar_share, self.num_quantizers, rng)
        sources = [s if held.any() else () for s, held in zip(sources, mask[..., 0])]
        return FixedTokens(ids, mask), token_lengths, sources

    def _token_lengths(self, frames, n_prompts: int, samples: int, text: np.ndarray,
                       settings: SamplingSettings, rng: np.random.Generator,
                       fixed: FixedTokens | None) -> np.ndarray:
        max_tokens = self.spec.max_tokens
        if frames is None and fixed is not None:
            frames = fixed.ids.shape[1] * self.spec.frames_per_token
        if frames is None:
            return np.clip(self._estimate_token_counts(text, settings.greedy, rng, settings.sample_length), 1, max_tokens)
        per_prompt = [frames] * n_prompts if isinstance(frames, (int, float, np.number)) else list(frames)
        if len(per_prompt) != n_prompts:
            raise GenerationInputError(f"Got {len(per_prompt)} lengths for {n_prompts} prompts.")
        tokens = []
        for length in per_prompt:
            if not np.isfinite(length) or length < self.spec.frames_per_token:
                raise GenerationInputError(f"A motion must last at least {self.spec.frames_per_token} frames "
                                           f"({self.spec.frames_per_token / self.spec.fps:.2f} s); got {length}.")
            count = int(round(length / self.spec.frames_per_token))
            if count > max_tokens:
                raise GenerationInputError(
                    f"{length} frames is longer than the model's window of {self.spec.max_frames} frames "
                    f"({self.spec.max_frames / self.spec.fps:.1f} s); use generate_long for longer motions.")
            tokens.append(count)
        return np.repeat(np.asarray(tokens, dtype=np.int64), samples)

    def _estimate_token_counts(self, text: np.ndarray, greedy: bool, rng: np.random.Generator,
                               sample: bool = False) -> np.ndarray:
        """(B,) token counts of at least 1 from the length estimator: most likely if greedy, else drawn
        (sample) or its median; the draw is made either way, so a seed gives the same tokens after it."""
        estimator = self.models.length_estimator
        if estimator is None:
            raise GenerationInputError("This model has no length estimator: give the length (--seconds or --frames).")
        logits = estimator.logits(text).astype(np.float64)  # (B, n_classes)
        logits[:, :1] = -np.inf
        if greedy:
            return logits.argmax(axis=-1)
        probabilities = np.exp(logits - logits.max(axis=-1, keepdims=True))
        cumulative = np.cumsum(probabilities / probabilities.sum(axis=-1, keepdims=True), axis=-1)  # (B, n_classes)
        draws = rng.random((len(text), 1))
        if not sample:
            draws = np.full_like(draws, 0.5)
        return np.minimum((cumulative < draws).sum(axis=-1), logits.shape[1] - 1)

    def _check_fixed(self, fixed: FixedTokens | None, batch: int, n_tokens: int):
        if fixed is None:
            return None, None
        q = self.num_quantizers
        if fixed.ids.shape != fixed.mask.shape or fixed.ids.shape[0] != batch or fixed.ids.shape[2] != q:
            raise GenerationInputError(f"Fixed tokens must have shape ({batch}, N, {q}) for ids and mask; got "
                                       f"{tuple(fixed.ids.shape)} and {tuple(fixed.mask.shape)}.")
        if fixed.ids.shape[1] < n_tokens:
            raise GenerationInputError(f"Fixed tokens cover {fixed.ids.shape[1]} positions, fewer than the "
                                       f"{n_tokens} to generate.")
        ids, mask = np.asarray(fixed.ids)[:, :n_tokens], np.asarray(fixed.mask)[:, :n_tokens].astype(bool)
        vocabulary = self.models.vq.config.nb_code
        if ((ids < 0) | (ids >= vocabulary))[mask].any():
            raise GenerationInputError(f"Fixed token ids must lie in 0..{vocabulary - 1}.")
        return ids.astype(np.int64), mask
