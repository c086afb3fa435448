"""Text + key poses -> motion: the key poses' tokens are held fixed, then the motion is refined.

1. Check the keys: inside the motion, at most one per token window (4 frames, 0.2 s).
2. Tokens for each key (key_tokens.py), placed at the token of its frame and held fixed (never
   masked) through the base-layer decoding; the residual layers keep them too (all layers are
   fixed by default; `fixed_layers="base"` fixes only the base layer).
3. The pipeline decodes the rest from the text, through the engine's one fixed-token mechanism.
4. Refinement (refine.py) makes each motion pass exactly through its placed key poses, in
   joint-rotation space, on the chosen body (default: the model's own proportions), holding and
   easing each key as its timing says.
"""

import secrets
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from keymask.conditioning.key_tokens import context_tokens, hold_tokens
from keymask.conditioning.paths import RootPath
from keymask.conditioning.poses import KeyPose3D
from keymask.conditioning.refine import CONSTRAINTS, DEFAULT_EASE, KeyTiming, refine_to_keys
from keymask.core.animation import Body, body_of
from keymask.core.generation.cleanup import CleanupSettings
from keymask.core.generation.pipeline import (
    Cancel,
    FixedTokens,
    GenerationInputError,
    GenerationResult,
    MotionPipeline,
    Progress,
    SamplingSettings,
)

TOKEN_METHODS = ("hold", "context")
# A keyed motion is smoothed a little more than a text-only one (1.5 frames against 1): on
# `bench/keypose.py --rows real --clips 256` its jerk within 1.5 s of the keys was 1.29x the real
# clips' with 1 and is 0.96x with 1.5 (FID 0.107 -> 0.112).
KEYED_CLEANUP = CleanupSettings(smoothing_sigma=1.5)


@dataclass(frozen=True)
class KeyFrame:
    pose: KeyPose3D
    frame: int  # 20 fps frame of the motion where the pose must be reached
    constrain: str = "body"  # "body": the pose only; "root": also its root position and facing
    hold: int = 0  # frames the pose is held after `frame`
    ease_in: int | None = None  # frames of easing before the key (None: KeySettings.refine_radius)
    ease_out: int | None = None  # frames of easing after the span (None: KeySettings.refine_radius)

    def timing(self, default_ease: int) -> KeyTiming:
        return KeyTiming(self.hold, default_ease if self.ease_in is None else self.ease_in,
                         default_ease if self.ease_out is None else self.ease_out)


@dataclass(frozen=True)
class KeySettings:
    token_method: str = "context"  # how a pose becomes tokens: "hold" or "context"
    fixed_layers: str = "all"  # "all" quantizer layers of a key's token, or only the "base" layer
    span: int = 1  # "context" only: also hold this many tokens on either side of each key's token
    refine: bool = True  # pass exactly through the keys after decoding
    refine_radius: int = DEFAULT_EASE  # frames of easing on either side of a key, unless the key says


def check_keys(keys: Sequence[KeyFrame], frames: int, fps: float, frames_per_token: int) -> None:
    """One clear sentence for a key outside the motion or two keys in one token window."""
    for key in keys:
        if key.constrain not in CONSTRAINTS:
            raise GenerationInputError(f"A key pose constrains {' or '.join(CONSTRAINTS)}, not {key.constrain!r}.")
        if not 0 <= key.frame < frames:
            raise GenerationInputError(f"A key pose at {key.frame / fps:.2f} s lies outside the motion, which lasts "
                                       f"{frames / fps:.2f} s ({frames} frames).")
        if key.hold < 0 or (key.ease_in or 0) < 0 or (key.ease_out or 0) < 0:
            raise GenerationInputError(f"The key pose at {key.frame / fps:.2f} s has a negative hold or ease.")
        if key.frame + key.hold >= frames:
            raise GenerationInputError(f"The key pose at {key.frame / fps:.2f} s is held past the motion's end "
                                       f"({frames / fps:.2f} s): shorten the hold or lengthen the motion.")
    ordered = sorted(keys, key=lambda k: k.frame)
    for a, b in zip(ordered, ordered[1:]):
        if a.frame + a.hold >= b.frame:
            raise GenerationInputError(f"The key pose at {a.frame / fps:.2f} s is held until "
                                       f"{(a.frame + a.hold) / fps:.2f} s, past the next key at {b.frame / fps:.2f} s.")
        if a.frame // frames_per_token == b.frame // frames_per_token:
            window = frames_per_token / fps
            raise GenerationInputError(f"The key poses at {a.frame / fps:.2f} s and {b.frame / fps:.2f} s fall in "
                                       f"the same {window:.1f} s token window: put them at least {window:.1f} s apart.")


