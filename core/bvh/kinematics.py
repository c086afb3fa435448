"""BVH forward kinematics: channel values -> local rotations -> global joint transforms.

Axes and units: the file's own (no conversion); angles in degrees.
Rotation convention: rotation channels are intrinsic in their listed order, so a joint with
`Zrotation Xrotation Yrotation` has the local rotation R = Rz @ Rx @ Ry acting on column
vectors. A joint's local translation is its OFFSET, except that position channels, where a
joint has them, replace the matching OFFSET components (the Bandai files carry position
channels on every joint whose values equal the offsets; the root's carry the motion).
Global: R_j = R_parent @ L_j and p_j = p_parent + R_parent @ t_j.
"""

import numpy as np

from .format import BvhMotion, channel_axis, is_position_channel


def axis_rotations(angles_deg: np.ndarray, axis: str) -> np.ndarray:
    """(..., 3, 3) rotations by `angles_deg` (...) about the X, Y or Z axis."""
    radians = np.deg2rad(angles_deg)
    cos, sin = np.cos(radians), np.sin(radians)
    one, zero = np.ones_like(radians), np.zeros_like(radians)
    rows = {
        "X": ((one, zero, zero), (zero, cos, -sin), (zero, sin, cos)),
        "Y": ((cos, zero, sin), (zero, one, zero), (-sin, zero, cos)),
        "Z": ((cos, -sin, zero), (sin, cos, zero), (zero, zero, one)),
    }[axis]
    return np.stack([np.stack(row, axis=-1) for row in rows], axis=-2)  # (..., 3, 3)


def euler_to_matrices(angles_deg: np.ndarray, order: str) -> np.ndarray:
    """(..., 3, 3) from (..., K) angles, intrinsic in `order` (K letters, e.g. 'ZXY')."""
    matrices = np.broadcast_to(np.eye(3), angles_deg.shape[:-1] + (3, 3)).copy()
    for k, axis in enumerate(order):
        matrices = matrices @ axis_rotations(angles_deg[..., k], axis)
    return matrices


def matrices_to_euler(matrices: np.ndarray, order: str) -> np.ndarray:
    """(..., 3) angles in degrees, intrinsic in the 3-letter `order`, from (..., 3, 3) rotations.

    With R = Ra(α) Rb(β) Rc(γ) and axes i, j, k of the order, sign s = +1 for a cyclic order
    (XYZ, YZX, ZXY) and -1 otherwise: sin β = s R[i,k], tan α = -s R[j,k] / R[k,k] and
    tan γ = -s R[i,j] / R[i,i]. At β = ±90° only α ± γ is defined: γ = 0 there.
    """
    i, j, k = ("XYZ".index(axis) for axis in order.upper())
    s = 1.0 if (j - i) % 3 == 1 else -1.0
    m = np.asarray(matrices, dtype=np.float64)
    sin_b = np.clip(s * m[..., i, k], -1.0, 1.0)
    beta = np.arcsin(sin_b)
    alpha = np.arctan2(-s * m[..., j, k], m[..., k, k])
    gamma = np.arctan2(-s * m[..., i, j], m[..., i, i])
    locked = np.abs(sin_b) > 1.0 - 1e-9
    if np.any(locked):  # gimbal lock: Ra(α) Rb(±90°) alone, read α from the j-th column
        gamma = np.where(locked, 0.0, gamma)
        alpha = np.where(locked, np.arctan2(s * m[..., k, j], m[..., j, j]), alpha)
    return np.rad2deg(np.stack([alpha, beta, gamma], axis=-1))


def local_rotations(motion: BvhMotion) -> np.ndarray:
    """(T, J, 3, 3) each joint's rotation relative to its parent."""
    skeleton = motion.skeleton
    rotations = np.broadcast_to(np.eye(3), (motion.n_frames, skeleton.n_joints, 3, 3)).copy()
    for j, joint in enumerate(skeleton.joints):
        if not joint.rotation_order:
            continue
        values = motion.joint_channels(j)  # (T, K)
        angles = values[:, [k for k, c in enumerate(joint.channels) if not is_position_channel(c)]]
        rotations[:, j] = euler_to_matrices(angles, joint.rotation_order)
    return rotations


def local_translations(motion: BvhMotion) -> np.ndarray:
    """(T, J, 3) each joint's position in its parent's frame: OFFSET, replaced by position channels."""
    skeleton = motion.skeleton
    translations = np.broadcast_to(skeleton.offsets_array(), (motion.n_frames, skeleton.n_joints, 3)).copy()
    for j, joint in enumerate(skeleton.joints):
        values = motion.joint_channels(j)  # (T, K)
        for k, channel in enumerate(joint.channels):
            if is_position_channel(channel):
                translations[:, j, channel_axis(channel)] = values[:, k]
    return translations


def forward_kinematics(
    parents: tuple[int, ...], rotations: np.ndarray, translations: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Global (T, J, 3, 3) rotations and (T, J, 3) positions from local ones; parents precede children."""
    global_rotations = np.empty_like(rotations)
    positions = np.empty_like(translations)
    for j, parent in enumerate(parents):
        if parent < 0:
            global_rotations[:, j] = rotations[:, j]
            positions[:, j] = translations[:, j]
        else:
            global_rotations[:, j] = global_rotations[:, parent] @ rotations[:, j]
            positions[:, j] = positions[:, parent] + np.einsum("tab,tb->ta", global_rotations[:, parent], translations[:, j])
    return global_rotations, positions


def global_transforms(motion: BvhMotion) -> tuple[np.ndarray, np.ndarray]:
    """Global (T, J, 3, 3) rotations and (T, J, 3) positions of every joint of a BVH motion."""
    return forward_kinematics(motion.skeleton.parents, local_rotations(motion), local_translations(motion))


def joint_positions(motion: BvhMotion) -> np.ndarray:
    """(T, J, 3) global joint positions, file units."""
    return global_transforms(motion)[1]


def end_site_positions(motion: BvhMotion) -> dict[int, np.ndarray]:
    """Joint index -> (T, 3) global position of its End Site, for joints that have one."""
    rotations, positions = global_transforms(motion)
    return {
        j: positions[:, j] + rotations[:, j] @ np.asarray(joint.end_site)
        for j, joint in enumerate(motion.skeleton.joints)
        if joint.end_site is not None
    }
