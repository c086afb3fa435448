"""Local re-solves: after one key pose is edited, only the stretch of motion around it changes.

A key edit (its pose changed, its time moved, or a new key) touches one stretch of frames
(`stale_stretch`): from the nearest anchor before the key to the nearest one after it, where an
anchor is another key's frame or the edge of a kept span, and never more than `window` frames
either side of the key (at its old and its new frame both). Frames outside the stretch are
returned bit for bit as they were; inside it (`resolve_stretch`):

1. Retiming: a key moved from frame f0 to f1 carries the motion with it. The stretch is resampled
   through a piecewise-linear time map that leaves the frames just outside it in place and sends
   f1 to f0, so the pose the motion had at the old time is now at the new one (linear in joint
   positions between frames).
2. Refinement (refine.py) through every key inside the stretch, holding each key as its hold says,
   with its hold and easing clipped so that its weight is zero on the frames just outside the stretch.
3. Blending: refinement fits the motion onto rigid bones (animate), which moves every frame by the
   fit's error (millimetres). The result is B + (R - F) + s (F - B), with B the retimed stretch, F
   its rigid fit, R the refined fit and s the largest key weight: the key's frame is R exactly (the
   key pose on rigid bones) and the stretch's ends are B, so there is no pop where it meets the
   frames that did not change.

A deleted key (`release_stretch`) lets go of the stretch around it: over the key's span and eases the
motion turns towards a bridge between the frames just outside the stretch (local rotations slerped,
the root moved in a straight line), fully over its span, so the deleted pose is gone; the ends of
the stretch are blended as in 3. The bridge has no steps of its own: a walk inside the stretch
glides until the next generation makes its steps again.

Joint positions are (T, 22, 3) metres, Y up, 20 fps; frames are integers, spans half-open [first, end).
"""

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from keymask.conditioning.poses import KeyPose3D
from keymask.conditioning.refine import (
    DEFAULT_EASE,
    KeyTiming,
    PlacedKey,
    PoseTarget,
    key_weights,
    place_key,
    refine_animation,
)
from keymask.core.animation import Animation, animate
from keymask.core.rotations import matrix_to_quat, quat_fix, quat_from_axis_angle, quat_to_matrix

RESOLVE_WINDOW = 20  # frames either side of an edited key that a re-solve may change (1 s at 20 fps)


@dataclass(frozen=True)
class StretchKey:
    """A key pose a re-solve passes the motion through."""

    pose: KeyPose3D
    frame: int
    constrain: str = "body"
    hold: int = 0  # frames the pose is held after `frame`
    ease: int | None = None  # frames of easing either side (None: resolve_stretch's `ease`)


def stale_stretch(n_frames: int, frames: Sequence[int], anchors: Sequence[int] = (),
                  kept: Sequence[tuple[int, int]] = (), window: int = RESOLVE_WINDOW) -> tuple[int, int] | None:
    """[first, end) frames a key edit changes: around `frames` (the key's old and new frame; one for
    a new key or a pose change), up to `window` frames either side, stopping short of the `anchors`
    (other keys' frames) and the `kept` spans. None when every edited frame is kept (nothing to do)."""
    inside_kept = [any(a <= f < b for a, b in kept) for f in frames]
    free = [f for f, k in zip(frames, inside_kept) if not k]
    if not free:
        return None
    low, high = min(free), max(free)
    first, end = max(0, low - window), min(n_frames, high + window + 1)
    for anchor in anchors:
        if anchor < low:
            first = max(first, anchor + 1)
        elif anchor > high:
            end = min(end, anchor)
    for a, b in kept:
        if b <= low:
            first = max(first, b)
        elif a > high:
            end = min(end, a)
    return first, end


def retimed(motion: np.ndarray, stretch: tuple[int, int], moved: tuple[int, int]) -> np.ndarray:
    """(T, J, 3) `motion` with the frames of `stretch` resampled so that what was at frame moved[0]
    is at frame moved[1]; the frames just outside the stretch stay where they are."""
    first, end = stretch
    old, new = moved
    n_frames = len(motion)
    if old == new or not (first <= old < end and first <= new < end):
        return motion
    t = np.arange(first, end, dtype=np.float64)
    source_times = np.interp(t, [first - 1, new, end], [first - 1, old, end])  # (S,) time map, frames
    source_times = np.clip(source_times, 0, n_frames - 1)
    low = np.floor(source_times).astype(int)
    high = np.minimum(low + 1, n_frames - 1)
    weight = (source_times - low)[:, None, None]
    out = motion.copy()
    out[first:end] = motion[low] * (1.0 - weight) + motion[high] * weight
    return out


def _timing(key: StretchKey, ease: int, stretch: tuple[int, int]) -> KeyTiming:
    """The key's hold and ease, clipped so that its weight is zero on the frames just outside the stretch."""
    first, end = stretch
    ease = ease if key.ease is None else key.ease
    hold = max(0, min(key.hold, end - 1 - key.frame))
    return KeyTiming(hold, min(ease, key.frame - first + 1), min(ease, end - (key.frame + hold)))


