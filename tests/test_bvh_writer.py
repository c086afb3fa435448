"""BVH writer: write -> read identity, atomic writes, and joints_to_bvh on real and synthetic motion."""

import os

import numpy as np
import pytest
from bvh_samples import SMALL_BVH

from keymask.core import fileio
from keymask.core.bvh.format import BvhMotion
from keymask.core.bvh.from_joints import bvh_to_joints, joints_to_bvh
from keymask.core.bvh.kinematics import axis_rotations
from keymask.core.bvh.reader import parse_bvh, read_bvh
from keymask.core.bvh.writer import BvhWriteError, format_bvh, write_bvh
from keymask.core.data.retarget import bandai_to_humanml3d
from keymask.core.skeleton import HUMANML3D_SKELETON

WALK_CLIP = "dataset-1_walk_normal_001.bvh"
MM = 1e-3


@pytest.fixture(scope="module")
def walk_joints(bandai_clip) -> np.ndarray:
    return bandai_to_humanml3d(read_bvh(bandai_clip(WALK_CLIP)))  # (T, 22, 3) metres


def _random_frames(motion: BvhMotion, seed: int = 0) -> BvhMotion:
    frames = np.random.default_rng(seed).uniform(-180, 180, size=(7, motion.skeleton.n_channels))
    return motion.with_frames(frames)


def test_write_then_read_gives_the_same_motion(tmp_path):
    motion = _random_frames(parse_bvh(SMALL_BVH))
    path = tmp_path / "out.bvh"
    write_bvh(path, motion)
    again = read_bvh(path)
    assert again.skeleton == motion.skeleton
    assert again.frame_time == pytest.approx(motion.frame_time)
    np.testing.assert_allclose(again.frames, motion.frames, atol=5e-7)
    assert format_bvh(again) == path.read_text()


def test_more_decimals_for_finer_values():
    motion = _random_frames(parse_bvh(SMALL_BVH))
    again = parse_bvh(format_bvh(motion, decimals=12))
    np.testing.assert_allclose(again.frames, motion.frames, atol=5e-13)


def test_empty_motion_round_trips():
    motion = parse_bvh(SMALL_BVH).with_frames(np.zeros((0, 15)))
    assert parse_bvh(format_bvh(motion)).n_frames == 0


@pytest.mark.slow
@pytest.mark.parametrize(("units", "order"), [("m", "ZXY"), ("cm", "ZXY"), ("m", "XYZ"), ("cm", "YXZ")])
def test_joints_to_bvh_reproduces_a_real_clip(walk_joints, tmp_path, units, order):
    motion = joints_to_bvh(walk_joints, units=units, rotation_order=order)
    path = tmp_path / "walk.bvh"
    write_bvh(path, motion)
    read_back = read_bvh(path)
    assert read_back.skeleton.names[0] == "pelvis"
    assert read_back.skeleton.joints[1].rotation_order == order
    assert read_back.fps == pytest.approx(20)
    error = np.abs(bvh_to_joints(read_back, units=units) - walk_joints).max()
    assert error < 1 * MM


def test_units_scale_offsets_and_root_positions(walk_joints):
    in_metres = joints_to_bvh(walk_joints[:10], units="m")
    in_centimetres = joints_to_bvh(walk_joints[:10], units="cm")
    np.testing.assert_allclose(in_centimetres.skeleton.offsets_array(), 100 * in_metres.skeleton.offsets_array(), atol=1e-9)
    np.testing.assert_allclose(in_centimetres.frames[:, :3], 100 * in_metres.frames[:, :3], atol=1e-9)
    np.testing.assert_allclose(in_centimetres.frames[:, 3:], in_metres.frames[:, 3:], atol=1e-9)
    with pytest.raises(ValueError, match="units"):
        joints_to_bvh(walk_joints, units="mm")
    with pytest.raises(ValueError, match="rotation_order"):
        joints_to_bvh(walk_joints, rotation_order="XXY")


def test_only_the_root_has_position_channels(walk_joints):
    motion = joints_to_bvh(walk_joints[:5])
    assert set(motion.skeleton.names) == set(HUMANML3D_SKELETON.joint_names)
    assert [joint.has_position for joint in motion.skeleton.joints] == [True] + [False] * 21
    assert motion.skeleton.joints[0].offset == (0.0, 0.0, 0.0)


def _turned_in_place(joints: np.ndarray, total_degrees: float) -> np.ndarray:
    """(T, J, 3) the clip yawed about its pelvis by an angle growing from 0 to `total_degrees`."""
    yaw = axis_rotations(np.linspace(0.0, total_degrees, len(joints)), "Y")  # (T, 3, 3)
    pelvis = joints[:, :1]
    return pelvis + np.einsum("tab,tjb->tja", yaw, joints - pelvis)


