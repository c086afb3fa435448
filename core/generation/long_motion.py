"""Motions longer than the model's window, generated in overlapping windows.

Each window after the first holds the last `overlap` tokens of the motion so far fixed (the one
fixed-token mechanism) and decodes the rest; the tokens of all windows are then decoded into
features in ONE pass of the convolutional decoder, so the joins are as smooth as any other
frame, and the features (root velocities, not positions) integrate into one continuous path.
Tokens given in `fixed` (absolute token position -> (Q,) ids, e.g. key poses) are held fixed in
whichever window holds them.
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
                  fixed: dict[int, np.ndarray] | None = None, progress: Progress | None = None,
                  cancel: Cancel | None = None) -> GeneratedMotion:
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
    fixed = fixed or {}
    tokens = np.zeros((0, pipeline.num_quantizers), dtype=np.int64)
    index = 0
    while len(tokens) < total:
        carried = tokens[-overlap_tokens:] if len(tokens) else tokens  # (O, Q); -1 where a layer has "no code"
        start = len(tokens) - len(carried)  # absolute token position of the window's first token
        fresh = min(window - len(carried), total - len(tokens))
        held = np.full((len(carried) + fresh, pipeline.num_quantizers), -1, dtype=np.int64)  # (N, Q)
        held[:len(carried)] = carried
        for position, ids in fixed.items():
            if len(tokens) <= position < start + len(held):
                held[position - start] = ids
        window_fixed = FixedTokens(np.maximum(held, 0)[None], (held >= 0)[None]) if (held >= 0).any() else None
        result = pipeline([prompt], frames=len(held) * spec.frames_per_token, fixed=window_fixed, seed=seed + index,
                          settings=settings, text_embedding=text, progress=progress, cancel=cancel)
        tokens = np.concatenate([tokens, result.motions[0].tokens[len(carried):]])
        index += 1

    # 2. All tokens through the decoder at once, then joints.
    features = pipeline.decode_tokens(tokens[None])[0]  # (T, D)
    joints = np.asarray(recover_from_ric(features), dtype=np.float32)
    if cleanup is not None:
        joints = clean_motion(joints, cleanup)
    return GeneratedMotion(prompt=result.motions[0].prompt, sample=0, tokens=tokens,
                           features=features, joints=joints, fps=spec.fps)