def _check_stretch(stretch: tuple[int, int], n_frames: int) -> None:
    first, end = stretch
    if not 0 <= first < end <= n_frames:
        raise ValueError(f"The stretch [{first}, {end}) is not inside a motion of {n_frames} frames.")


def resolve_stretch(motion: np.ndarray, keys: Sequence[StretchKey], stretch: tuple[int, int], *,
                    moved: tuple[int, int] | None = None, ease: int = DEFAULT_EASE) -> np.ndarray:
    """(T, J, 3) `motion` re-solved inside `stretch` through the `keys` that lie in it (module
    docstring); `moved` (old frame, new frame) retimes the stretch first. Frames outside the
    stretch are the input's, bit for bit."""
    motion = np.asarray(motion)
    first, end = stretch
    n_frames = len(motion)
    _check_stretch(stretch, n_frames)
    base = retimed(motion.astype(np.float64), stretch, moved) if moved else motion.astype(np.float64)
    inside = sorted((k for k in keys if first <= k.frame < end), key=lambda k: k.frame)
    out = np.array(motion, copy=True)
    if not inside:
        out[first:end] = base[first:end]
        return out

    # 1. The stretch and one unchanged frame either side (where the keys' weights reach zero).
    low, high = max(first - 1, 0), min(end + 1, n_frames)
    part = base[low:high]  # (S, J, 3)
    animation = animate(part)
    fitted = animation.joints()  # F
    placed = [PlacedKey(k.frame - low, place_key(k.pose, animation, k.frame - low, k.constrain),
                        _timing(k, ease, stretch)) for k in inside]
    refined = refine_animation(animation, placed).joints()  # R

    # 2. Blend the rigid fit's error out towards the stretch's ends.
    share = key_weights(placed, len(part)).max(axis=1)[:, None, None]  # (S, 1, 1) s
    blended = part + (refined - fitted) + share * (fitted - part)
    out[first:end] = blended[first - low:end - low].astype(out.dtype)
    return out


def _continuous_power(rotations: np.ndarray, fraction: np.ndarray) -> np.ndarray:
    """(T, J, 3, 3) each rotation's `fraction` (T, 1), turning the same way round from frame to frame: a
    turn near half a circle (an arm from hanging to raised) would otherwise swap its way from one frame
    to the next, and its partial turns with it."""
    quats = quat_fix(matrix_to_quat(rotations))  # (T, J, 4), signs continuous over the frames
    sine = np.linalg.norm(quats[..., 1:], axis=-1)  # (T, J)
    angle = 2.0 * np.arctan2(sine, quats[..., 0])  # up to a whole turn, the way the frames before went
    axis = np.where(sine[..., None] > 1e-12, quats[..., 1:] / np.maximum(sine, 1e-12)[..., None], [1.0, 0.0, 0.0])
    return quat_to_matrix(quat_from_axis_angle(axis, angle * fraction))


def release_stretch(motion: np.ndarray, released: StretchKey, stretch: tuple[int, int], *,
                    ease: int = DEFAULT_EASE) -> np.ndarray:
    """(T, J, 3) `motion` with the pull of a deleted key (`released`) taken out of `stretch` (module
    docstring). Without a frame outside the stretch on one side (it starts or ends the motion) the
    bridge holds the other side's pose and the root keeps its own path. Frames outside the stretch
    are the input's, bit for bit."""
    motion = np.asarray(motion)
    first, end = stretch
    n_frames = len(motion)
    _check_stretch(stretch, n_frames)
    before, after = first > 0, end < n_frames
    if not (before or after):
        return np.array(motion, copy=True)  # nothing outside the stretch to bridge from
    low, high = max(first - 1, 0), min(end + 1, n_frames)
    part = motion[low:high].astype(np.float64)  # (S, J, 3): the stretch and the unchanged frame either side
    animation = animate(part)
    fitted = animation.joints()  # F
    rotations, root = animation.rotations, animation.root
    if before and after:
        along = (np.arange(len(part)) / (len(part) - 1))[:, None]  # (S, 1) from the frame before to the one after
        turn = np.broadcast_to(np.swapaxes(rotations[0], -1, -2) @ rotations[-1], rotations.shape)
        bridge = rotations[0] @ _continuous_power(turn, along)
        bridge_root = root[0] + along * (root[-1] - root[0])
    else:
        bridge = np.broadcast_to(rotations[-1 if after else 0], rotations.shape)
        bridge_root = root
    frame = released.frame - low
    key = PlacedKey(frame, PoseTarget(bridge_root[frame], bridge[frame]), _timing(released, ease, stretch))
    share = key_weights([key], len(part))  # (S, 1)
    missing = np.swapaxes(rotations, -1, -2) @ bridge  # (S, J, 3, 3) from the motion to the bridge, each frame
    released_animation = Animation(root + share * (bridge_root - root),
                                   rotations @ _continuous_power(missing, share), animation.body)
    share = share[:, :, None]  # (S, 1, 1) s
    blended = part + (released_animation.joints() - fitted) + share * (fitted - part)
    out = np.array(motion, copy=True)
    out[first:end] = blended[first - low:end - low].astype(out.dtype)
    return out
