"""Forward and inverse kinematics of the HumanML3D skeleton, as the HumanML3D processing does it.

Positions are (T, J, 3) in metres, Y up. Local rotations are (T, J, 4) quaternions. The
root's rotation turns the body to face +Z; each chain then starts again from the root's
rotation (also the arm chains, which begin at spine3): this is HumanML3D's convention, kept
so our rotations mean what the official ones mean.
"""

import numpy as np

from keymask.core.rotations import quat_between, quat_inverse, quat_multiply, quat_rotate
from keymask.core.skeleton import FACE_JOINTS, HUMANML3D_SKELETON, MIRROR_JOINTS, Skeleton

FORWARD_SMOOTHING_SIGMA = 20.0  # frames, HumanML3D's smoothing of the facing direction


def offsets_from_joints(joints: np.ndarray, skeleton: Skeleton = HUMANML3D_SKELETON) -> np.ndarray:
    """(..., J, 3) bone offsets: each raw rest direction times the measured bone length.

    The measured direction is dropped on purpose: the skeleton keeps its rest directions and
    takes only the bone lengths from the pose.
    """
    joints = np.asarray(joints, dtype=np.float64)
    parents = np.array(skeleton.parents)
    parents[0] = 0  # the root's offset is zero either way
    lengths = np.linalg.norm(joints - joints[..., parents, :], axis=-1, keepdims=True)  # (..., J, 1)
    return skeleton.raw_offsets_array() * lengths


def forward_kinematics(
    local_quats: np.ndarray,
    root_positions: np.ndarray,
    offsets: np.ndarray,
    skeleton: Skeleton = HUMANML3D_SKELETON,
) -> np.ndarray:
    """(..., J, 3) joint positions from local rotations (..., J, 4), root (..., 3), offsets ((...,) J, 3)."""
    local_quats = np.asarray(local_quats, dtype=np.float64)
    offsets = np.asarray(offsets, dtype=np.float64)
    joints = np.zeros(local_quats.shape[:-1] + (3,))
    joints[..., 0, :] = root_positions
    for chain in skeleton.kinematic_chains:
        rotation = local_quats[..., 0, :]
        for parent, child in zip(chain[:-1], chain[1:]):
            rotation = quat_multiply(rotation, local_quats[..., child, :])
            joints[..., child, :] = joints[..., parent, :] + quat_rotate(rotation, offsets[..., child, :])
    return joints


def facing_directions(
    joints: np.ndarray, *, face_joints: tuple[int, int, int, int] = FACE_JOINTS, smooth: bool = False
) -> np.ndarray:
    """(T, 3) unit horizontal facing direction per frame, as the official IK computes it.

    face_joints is (right hip, left hip, right shoulder, left shoulder), but the official IK
    unpacks it as (left hip, right hip, ...), so its hip vector points left while the shoulder
    vector points right; the sum still points right when the shoulders are wider than the hips.
    Kept for parity: it decides the root rotation stored in the features.
    """
    first, second, right_shoulder, left_shoulder = face_joints
    across = (joints[:, second] - joints[:, first]) + (joints[:, right_shoulder] - joints[:, left_shoulder])
    across = across / np.linalg.norm(across, axis=-1, keepdims=True)  # (T, 3)
    forward = np.cross(np.array([0.0, 1.0, 0.0]), across)  # (T, 3)
    if smooth:
        from scipy.ndimage import gaussian_filter1d  # imported here: generation never smooths, and it is slow to load

        forward = gaussian_filter1d(forward, FORWARD_SMOOTHING_SIGMA, axis=0, mode="nearest")
    return forward / np.linalg.norm(forward, axis=-1, keepdims=True)


def facing_angles(joints: np.ndarray) -> np.ndarray:
    """(T,) heading about +Y in radians of each frame's facing direction (0 when facing +Z)."""
    forward = facing_directions(joints)  # (T, 3)
    return np.arctan2(forward[:, 0], forward[:, 2])


def inverse_kinematics(
    joints: np.ndarray,
    *,
    face_joints: tuple[int, int, int, int] = FACE_JOINTS,
    smooth_forward: bool = False,
    skeleton: Skeleton = HUMANML3D_SKELETON,
) -> np.ndarray:
    """(T, J, 4) local rotations whose forward kinematics reproduces every bone direction of joints (T, J, 3).

    Closed-form swing IK: the root turns the facing direction onto +Z, and each bone gets the
    shortest-arc rotation from its rest direction to its measured one, relative to its parent.
    Twist about a bone is never recovered. Frame 0's root rotation is the identity, as in the
    official code (the features of frame 0 keep its true facing only in the positions).
    """
    joints = np.asarray(joints, dtype=np.float64)
    n_frames = joints.shape[0]
    root = quat_between(facing_directions(joints, face_joints=face_joints, smooth=smooth_forward), [0.0, 0.0, 1.0])
    root[0] = (1.0, 0.0, 0.0, 0.0)
    raw_offsets = skeleton.raw_offsets_array()
    local = np.zeros(joints.shape[:-1] + (4,))  # (T, J, 4)
    local[:, 0] = root
    for chain in skeleton.kinematic_chains:
        parent_world = root
        for parent, child in zip(chain[:-1], chain[1:]):
            bone = joints[:, child] - joints[:, parent]
            bone = bone / np.linalg.norm(bone, axis=-1, keepdims=True)  # (T, 3)
            world = quat_between(np.broadcast_to(raw_offsets[child], (n_frames, 3)), bone)
            local[:, child] = quat_multiply(quat_inverse(parent_world), world)
            parent_world = quat_multiply(parent_world, local[:, child])
    return local


def mirror_joints(positions: np.ndarray) -> np.ndarray:
    """(..., J, 3) the left-right mirror image: X negated and left/right joints swapped."""
    mirrored = np.array(positions, dtype=np.float64)[..., MIRROR_JOINTS, :]
    mirrored[..., 0] *= -1.0
    return mirrored
