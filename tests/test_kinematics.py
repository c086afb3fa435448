"""Forward/inverse kinematics of the HumanML3D skeleton and mirroring."""

import numpy as np
import pytest

from keymask.core import kinematics as kin
from keymask.core.rotations import quat_from_axis_angle, quat_identity, quat_rotate
from keymask.core.skeleton import HUMANML3D_SKELETON as SKELETON
from keymask.core.skeleton import MIRROR_JOINTS, target_offsets

J = SKELETON.n_joints


def random_motion(n_frames=12, seed=0, max_angle=0.6) -> np.ndarray:
    """(T, J, 3) a plausible motion: the target skeleton under moderate random local rotations."""
    rng = np.random.default_rng(seed)
    local = quat_from_axis_angle(rng.normal(size=(n_frames, J, 3)), rng.uniform(-max_angle, max_angle, (n_frames, J)))
    yaw = np.linspace(0.0, 1.5, n_frames)  # the body turns about Y over the clip
    local[:, 0] = quat_from_axis_angle(np.array([0.0, 1.0, 0.0]), yaw)
    root = np.stack([np.linspace(0, 1, n_frames), np.full(n_frames, 0.9), np.linspace(0, 2, n_frames)], -1)
    return kin.forward_kinematics(local, root, target_offsets())


def bone_directions(joints: np.ndarray) -> np.ndarray:
    parents = list(SKELETON.parents)
    bones = joints[..., 1:, :] - joints[..., parents[1:], :]
    return bones / np.linalg.norm(bones, axis=-1, keepdims=True)


def test_offsets_from_joints_keep_rest_directions_and_measured_lengths():
    joints = random_motion(n_frames=1)[0]
    offsets = kin.offsets_from_joints(joints)
    np.testing.assert_allclose(offsets, target_offsets(), atol=1e-12)  # FK preserved the bone lengths
    np.testing.assert_array_equal(offsets[0], 0.0)
    scaled = kin.offsets_from_joints(joints * 2.0)
    np.testing.assert_allclose(scaled, 2.0 * target_offsets(), atol=1e-12)


def test_forward_kinematics_of_identity_is_the_rest_pose():
    root = np.array([[0.1, 0.9, -0.3]])
    joints = kin.forward_kinematics(quat_identity((1, J)), root, target_offsets())
    parents = SKELETON.parents
    for j in range(1, J):
        np.testing.assert_allclose(joints[0, j] - joints[0, parents[j]], target_offsets()[j], atol=1e-12)
    np.testing.assert_allclose(joints[0, 0], root[0])


def test_forward_kinematics_is_rotated_by_the_root():
    local = quat_from_axis_angle(np.random.default_rng(1).normal(size=(1, J, 3)), 0.4)
    local[:, 0] = quat_identity((1,))
    base = kin.forward_kinematics(local, np.zeros((1, 3)), target_offsets())
    turn = quat_from_axis_angle(np.array([0.2, 1.0, 0.1]), 1.1)
    local[:, 0] = turn
    turned = kin.forward_kinematics(local, np.zeros((1, 3)), target_offsets())
    np.testing.assert_allclose(turned, quat_rotate(turn, base), atol=1e-12)


@pytest.mark.parametrize("smooth", [False, True])
def test_fk_of_ik_reproduces_bone_directions(smooth):
    joints = random_motion(seed=2)
    local = kin.inverse_kinematics(joints, smooth_forward=smooth)
    np.testing.assert_allclose(np.linalg.norm(local, axis=-1), 1.0, atol=1e-12)
    # Other bone lengths: directions must still match.
    rebuilt = kin.forward_kinematics(local, joints[:, 0], 1.3 * target_offsets())
    np.testing.assert_allclose(bone_directions(rebuilt), bone_directions(joints), atol=1e-10)
    # Same bone lengths: the positions themselves come back.
    rebuilt = kin.forward_kinematics(local, joints[:, 0], target_offsets())
    np.testing.assert_allclose(rebuilt, joints, atol=1e-10)


def test_ik_root_faces_forward_except_frame_zero():
    joints = random_motion(seed=3)
    local = kin.inverse_kinematics(joints)
    np.testing.assert_array_equal(local[0, 0], [1.0, 0.0, 0.0, 0.0])  # official quirk
    facing = kin.facing_directions(joints)
    np.testing.assert_allclose(quat_rotate(local[1:, 0], facing[1:]), np.tile([0.0, 0.0, 1.0], (11, 1)), atol=1e-12)
    # The root rotation is a pure yaw: it moves no vector off its height.
    np.testing.assert_allclose(local[:, 0, [1, 3]], 0.0, atol=1e-12)


def test_rest_pose_faces_plus_z_despite_the_swapped_hips():
    rest = kin.forward_kinematics(quat_identity((1, J)), np.zeros((1, 3)), target_offsets())
    np.testing.assert_allclose(kin.facing_directions(rest), [[0.0, 0.0, 1.0]], atol=1e-12)


def test_smoothing_leaves_a_constant_facing_unchanged():
    joints = random_motion(seed=4, max_angle=0.0)  # rest pose turning about Y
    still = joints - joints[:, :1] + joints[:1, :1]
    still = np.repeat(still[:1], 12, axis=0)
    np.testing.assert_allclose(
        kin.inverse_kinematics(still, smooth_forward=True)[1:], kin.inverse_kinematics(still)[1:], atol=1e-12
    )
    # On a turning motion the smoothed facing lags behind the raw one.
    raw, smoothed = kin.facing_directions(joints), kin.facing_directions(joints, smooth=True)
    assert np.abs(raw - smoothed).max() > 0.05


def test_mirror_twice_is_identity_and_swaps_sides():
    joints = random_motion(seed=5)
    mirrored = kin.mirror_joints(joints)
    np.testing.assert_allclose(kin.mirror_joints(mirrored), joints, atol=0)
    left_hip, right_hip = SKELETON.index("left_hip"), SKELETON.index("right_hip")
    np.testing.assert_allclose(mirrored[:, left_hip], joints[:, right_hip] * [-1.0, 1.0, 1.0])
    # Each bone keeps its length, now on the other side.
    lengths = np.linalg.norm(kin.offsets_from_joints(joints), axis=-1)  # (T, J)
    np.testing.assert_allclose(
        np.linalg.norm(kin.offsets_from_joints(mirrored), axis=-1), lengths[:, MIRROR_JOINTS], atol=1e-12
    )


def test_mirror_of_a_symmetric_rest_pose_is_itself():
    lengths = np.linalg.norm(target_offsets(), axis=-1)
    symmetric_lengths = 0.5 * (lengths + lengths[list(MIRROR_JOINTS)])  # the target skeleton is not symmetric
    offsets = SKELETON.raw_offsets_array() * symmetric_lengths[:, None]
    rest = kin.forward_kinematics(quat_identity((1, J)), np.zeros((1, 3)), offsets)
    np.testing.assert_allclose(kin.mirror_joints(rest), rest, atol=1e-12)
