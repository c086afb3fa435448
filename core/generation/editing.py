"""Temporal editing and continuation of an existing motion through fixed tokens.

The motion is encoded into tokens; tokens whose frames all lie in a kept span are held fixed
(every quantizer layer) and the rest is decoded from the new text. The decoder mixes
neighbouring tokens, so decoded kept frames drift slightly from the source: the kept frames are
then copied from the source exactly, and each regenerated run is offset so that it meets its
kept neighbours without a jump (the offset fades out over a short ramp, or is interpolated
linearly when the run lies between two kept spans).
"""

import re
from dataclasses import dataclass

import numpy as np

from keymask.core.features import canonical_frame, features_from_canonical
from keymask.core.generation.pipeline import (
    Cancel,
    FixedTokens,
    GenerationInputError,
    MotionPipeline,
    Progress,
    SamplingSettings,
)
from keymask.core.kinematics import offsets_from_joints

SEAM_RAMP_FRAMES = 20  # how far into a regenerated run an offset to one kept neighbour fades out

_SPAN = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(s?)\s*-\s*([0-9]*\.?[0-9]+)\s*(s?)\s*$")


def parse_spans(text: str, fps: float) -> list[tuple[int, int]]:
    """'0-1.5s,3-4s' (seconds) or '0-30,60-80' (frames) -> [(first frame, end frame exclusive)]."""
    spans = []
    for part in text.split(","):
        match = _SPAN.match(part)
        if not match:
            raise GenerationInputError(f"Cannot read the span '{part.strip()}': write START-END in seconds "
                                       "(0-1.5s) or frames (0-30), several separated by commas.")
        start, start_unit, end, end_unit = match.groups()
        in_seconds = bool(start_unit or end_unit)
        scale = fps if in_seconds else 1.0
        first, last = int(round(float(start) * scale)), int(round(float(end) * scale))
        if last <= first:
            raise GenerationInputError(f"The span '{part.strip()}' ends before it starts.")
        spans.append((first, last))
    return spans


def frames_in_spans(spans: list[tuple[int, int]], n_frames: int) -> np.ndarray:
    """(n_frames,) True inside any span."""
    inside = np.zeros(n_frames, dtype=bool)
    for first, last in spans:
        inside[max(first, 0): min(last, n_frames)] = True
    return inside


def blend_seams(generated: np.ndarray, source: np.ndarray, kept: np.ndarray,
                ramp: int = SEAM_RAMP_FRAMES) -> np.ndarray:
    """(T, J, 3): source where kept (T,), generated elsewhere, offset to meet kept neighbours.

    source may be shorter than T; frames past its end are never kept.
    """
    n = len(kept)
    padding = np.repeat(source[-1:], max(0, n - len(source)), axis=0)  # never kept, only keeps indexing simple
    reference = np.concatenate([source[:n], padding])
    out = generated.copy()
    out[kept] = reference[kept]
    t = 0
    while t < n:
        if kept[t]:
            t += 1
            continue
        start = t
        while t < n and not kept[t]:
            t += 1
        end = t  # regenerated run [start, end)
        steps = np.arange(start, end)
        before = reference[start - 1] - generated[start - 1] if start > 0 else None  # (J, 3)
        after = reference[end] - generated[end] if end < n else None
        if before is not None and after is not None:
            s = ((steps - start + 1) / (end - start + 1))[:, None, None]
            out[start:end] += (1 - s) * before + s * after
        elif before is not None:
            out[start:end] += _fade(steps - start, ramp)[:, None, None] * before
        elif after is not None:
            out[start:end] += _fade(end - 1 - steps, ramp)[:, None, None] * after
    return out


def _fade(distance: np.ndarray, ramp: int) -> np.ndarray:
    """1 next to the kept frame, easing to 0 at `ramp` frames away (smoothstep)."""
    x = np.clip((distance + 1) / (ramp + 1), 0.0, 1.0)
    return 1.0 - x * x * (3.0 - 2.0 * x)


@dataclass
class EditResult:
    joints: np.ndarray  # (T, J, 3) in the source's place and on its skeleton
    kept: np.ndarray  # (T,) True on frames copied from the source
    tokens: np.ndarray  # (N, Q)
    seed: int


def edit_motion(pipeline: MotionPipeline, source: np.ndarray, prompt: str, keep: list[tuple[int, int]], *,
                extend_frames: int = 0, seed: int | None = None, settings: SamplingSettings | None = None,
                progress: Progress | None = None, cancel: Cancel | None = None) -> EditResult:
    """Regenerate every frame of `source` (T, J, 3) outside the `keep` spans from `prompt`.

    extend_frames > 0 continues the motion past its end (continuation: keep the whole source).
    """
    source = np.asarray(source, dtype=np.float64)
    spec = pipeline.spec
    if len(source) < spec.frames_per_token + 1:
        raise GenerationInputError(f"The source motion has {len(source)} frames; editing needs at least "
                                   f"{spec.frames_per_token + 1}.")
    for first, _ in keep:
        if first >= len(source):
            raise GenerationInputError(f"A kept span starts at frame {first} ({first / spec.fps:.1f} s), after the "
                                       f"motion's end at frame {len(source) - 1} ({(len(source) - 1) / spec.fps:.1f} s).")
    # 1. Source -> canonical features -> tokens; the last token is completed by holding the last
    # frame, so every source frame has a token (the result is cut back to the exact length).
    frame, canonical = canonical_frame(source)
    n_target = len(source) + max(int(extend_frames), 0)  # frames of the result, exactly
    held = (-len(source)) % spec.frames_per_token + 1  # features are frame differences: one more frame
    padded = np.concatenate([canonical, np.repeat(canonical[-1:], held, axis=0)])
    source_tokens = pipeline.encode_features(features_from_canonical(padded))  # (1, N, Q), N = ceil(T / 4)
    n_source = source_tokens.shape[1]
    n_total = max(n_source, -(-n_target // spec.frames_per_token))
    if n_total > spec.max_tokens:
        raise GenerationInputError(f"The edited motion would last {n_total * spec.frames_per_token} frames, past "
                                   f"the model's window of {spec.max_frames}.")

    # 2. Fixed tokens: those whose frames are all kept, in every layer.
    n_frames = n_total * spec.frames_per_token
    kept_frames = frames_in_spans(keep, len(source))
    kept_frames = np.concatenate([kept_frames, np.zeros(n_frames - len(kept_frames), dtype=bool)])
    kept_tokens = kept_frames.reshape(n_total, spec.frames_per_token).all(axis=1)  # (N,)
    if kept_frames[:n_target].all():
        raise GenerationInputError("Every frame is kept: leave some part of the motion to regenerate.")
    ids = np.zeros((1, n_total, pipeline.num_quantizers), dtype=np.int64)
    ids[:, :n_source] = source_tokens
    mask = np.broadcast_to(kept_tokens[None, :, None], ids.shape).copy()

    # 3. Decode the rest from the text, then bring it back onto the source.
    result = pipeline([prompt], frames=n_frames, fixed=FixedTokens(ids, mask), seed=seed, settings=settings,
                      progress=progress, cancel=cancel)
    generated = frame.to_world(result.motions[0].joints, offsets_from_joints(source[0]))  # (T, J, 3)
    joints = blend_seams(generated, source, kept_frames)[:n_target]
    return EditResult(joints=joints, kept=kept_frames[:n_target], tokens=result.motions[0].tokens, seed=result.seed)
