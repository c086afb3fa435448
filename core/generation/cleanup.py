"""Clean-up of generated joint positions: light temporal smoothing, rigid bones and foot locking.

The decoder's motions tremble a little at token boundaries and their planted feet slide (both
measured by `keymask eval`). In order:
1. smoothing: a Gaussian over time on every joint;
2. rigid bones: the motion is played on one body (core/animation.py rigid_joints: every bone at its
   median length, the hips and collars at fixed places on the pelvis and chest), so the joints
   are exactly those the exported BVH gives back (the decoder's joints stretch a few per cent);
3. root: a foot is planted in runs of frames where its lowest joint is below `contact_height`
   and it moves slower than `contact_speed`; the whole body is moved back by how far its
   planted feet slid, so it travels as far as its steps carry it;
4. foot locking: each planted foot is held where its run's middle frame puts it (horizontally)
   and the leg bends to reach it by two-bone IK (hip, knee, ankle; the toe follows the ankle);
   the correction fades in and out over `blend_frames` around each run so nothing pops
   (`lock_strength` < 1 pulls the foot only that share of the way: paths.py).
"""

from dataclasses import dataclass

import numpy as np

from keymask.core.animation import rigid_joints
from keymask.core.skeleton import LEFT_FOOT_JOINTS, RIGHT_FOOT_JOINTS
from keymask.core.spec import HUMANML3D

LEFT_LEG = (1, 4, *LEFT_FOOT_JOINTS)  # hip, knee, ankle, toe
RIGHT_LEG = (2, 5, *RIGHT_FOOT_JOINTS)


@dataclass(frozen=True)
class CleanupSettings:
    smoothing_sigma: float = 1.0  # frames; 0 turns smoothing off
    rigid_bones: bool = True  # every bone at its median length in every frame
    foot_locking: bool = True
    contact_height: float = 0.05  # metres above the floor (y = 0)
    contact_speed: float = 1.2  # m/s: a foot moving faster is swinging, not planted
    fps: int = HUMANML3D.fps
    min_contact_frames: int = 2
    blend_frames: int = 3
    lock_strength: float = 1.0  # share of the way a planted foot is pulled back to its anchor (1: held still)


def smooth_positions(joints: np.ndarray, sigma: float) -> np.ndarray:
    """(T, ...) -> (T, ...) Gaussian-smoothed over time (edges held), sigma in frames."""
    if sigma <= 0 or len(joints) < 3:
        return joints.copy()
    radius = int(np.ceil(3 * sigma))
    offsets = np.arange(-radius, radius + 1)
    weights = np.exp(-0.5 * (offsets / sigma) ** 2)
    weights /= weights.sum()
    padded = np.concatenate([np.repeat(joints[:1], radius, 0), joints, np.repeat(joints[-1:], radius, 0)])
    return sum(w * padded[radius + o: radius + o + len(joints)] for o, w in zip(offsets, weights))


def foot_contact_runs(foot: np.ndarray, settings: CleanupSettings) -> list[tuple[int, int]]:
    """foot (T, K, 3) positions of a foot's joints -> [start, end) runs of frames where it is planted:
    its lowest joint below contact_height and its horizontal speed below contact_speed."""
    heights = foot[..., 1].min(-1)  # (T,)
    centre = foot[..., [0, 2]].mean(1)  # (T, 2)
    step = np.linalg.norm(np.diff(centre, axis=0), axis=-1) * settings.fps  # (T-1,) m/s
    speed = np.concatenate([step[:1], np.minimum(step[:-1], step[1:]), step[-1:]]) if len(step) else np.zeros(1)
    return contact_runs(np.where(speed[: len(heights)] < settings.contact_speed, heights, np.inf),
                        settings.contact_height, settings.min_contact_frames)


def contact_runs(heights: np.ndarray, threshold: float, min_frames: int) -> list[tuple[int, int]]:
    """(T,) heights -> [start, end) runs of at least min_frames frames below threshold."""
    low = np.concatenate([[False], heights < threshold, [False]])
    edges = np.flatnonzero(np.diff(low.astype(np.int8)))
    return [(int(s), int(e)) for s, e in zip(edges[::2], edges[1::2]) if e - s >= min_frames]


def two_bone_ik(hip: np.ndarray, knee: np.ndarray, ankle_target: np.ndarray, thigh: np.ndarray,
                shin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3) points, (N,) lengths -> (knee, ankle) (N, 3) each: the ankle as close to the target as
    the leg reaches, the knee bent in the plane the original knee gives."""
    reach = ankle_target - hip
    distance = np.linalg.norm(reach, axis=-1, keepdims=True)
    direction = reach / np.maximum(distance, 1e-9)
    distance = np.clip(distance, np.abs(thigh - shin)[:, None] + 1e-6, (thigh + shin)[:, None] - 1e-6)
    along = (thigh[:, None] ** 2 - shin[:, None] ** 2 + distance**2) / (2 * distance)
    radius = np.sqrt(np.maximum(thigh[:, None] ** 2 - along**2, 0.0))
    pole = (knee - hip) - ((knee - hip) * direction).sum(-1, keepdims=True) * direction
    pole /= np.maximum(np.linalg.norm(pole, axis=-1, keepdims=True), 1e-9)
    new_knee = hip + along * direction + radius * pole
    return new_knee, hip + distance * direction


def _blend_weights(n_frames: int, runs: list[tuple[int, int]], blend: int) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: how much of the lock applies (0..1) and which run it belongs to (-1: none)."""
    weight, owner = np.zeros(n_frames), np.full(n_frames, -1)
    for index, (start, end) in enumerate(runs):
        for t in range(max(0, start - blend), min(n_frames, end + blend)):
            w = 1.0 if start <= t < end else 1.0 - (start - t if t < start else t - end + 1) / (blend + 1)
            if w > weight[t]:
                weight[t], owner[t] = w, index
    return weight, owner


