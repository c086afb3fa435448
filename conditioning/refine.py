"""Make a decoded motion pass exactly through its key poses, smoothly.

Fixed tokens bring the motion near each key pose; the decoder's output still differs by a few
centimetres. Refinement measures, at every key frame, how far each joint is from its target and
adds that offset to the neighbouring frames with a smooth window (cos^2, zero slope at its ends),
so the key frame is hit exactly and the correction fades out over `radius` frames on either side.
When windows of nearby keys overlap, the offsets are solved together (a small linear system over
the keys) so that every key is still hit exactly.

Where the target sits in the world (`place_key_pose`):
The key pose first takes the motion's bone lengths (its bone directions are kept): a lifted or
drawn pose has its own proportions, and the exported BVH has one skeleton.
- "body" (default): only the pose counts. The key pose is turned to the motion's own facing at
  that frame and put where the motion's pelvis is, at the height that keeps its lowest joint at
  the motion's lowest joint in that frame (a crouch sinks, it does not float);
- "root": the key's own root position and facing (relative to the motion's start: origin, +Z).
All functions are pure and work on joint positions (T, J, 3), metres, Y up.
"""

from dataclasses import dataclass

import numpy as np

from keymask.conditioning.poses import KeyPose3D
from keymask.core.skeleton import FACE_JOINTS, HUMANML3D_SKELETON

CONSTRAINTS = ("body", "root")


@dataclass(frozen=True)
class PlacedKey:
    frame: int
    target: np.ndarray  # (J, 3) world positions the motion must reach at `frame`


def heading(pose: np.ndarray) -> float:
    """Facing angle about +Y (radians, 0 = +Z) of one pose (J, 3), from its hips and shoulders."""
    right_hip, left_hip, right_shoulder, left_shoulder = FACE_JOINTS
    across = (pose[right_hip] - pose[left_hip]) + (pose[right_shoulder] - pose[left_shoulder])
    forward = np.cross([0.0, 1.0, 0.0], across)  # (3,)
    return float(np.arctan2(forward[0], forward[2]))


def turn_about_y(points: np.ndarray, angle: float) -> np.ndarray:
    """Rotate points (..., 3) by `angle` radians about +Y (+Z turns towards +X)."""
    c, s = np.cos(angle), np.sin(angle)
    x, y, z = points[..., 0], points[..., 1], points[..., 2]
    return np.stack([c * x + s * z, y, -s * x + c * z], axis=-1)


def canonical_pose(pose: np.ndarray) -> np.ndarray:
    """(J, 3) pose with the pelvis at the origin, turned to face +Z."""
    centred = np.asarray(pose, dtype=np.float64) - pose[0]
    return turn_about_y(centred, -heading(pose))


def with_bone_lengths(pose: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(J, 3) `pose` with each bone's direction kept and its length taken from `reference` (J, 3)."""
    out = np.array(pose, dtype=np.float64)
    for child, parent in enumerate(HUMANML3D_SKELETON.parents):
        if parent < 0:
            continue
        bone = pose[child] - pose[parent]
        length = np.linalg.norm(reference[child] - reference[parent])
        out[child] = out[parent] + bone / max(np.linalg.norm(bone), 1e-9) * length
    return out


def pose_error(pose: np.ndarray, target: np.ndarray) -> float:
    """Mean joint distance (m) between two poses (J, 3) once both pelvises are at the origin and
    `pose` is turned about +Y to face the way that fits `target` best: the body-only error."""
    a = np.asarray(pose, dtype=np.float64) - pose[0]
    b = np.asarray(target, dtype=np.float64) - target[0]
    angle = np.arctan2((b[:, 0] * a[:, 2] - b[:, 2] * a[:, 0]).sum(), (b[:, 0] * a[:, 0] + b[:, 2] * a[:, 2]).sum())
    return float(np.linalg.norm(turn_about_y(a, angle) - b, axis=-1).mean())


def place_key_pose(key: KeyPose3D, motion_frame: np.ndarray, constrain: str = "body") -> np.ndarray:
    """World target (J, 3) for `key` at a frame whose decoded pose is `motion_frame` (J, 3)."""
    if constrain not in CONSTRAINTS:
        raise ValueError(f"A key pose constrains {' or '.join(CONSTRAINTS)}, not {constrain!r}.")
    pose = canonical_pose(with_bone_lengths(key.joints, motion_frame))
    if constrain == "root" and key.root_position is not None:
        angle = key.facing if key.facing is not None else heading(motion_frame)
        return turn_about_y(pose, angle) + np.asarray(key.root_position, dtype=np.float64)
    placed = turn_about_y(pose, heading(motion_frame)) + motion_frame[0] * np.array([1.0, 0.0, 1.0])
    placed[:, 1] += motion_frame[:, 1].min() - placed[:, 1].min()  # lowest joint where the motion's is
    return placed


def key_window(distance: np.ndarray, radius: int) -> np.ndarray:
    """cos^2 falloff: 1 at distance 0, 0 from `radius` frames on, with zero slope at both ends."""
    x = np.clip(np.abs(distance) / max(radius, 1), 0.0, 1.0)
    return np.cos(0.5 * np.pi * x) ** 2


def refine_to_keys(joints: np.ndarray, keys: list[PlacedKey], radius: int = 10) -> np.ndarray:
    """(T, J, 3) motion changed so that frame k.frame equals k.target for every key, exactly."""
    if not keys:
        return joints.copy()
    frames = np.array([k.frame for k in keys])
    offsets = np.stack([k.target - joints[k.frame] for k in keys])  # (K, J, 3) needed at each key
    influence = key_window(frames[:, None] - frames[None, :], radius)  # (K, K): key b's window at key a
    solved = np.linalg.solve(influence, offsets.reshape(len(keys), -1)).reshape(offsets.shape)  # (K, J, 3)
    weights = key_window(np.arange(len(joints))[:, None] - frames[None, :], radius)  # (T, K)
    return joints + np.einsum("tk,kjc->tjc", weights, solved)
