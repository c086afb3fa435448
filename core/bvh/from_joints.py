"""Joint positions of the 22-joint HumanML3D skeleton -> a BVH motion (and back, by FK).

Axes: input and output are Y up, the rest pose faces +Z with its left at +X (as skeleton.py).
Units: input positions in metres; the BVH is written in metres or centimetres (`units`).
Rotation convention: rotation channels are intrinsic in `rotation_order` (see format.py);
only the root (pelvis) has position channels, and its OFFSET is zero so that readers that add
the OFFSET to the root position and readers that do not agree.

The rest skeleton and rotations are an Animation (core/animation.py): a BVH is written from
one exactly, so what the studio plays (Animation.joints()) is what the file holds.
"""

import numpy as np

from ..animation import Animation, animate, depth_first_order
from ..skeleton import HUMANML3D_SKELETON, Skeleton
from .format import POSITION_CHANNELS, BvhJoint, BvhMotion, BvhSkeleton
from .kinematics import joint_positions, matrices_to_euler

UNIT_SCALES = {"m": 1.0, "cm": 100.0}  # file units per metre
END_SITE_FRACTION = 0.5  # a leaf's End Site continues its bone by this fraction of its length


def joints_to_bvh(
    positions: np.ndarray,
    *,
    fps: float = 20,
    units: str = "m",
    rotation_order: str = "ZXY",
    reference_frames: np.ndarray | None = None,
) -> BvhMotion:
    """A BVH motion whose forward kinematics reproduces `positions` (T, J, 3) metres.

    reference_frames (T,) bool: the frames the rest skeleton is measured on (default: all), e.g.
    the frames of an edit that were kept from a real clip, so that those come back exactly.
    """
    animation = animate(_checked_positions(positions, HUMANML3D_SKELETON), reference_frames)
    return animation_to_bvh(animation, fps=fps, units=units, rotation_order=rotation_order)


def animation_to_bvh(animation: Animation, *, fps: float = 20, units: str = "m", rotation_order: str = "ZXY"
                     ) -> BvhMotion:
    """A BVH motion holding exactly `animation`'s body and rotations."""
    skeleton = HUMANML3D_SKELETON
    scale = _unit_scale(units)
    order = _checked_rotation_order(rotation_order)
    angles = continuous_euler(matrices_to_euler(animation.rotations, order))  # (T, J, 3) degrees
    order_dfs = depth_first_order(skeleton)
    bvh_skeleton = _bvh_skeleton(skeleton, animation.body.offsets * scale, order, order_dfs)
    frames = _frames(animation.root * scale, angles, order_dfs)  # (T, C)
    return BvhMotion(skeleton=bvh_skeleton, frame_time=1.0 / fps, frames=frames)


def bvh_to_joints(motion: BvhMotion, *, units: str = "m", skeleton: Skeleton = HUMANML3D_SKELETON) -> np.ndarray:
    """(T, J, 3) metres in `skeleton` joint order, by FK of a BVH with the same joint names."""
    positions = joint_positions(motion)  # (T, J_bvh, 3) file units
    columns = [motion.skeleton.index(name) for name in skeleton.joint_names]
    return positions[:, columns] / _unit_scale(units)


def continuous_euler(angles: np.ndarray) -> np.ndarray:
    """(T, ..., 3) Euler angles (3 distinct axes) made continuous over time.

    Each frame takes whichever of its two equivalent solutions, (a, b, c) or
    (a + 180, 180 - b, c + 180), lies closest to the solution taken at the previous frame, then
    every angle is shifted by whole turns towards its previous value. The closeness of every
    pair of solutions is computed at once; only the walk through the chosen states is a loop.
    """
    candidates = np.stack([angles, angles * np.array([1.0, -1.0, 1.0]) + 180.0], axis=1)  # (T, 2, ..., 3)
    step = candidates[1:, :, None] - candidates[:-1, None, :]  # (T-1, 2 now, 2 before, ..., 3)
    distance = np.abs((step + 180.0) % 360.0 - 180.0).sum(-1)  # (T-1, 2, 2, ...)
    best_now = distance.argmin(axis=1)  # (T-1, 2 before, ...): the closer solution after each state
    state = np.zeros(angles.shape[1:-1], dtype=int)  # (...)
    states = [state]
    for choices in best_now:
        state = np.take_along_axis(choices, state[None], axis=0)[0]
        states.append(state)
    chosen = np.take_along_axis(candidates, np.stack(states)[:, None, ..., None], axis=1)[:, 0]  # (T, ..., 3)
    return np.unwrap(chosen, period=360.0, axis=0)


def _bvh_skeleton(skeleton: Skeleton, rest_offsets: np.ndarray, order: str, order_dfs: list[int]) -> BvhSkeleton:
    rotation_channels = tuple(f"{axis}rotation" for axis in order)
    position_in_file = {joint: i for i, joint in enumerate(order_dfs)}
    joints = []
    for joint in order_dfs:
        parent = skeleton.parents[joint]
        is_root = parent < 0
        end_site = None
        if not skeleton.children[joint]:
            end_site = tuple(float(v) for v in rest_offsets[joint] * END_SITE_FRACTION)
        joints.append(
            BvhJoint(
                name=skeleton.joint_names[joint],
                parent=-1 if is_root else position_in_file[parent],
                offset=(0.0, 0.0, 0.0) if is_root else tuple(float(v) for v in rest_offsets[joint]),
                channels=(POSITION_CHANNELS + rotation_channels) if is_root else rotation_channels,
                end_site=end_site,
            )
        )
    return BvhSkeleton(tuple(joints))


def _frames(root_positions: np.ndarray, angles: np.ndarray, order_dfs: list[int]) -> np.ndarray:
    """(T, 3 + 3J) root position then each joint's angles, joints in file order."""
    return np.concatenate([root_positions, angles[:, order_dfs].reshape(len(angles), -1)], axis=1)


def _checked_positions(positions: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    positions = np.asarray(positions, dtype=np.float64)
    if positions.ndim != 3 or positions.shape[1:] != (skeleton.n_joints, 3) or positions.shape[0] == 0:
        raise ValueError(f"positions must have shape (T, {skeleton.n_joints}, 3) with T >= 1, got {positions.shape}")
    if not np.isfinite(positions).all():
        raise ValueError("positions contain NaN or infinite values")
    return positions


def _unit_scale(units: str) -> float:
    if units not in UNIT_SCALES:
        raise ValueError(f"units must be one of {sorted(UNIT_SCALES)}, got {units!r}")
    return UNIT_SCALES[units]


def _checked_rotation_order(rotation_order: str) -> str:
    order = rotation_order.upper()
    if sorted(order) != ["X", "Y", "Z"]:
        raise ValueError(f"rotation_order must be a permutation of XYZ such as 'ZXY', got {rotation_order!r}")
    return order