def _reachable_share(hip_to_ankle: np.ndarray, shift: np.ndarray, reach: np.ndarray) -> np.ndarray:
    """(N,) largest share a in [0, 1] of `shift` with |hip_to_ankle + a shift| <= reach: where the
    leg cannot reach the anchor the foot slides a little rather than lifting off the floor."""
    a = (shift**2).sum(-1)
    b = 2 * (hip_to_ankle * shift).sum(-1)
    c = (hip_to_ankle**2).sum(-1) - reach**2
    root = np.sqrt(np.maximum(b**2 - 4 * a * c, 0.0))
    share = np.where(a > 1e-12, (-b + root) / np.maximum(2 * a, 1e-12), 1.0)
    return np.where(c > 0, 0.0, np.clip(share, 0.0, 1.0))


def lock_feet(joints: np.ndarray, settings: CleanupSettings = CleanupSettings()) -> np.ndarray:
    """(T, J, 3) -> (T, J, 3) with planted feet held still (horizontally) by leg IK."""
    out = joints.copy()
    for hip_j, knee_j, ankle_j, toe_j in (LEFT_LEG, RIGHT_LEG):
        foot = joints[:, [ankle_j, toe_j]]  # (T, 2, 3)
        runs = foot_contact_runs(foot, settings)
        if not runs:
            continue
        weight, owner = _blend_weights(len(joints), runs, settings.blend_frames)
        anchors = np.array([foot[(s + e - 1) // 2].mean(0) for s, e in runs])  # (runs, 3)
        frames = np.flatnonzero(owner >= 0)
        shift = anchors[owner[frames]] - foot[frames].mean(1)  # (F, 3)
        shift[:, 1] = 0.0  # heights stay as generated
        shift *= settings.lock_strength * weight[frames, None]
        thigh = np.linalg.norm(joints[frames, knee_j] - joints[frames, hip_j], axis=-1)
        shin = np.linalg.norm(joints[frames, ankle_j] - joints[frames, knee_j], axis=-1)
        shift *= _reachable_share(joints[frames, ankle_j] - joints[frames, hip_j], shift, 0.999 * (thigh + shin))[:, None]
        knee, ankle = two_bone_ik(joints[frames, hip_j], joints[frames, knee_j], joints[frames, ankle_j] + shift,
                                  thigh, shin)
        out[frames, knee_j] = knee
        out[frames, toe_j] = joints[frames, toe_j] + (ankle - joints[frames, ankle_j])
        out[frames, ankle_j] = ankle
    return out


def stop_root_sliding(joints: np.ndarray, settings: CleanupSettings = CleanupSettings()) -> np.ndarray:
    """(T, J, 3) -> (T, J, 3) with the whole body moved back, frame by frame, by how far its planted
    feet slid horizontally (their mean, when both are down): a body that outruns its steps
    travels as far as its steps carry it."""
    slides = []
    for _, _, ankle_j, toe_j in (LEFT_LEG, RIGHT_LEG):
        foot = joints[:, [ankle_j, toe_j]].mean(1)  # (T, 3)
        down = np.zeros(len(joints), dtype=bool)
        for start, end in foot_contact_runs(joints[:, [ankle_j, toe_j]], settings):
            down[start:end] = True
        planted = down[:-1] & down[1:]  # (T-1,) on the floor in both frames
        slides.append((np.diff(foot, axis=0), planted))
    moved = sum(np.where(p[:, None], d, 0.0) for d, p in slides)  # (T-1, 3)
    count = sum(p.astype(float) for _, p in slides)[:, None]
    correction = -np.where(count > 0, moved / np.maximum(count, 1), 0.0)
    correction[:, 1] = 0.0
    offsets = np.concatenate([np.zeros((1, 3)), np.cumsum(correction, axis=0)])  # (T, 3)
    return joints + offsets[:, None]


def clean_motion(joints: np.ndarray, settings: CleanupSettings = CleanupSettings()) -> np.ndarray:
    """(T, J, 3) generated joints -> smoothed, bones rigid, body held back by its planted feet,
    feet locked."""
    cleaned = smooth_positions(np.asarray(joints, dtype=np.float64), settings.smoothing_sigma)
    if settings.rigid_bones:
        cleaned = rigid_joints(cleaned)
    if settings.foot_locking:
        cleaned = lock_feet(stop_root_sliding(cleaned, settings), settings)
    return cleaned.astype(np.asarray(joints).dtype)