def generate_with_key_poses(pipeline: MotionPipeline, prompts: Sequence[str], keys: Sequence[Sequence[KeyFrame]], *,
                            frames: int | Sequence[int], samples: int = 1, seed: int | None = None,
                            settings: SamplingSettings | None = None,
                            cleanup: CleanupSettings | None = KEYED_CLEANUP,
                            key_settings: KeySettings = KeySettings(), body: Body | None = None,
                            path: RootPath | None = None, progress: Progress | None = None,
                            cancel: Cancel | None = None) -> GenerationResult:
    """`samples` motions per prompt, prompt i lasting frames[i] frames and passing through keys[i].

    One batched pass (two with the "context" token method), as MotionPipeline.__call__. The
    motions are delivered on `body` (default: the model's proportions), bones rigid in every frame,
    the pelvis on `path` (paths.py) when one is given.
    """
    spec = pipeline.spec
    if key_settings.token_method not in TOKEN_METHODS:
        raise GenerationInputError(f"Unknown token method {key_settings.token_method!r}: use "
                                   f"{' or '.join(TOKEN_METHODS)}.")
    frames = [frames] * len(prompts) if isinstance(frames, (int, np.integer)) else list(frames)
    if not len(prompts) == len(keys) == len(frames):
        raise GenerationInputError(f"Got {len(prompts)} prompts, {len(keys)} key lists and {len(frames)} lengths.")
    n_tokens = [int(round(f / spec.frames_per_token)) for f in frames]
    for motion_keys, n in zip(keys, n_tokens):
        check_keys(motion_keys, n * spec.frames_per_token, spec.fps, spec.frames_per_token)
    lengths = [n * spec.frames_per_token for n in n_tokens]
    if max(n_tokens) > spec.max_tokens:
        return _generate_long_with_keys(pipeline, prompts, keys, lengths, samples=samples, seed=seed,
                                        settings=settings, cleanup=cleanup, key_settings=key_settings, body=body,
                                        path=path, progress=progress, cancel=cancel)
    per_sample_keys = [motion_keys for motion_keys in keys for _ in range(samples)]  # B lists
    text = pipeline.text_encoder.encode(list(prompts))
    common = dict(samples=samples, settings=settings, text_embedding=text, cleanup=cleanup, progress=progress,
                  cancel=cancel)

    # 1. Tokens of every key, per sample: {token position: (Q,) ids} per key.
    if key_settings.token_method == "hold":
        key_ids = [[{k.frame // spec.frames_per_token: hold_tokens(pipeline, k.pose)} for k in motion_keys]
                   for motion_keys in per_sample_keys]
    else:
        first = pipeline(prompts, frames=lengths, seed=seed, **common)
        seed = first.seed
        key_ids = []
        for motion, motion_keys in zip(first.motions, per_sample_keys):
            tokens = context_tokens(pipeline, refine_motion(motion.joints, motion_keys, key_settings.refine_radius))
            key_ids.append([{p: tokens[p] for p in _span(k.frame // spec.frames_per_token, key_settings.span,
                                                          len(tokens))} for k in motion_keys])

    # 2. Held fixed at their token positions; the rest decoded from the text.
    ids = np.zeros((len(per_sample_keys), max(n_tokens), pipeline.num_quantizers), dtype=np.int64)
    mask = np.zeros_like(ids, dtype=bool)
    layers = slice(None) if key_settings.fixed_layers == "all" else slice(0, 1)
    for i, motion_ids in enumerate(key_ids):
        for held in motion_ids:
            for position, key_tokens in held.items():
                ids[i, position] = np.maximum(key_tokens, 0)
                mask[i, position, layers] = key_tokens[layers] >= 0
    result = pipeline(prompts, frames=lengths, seed=seed, fixed=FixedTokens(ids, mask), **common)

    # 3. Through every key exactly.
    if key_settings.refine:
        result.motions = [replace(m, joints=refine_motion(m.joints, motion_keys, key_settings.refine_radius, body,
                                                          path).astype(np.float32))
                          for m, motion_keys in zip(result.motions, per_sample_keys)]
    return result


def _generate_long_with_keys(pipeline: MotionPipeline, prompts: Sequence[str], keys: Sequence[Sequence[KeyFrame]],
                             lengths: list[int], *, samples: int, seed: int | None, settings, cleanup,
                             key_settings: KeySettings, body: Body | None, path: RootPath | None, progress,
                             cancel) -> GenerationResult:
    """Motions past one window: chained windows (long_motion.py) with the key tokens held in
    whichever window holds them, one motion at a time; the same steps as the one-window case."""
    from keymask.core.generation.long_motion import generate_long

    spec = pipeline.spec
    seed = secrets.randbits(31) if seed is None else int(seed)
    common = dict(settings=settings, cleanup=cleanup, progress=progress, cancel=cancel)
    motions = []
    for p, (prompt, motion_keys, frames) in enumerate(zip(prompts, keys, lengths)):
        for sample in range(samples):
            motion_seed = seed + 1000 * (p * samples + sample)
            if key_settings.token_method == "hold":
                fixed = {k.frame // spec.frames_per_token: hold_tokens(pipeline, k.pose) for k in motion_keys}
            else:
                first = generate_long(pipeline, prompt, frames, seed=motion_seed, **common)
                tokens = context_tokens(pipeline, refine_motion(first.joints, motion_keys, key_settings.refine_radius))
                fixed = {q: tokens[q] for k in motion_keys
                         for q in _span(k.frame // spec.frames_per_token, key_settings.span, len(tokens))}
            if key_settings.fixed_layers != "all":
                fixed = {q: np.where(np.arange(len(ids)) == 0, ids, -1) for q, ids in fixed.items()}
            motion = generate_long(pipeline, prompt, frames, seed=motion_seed, fixed=fixed, **common)
            if key_settings.refine:
                motion = replace(motion, joints=refine_motion(motion.joints, motion_keys, key_settings.refine_radius,
                                                              body, path).astype(np.float32))
            motions.append(replace(motion, sample=sample))
    return GenerationResult(motions, seed, settings or SamplingSettings())


def _span(position: int, span: int, n_tokens: int) -> range:
    return range(max(position - span, 0), min(position + span + 1, n_tokens))


def body_of_keys(keys: Sequence[KeyFrame]) -> Body | None:
    """The proportions the keys were given on: the first 3D key pose file's; else, for keys lifted
    from 2D, the first lifted pose's (the lifter estimates a body from the picture), made left-right
    symmetric; None without keys (the model's own body)."""
    measured = [k.pose for k in keys if "lifter" not in k.pose.source]
    if measured:
        return body_of(measured[0].joints, "first 3D key pose")
    return body_of(keys[0].pose.joints, "first lifted key pose").symmetric() if keys else None


def read_key_pose(path, *, person: int | None = None) -> KeyPose3D:
    """A 3D key pose from a pose file: a KeyMask 3D file as it is, an OpenPose 2D file lifted."""
    from keymask.conditioning.pose_files import read_pose_file

    pose = read_pose_file(path, person=person)
    if isinstance(pose, KeyPose3D):
        return pose
    from keymask.conditioning.lifting.lift import lift_pose

    return lift_pose(pose)


def refine_motion(joints: np.ndarray, keys: Sequence[KeyFrame], ease: int = DEFAULT_EASE,
                  body: Body | None = None, path: RootPath | None = None) -> np.ndarray:
    """The motion (T, J, 3) through its keys on `body` (default: its own), its pelvis on `path`,
    each key placed against the motion's own frame, easing over `ease` frames unless it says otherwise."""
    return refine_to_keys(joints, [(k.frame, k.pose, k.constrain, k.timing(ease)) for k in keys], body, path)
