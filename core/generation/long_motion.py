"""Motions longer than the model's window, generated in overlapping windows.

Each window after the first holds the last `overlap` tokens of the motion so far fixed (the one
fixed-token mechanism) and decodes the rest; the tokens of all windows are then decoded into
features in ONE pass of the convolutional decoder, so the joins are as smooth as any other
frame, and the features (root velocities, not positions) integrate into one continuous path.
"""

import numpy as np

from keymask.core.features import recover_from_ric
from keymask.core.generation.cleanup import CleanupSettings, clean_motion
from keymask.core.generation.pipeline import (
    Cancel,
    FixedTokens,
    GeneratedMotion,
    GenerationInputError,
    MotionPipeline,
    Progress,
    SamplingSettings,
)

DEFAULT_OVERLAP_TOKENS = 12  # 2.4 s of context carried into each new window


def generate_long(pipeline: MotionPipeline, prompt: str, frames: int, *, overlap_tokens: int = DEFAULT_OVERLAP_TOKENS,
                  seed: int = 0, settings: SamplingSettings | None = None, cleanup: CleanupSettings | None = None,
                  progress: Progress | None = None, cancel: Cancel | None = None) -> GeneratedMotion:
    """One motion of `frames` frames (any length) for `prompt`; cleanup as in MotionPipeline."""
    spec = pipeline.spec
    window = spec.max_tokens
    total = int(round(frames / spec.frames_per_token))
    if total < 1:
        raise GenerationInputError(f"A motion must last at least {spec.frames_per_token} frames; got {frames}.")
    if not 0 < overlap_tokens < window:
        raise GenerationInputError(f"The overlap must be between 1 and {window - 1} tokens; got {overlap_tokens}.")
    text = pipeline.text_encoder.encode([prompt])  # once for all windows

    # 1. Tokens, window by window; each new window keeps the previous `overlap` tokens fixed.
    first = pipeline([prompt], frames=min(total, window) * spec.frames_per_token, seed=seed, settings=settings,
                     text_embedding=text, progress=progress, cancel=cancel)
    tokens = first.motions[0].tokens  # (N, Q)
    index = 1
    while len(tokens) < total:
        fresh = min(window - overlap_tokens, total - len(tokens))
        ids = np.zeros((1, overlap_tokens + fresh, tokens.shape[1]), dtype=np.int64)
        carried = tokens[-overlap_tokens:]  # (O, Q); -1 where a residual layer predicted "no code"
        mask = np.zeros(ids.shape, dtype=bool)
        mask[0, :overlap_tokens] = carried >= 0
        ids[0, :overlap_tokens] = np.maximum(carried, 0)
        result = pipeline([prompt], frames=ids.shape[1] * spec.frames_per_token, fixed=FixedTokens(ids, mask),
                          seed=seed + index, settings=settings, text_embedding=text, progress=progress, cancel=cancel)
        tokens = np.concatenate([tokens, result.motions[0].tokens[overlap_tokens:]])
        index += 1

    # 2. All tokens through the decoder at once, then joints.
    features = pipeline.decode_tokens(tokens[None])[0]  # (T, D)
    joints = np.asarray(recover_from_ric(features), dtype=np.float32)
    if cleanup is not None:
        joints = clean_motion(joints, cleanup)
    return GeneratedMotion(prompt=first.motions[0].prompt, sample=0, tokens=tokens,
                           features=features, joints=joints, fps=spec.fps)
