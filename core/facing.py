"""Which way a body faces, and the body turned to face +Z: the facing every pose-level tool uses.

Axes: Y up; heading 0 faces +Z, positive turns towards +X. (core/kinematics.py facing_angles keeps
the official HumanML3D code's variant, whose hip line is reversed, for the features' parity.)
"""

import numpy as np

from keymask.core.rotations import rotate_about_y
from keymask.core.skeleton import FACE_JOINTS, MIRROR_JOINTS


def body_heading(joints: np.ndarray) -> np.ndarray:
    """(...,) heading about +Y in radians (0 = facing +Z) of poses (..., J, 3), from the line
    through the hips plus the line through the shoulders (right to left): the facing a person
    would name. (facing_angles keeps the official code's quirk, for the features' parity.)"""
    right_hip, left_hip, right_shoulder, left_shoulder = FACE_JOINTS
    joints = np.asarray(joints, dtype=np.float64)
    across = (joints[..., right_hip, :] - joints[..., left_hip, :]
              + joints[..., right_shoulder, :] - joints[..., left_shoulder, :])  # towards the right
    return np.arctan2(across[..., 2], -across[..., 0])  # forward = up x across = (across_z, 0, -across_x)


def canonical_pose(joints: np.ndarray) -> np.ndarray:
    """(..., J, 3) poses with the pelvis at the origin, turned about +Y to face +Z."""
    joints = np.asarray(joints, dtype=np.float64)
    return rotate_about_y(joints - joints[..., :1, :], -body_heading(joints)[..., None])


def mirror_in_body_frame(joints: np.ndarray) -> np.ndarray:
    """(..., J, 3) poses mirrored left for right about the vertical plane through the pelvis along
    the body's facing: standing where they stand, facing where they face."""
    joints = np.asarray(joints, dtype=np.float64)
    heading = body_heading(joints)[..., None]
    canonical = rotate_about_y(joints - joints[..., :1, :], -heading)
    mirrored = canonical[..., MIRROR_JOINTS, :] * np.array([-1.0, 1.0, 1.0])
    return rotate_about_y(mirrored, heading) + joints[..., :1, :]
