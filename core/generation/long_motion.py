"""Motions longer than the model's window, or made of several prompts in turn, generated in
overlapping windows.

Each window after the first holds the last `overlap` tokens of the motion so far fixed (the one
fixed-token mechanism) and decodes the rest; the tokens of all windows are then decoded into
features in ONE pass of the convolutional decoder, so the joins are as smooth as any other
frame, and the features (root velocities, not positions) integrate into one continuous path.
Tokens given in `fixed` (absolute token position -> (Q,) ids, e.g. key poses) are held fixed in
whichever window holds them. A part may start from a training clip (`exemplar_clips`, exemplars.py),
held at the settings' share of the positions its first window makes.
"""

import numpy as np

from keymask.core.features import recover_from_ric
from keymask.core.generation.cleanup import CleanupSettings, clean_motion
from keymask.core.generation.exemplars import held_positions
from keymask.core.generation.pipeline import (
    EXEMPLAR_STREAM,
    Cancel,
    FixedTokens,
    GeneratedMotion,
    GenerationInputError,
    MotionPipeline,
    Progress,
    SamplingSettings,
)
from keymask.core.text.prompts import clean_prompts

DEFAULT_OVERLAP_TOKENS = 12  # 2.4 s of context carried into each new window
# Context carried into the first window of a new action: less of the old action lets the new one
# start sooner. Chosen on bench/sequence_order.py's prompts (README; an ad hoc sweep, the split then
# decided on the parts with a subject): 12 / 8 / 6 / 4 / 2 tokens gave both actions in order 0.506 /
# 0.525 / 0.562 / 0.537 / 0.537, with the same jerk around the join.
ACTION_CHANGE_OVERLAP_TOKENS = 6


def generate_long(pipeline: MotionPipeline, prompt: str, frames: int, *, overlap_tokens: int = DEFAULT_OVERLAP_TOKENS,
                  seed: int = 0, settings: SamplingSettings | None = None, cleanup: CleanupSettings | None = None,
                  fixed: dict[int, np.ndarray] | None = None, progress: Progress | None = None,
                  cancel: Cancel | None = None) -> GeneratedMotion:
    """One motion of `frames` frames (any length) for `prompt`; cleanup as in MotionPipeline."""
    return generate_chain(pipeline, [(prompt, frames)], overlap_tokens=overlap_tokens, seed=seed, settings=settings,
                          cleanup=cleanup, fixed=fixed, progress=progress, cancel=cancel)


def generate_chain(pipeline: MotionPipeline, parts: list[tuple[str, int]], *,
                   overlap_tokens: int = DEFAULT_OVERLAP_TOKENS,
                   change_overlap_tokens: int = ACTION_CHANGE_OVERLAP_TOKENS, seed: int = 0,
                   settings: SamplingSettings | None = None, cleanup: CleanupSettings | None = None,
                   fixed: dict[int, np.ndarray] | None = None, exemplar_clips: list[int | None] | None = None,
                   progress: Progress | None = None, cancel: Cancel | None = None) -> GeneratedMotion:
    """One motion made of `parts` (prompt, frames) in turn, each new window conditioned on its own
    part's prompt and continuing the motion so far (`change_overlap_tokens` of it where a part
    starts, `overlap_tokens` elsewhere); exemplar_clips: a clip of `pipeline.exemplars` (or None) per
    part, held in its first window where nothing else is; cleanup as in MotionPipeline."""
    spec = pipeline.spec
    window = spec.max_tokens
    if not parts:
        raise GenerationInputError("A motion needs at least one part.")
    parts = list(zip(clean_prompts([prompt for prompt, _ in parts]), [frames for _, frames in parts]))
    counts = [int(round(frames / spec.frames_per_token)) for _, frames in parts]
    if min(counts) < 1:
        raise GenerationInputError(f"Every part of a motion must last at least {spec.frames_per_token} frames; "
                                   f"got {[frames for _, frames in parts]}.")
    for overlap in (overlap_tokens, change_overlap_tokens):
        if not 0 < overlap < window:
            raise GenerationInputError(f"The overlap must be between 1 and {window - 1} tokens; got {overlap}.")
    distinct = list(dict.fromkeys(prompt for prompt, _ in parts))
    texts = dict(zip(distinct, pipeline.encode_text(distinct)))  # (dim,) per prompt, once for all windows

    # 1. Tokens, window by window; each new window keeps the previous `overlap` tokens fixed.
    fixed = fixed or {}
    tokens = np.zeros((0, pipeline.num_quantizers), dtype=np.int64)
    sources: set[str] = set()  # of training clips the windows hold (exemplars.py)
    index = 0
    share = (settings or SamplingSettings()).exemplar_share
    for part, ((prompt, _), count) in enumerate(zip(parts, counts)):
        part_start, part_end = len(tokens), len(tokens) + count
        while len(tokens) < part_end:
            overlap = change_overlap_tokens if len(tokens) == part_start else overlap_tokens
            carried = tokens[-overlap:] if len(tokens) else tokens  # (O, Q); -1 where a layer has "no code"
            start = len(tokens) - len(carried)  # absolute token position of the window's first token
            fresh = min(window - len(carried), part_end - len(tokens))
            held = np.full((len(carried) + fresh, pipeline.num_quantizers), -1, dtype=np.int64)  # (N, Q)
            held[:len(carried)] = carried
            for position, ids in fixed.items():
                if len(tokens) <= position < start + len(held):
                    held[position - start] = ids
            clip = exemplar_clips[part] if exemplar_clips and len(tokens) == part_start else None
            if clip is not None and share > 0:
                rng = np.random.default_rng([seed, EXEMPLAR_STREAM, 2, part])
                ids, mask = held_positions([pipeline.exemplars.clip_tokens[clip]], np.array([fresh]), share,
                                           pipeline.num_quantizers, rng)
                free = (held[len(carried):] < 0).all(axis=-1) & mask[0, :, 0]  # (fresh,)
                held[len(carried):][free] = ids[0][free]
                if free.any():
                    sources.add(pipeline.exemplars.clip_sources[clip])
            window_fixed = FixedTokens(np.maximum(held, 0)[None], (held >= 0)[None]) if (held >= 0).any() else None
            result = pipeline([prompt], frames=len(held) * spec.frames_per_token, fixed=window_fixed,
                              seed=seed + index, settings=settings, text_embedding=texts[prompt][None],
                              progress=progress, cancel=cancel)
            tokens = np.concatenate([tokens, result.motions[0].tokens[len(carried):]])
            sources.update(result.motions[0].sources)
            index += 1

    # 2. All tokens through the decoder at once, then joints.
    features = pipeline.decode_tokens(tokens[None])[0]  # (T, D)
    joints = np.asarray(recover_from_ric(features), dtype=np.float32)
    if cleanup is not None:
        joints = clean_motion(joints, cleanup)
    prompt = parts[0][0] if len(parts) == 1 else ", then ".join(prompt for prompt, _ in parts)
    return GeneratedMotion(prompt=prompt, sample=0, tokens=tokens, features=features, joints=joints, fps=spec.fps,
                           sources=tuple(sorted(sources)))