@pytest.mark.slow
def test_a_full_turn_does_not_flip_joints_or_jump_angles(walk_joints, tmp_path):
    turning = _turned_in_place(walk_joints, 360.0)  # faces backwards half way through
    path = tmp_path / "turn.bvh"
    write_bvh(path, joints_to_bvh(turning))
    motion = read_bvh(path)
    error_per_frame = np.abs(bvh_to_joints(motion) - turning).max(axis=(1, 2))  # (T,)
    assert error_per_frame.max() < 1 * MM
    root_angles = motion.frames[:, 3:6]  # (T, 3) ZXY degrees
    assert np.abs(np.diff(root_angles, axis=0)).max() < 20.0  # no 360 (or 180) degree jumps
    assert np.ptp(root_angles[:, 2]) > 300  # the yaw channel itself carries the whole turn


def test_angles_are_unwrapped_over_time(walk_joints):
    spinning = _turned_in_place(walk_joints, 3 * 360.0)
    angles = joints_to_bvh(spinning).frames[:, 3:]  # (T, 3J)
    assert np.abs(np.diff(angles, axis=0)).max() < 60.0


def test_non_rigid_input_gives_a_small_bounded_error(walk_joints):
    noisy = walk_joints + np.random.default_rng(1).normal(scale=2 * MM, size=walk_joints.shape)
    back = bvh_to_joints(joints_to_bvh(noisy))
    error = np.linalg.norm(back - noisy, axis=-1)  # (T, J)
    assert error.max() < 20 * MM
    assert np.median(error) < 5 * MM


def test_atomic_write_leaves_nothing_on_failure(tmp_path, monkeypatch):
    motion = parse_bvh(SMALL_BVH)
    path = tmp_path / "out.bvh"
    path.write_text("previous content")

    def failing_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fileio.os, "fsync", failing_fsync)
    with pytest.raises(BvhWriteError, match="No space left on device"):
        write_bvh(path, motion)
    assert path.read_text() == "previous content"
    assert os.listdir(tmp_path) == ["out.bvh"]

    monkeypatch.undo()
    new_path = tmp_path / "new.bvh"
    monkeypatch.setattr(fileio.os, "replace", lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        write_bvh(new_path, motion)
    assert os.listdir(tmp_path) == ["out.bvh"]


def test_unwritable_path_raises_one_clear_sentence(tmp_path):
    motion = parse_bvh(SMALL_BVH)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    under_a_file = blocker / "out.bvh"
    with pytest.raises(BvhWriteError) as caught:
        write_bvh(under_a_file, motion)
    message = str(caught.value)
    assert message.startswith("Cannot write the BVH file") and str(under_a_file) in message
    assert message.count(".") >= 1 and "\n" not in message
    assert isinstance(caught.value, OSError)
    a_folder = tmp_path / "folder.bvh"
    a_folder.mkdir()
    with pytest.raises(BvhWriteError, match="folder.bvh"):
        write_bvh(a_folder, motion)
    assert sorted(os.listdir(tmp_path)) == ["a-file", "folder.bvh"]


def test_missing_output_folders_are_created(tmp_path):
    path = tmp_path / "new" / "folder" / "out.bvh"
    write_bvh(path, parse_bvh(SMALL_BVH))
    assert parse_bvh(path.read_text()).n_frames == parse_bvh(SMALL_BVH).n_frames


def test_rotation_curves_do_not_flip_when_an_arm_points_against_its_rest_direction(bandai_clip):
    """A plain swing from the rest pose rolls a raised arm by up to 180 degrees in one frame
    (142 degrees on this dance); the written rotations must change no faster than real motion."""
    from keymask.core.bvh.kinematics import local_rotations

    joints = bandai_to_humanml3d(read_bvh(bandai_clip("dataset-1_dance-short_normal_001.bvh")))
    motion = joints_to_bvh(joints)
    rotations = local_rotations(motion)  # (T, J, 3, 3)
    step = np.einsum("tjba,tjbc->tjac", rotations[:-1], rotations[1:])  # (T-1, J, 3, 3)
    step_degrees = np.degrees(np.arccos(np.clip((np.trace(step, axis1=-2, axis2=-1) - 1) / 2, -1, 1)))
    assert step_degrees.max() < 90
    assert np.abs(bvh_to_joints(motion) - joints).max() < 1 * MM


@pytest.mark.parametrize("order", ["XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"])
def test_euler_angles_rebuild_any_rotation_including_gimbal_lock(order):
    from keymask.core.bvh.kinematics import euler_to_matrices, matrices_to_euler

    rng = np.random.default_rng(0)
    angles = rng.uniform(-180, 180, (300, 3))
    angles[:100, 1] = rng.choice([90.0, -90.0], 100)  # the middle axis at ±90°: gimbal lock
    matrices = euler_to_matrices(angles, order)
    recovered = matrices_to_euler(matrices, order)
    assert np.abs(euler_to_matrices(recovered, order) - matrices).max() < 1e-9
    assert np.all(np.abs(recovered[:, 1]) <= 90.0 + 1e-9)
    free = slice(100, None)  # away from the lock the angles themselves come back (within ±180°)
    assert np.allclose(recovered[free, 1], np.rad2deg(np.arcsin(np.sin(np.deg2rad(angles[free, 1])))))
