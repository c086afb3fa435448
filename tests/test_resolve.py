"""Local re-solves (conditioning/resolve.py): which stretch a key edit makes stale, and re-solving
only that stretch: frames outside it unchanged bit for bit, the key reached, a moved key retimes, a
deleted key's pose let go of."""

import numpy as np
import pytest

from keymask.conditioning.poses import KeyPose3D
from keymask.conditioning.refine import bone_direction_error
from keymask.conditioning.resolve import StretchKey, release_stretch, resolve_stretch, retimed, stale_stretch
from keymask.core.skeleton import HUMANML3D_SKELETON
from test_studio_widgets import rest_pose


def swinging_walk(frames: int = 80) -> np.ndarray:
    """(T, 22, 3) walking forward at 1 m/s, the right arm swinging forward and back about the shoulder."""
    rest = rest_pose()
    motion = np.repeat(rest[None], frames, axis=0)
    motion[..., 2] += (np.arange(frames) / 20)[:, None]
    shoulder = HUMANML3D_SKELETON.index("right_shoulder")
    arm = [HUMANML3D_SKELETON.index("right_elbow"), HUMANML3D_SKELETON.index("right_wrist")]
    for t in range(frames):
        angle = 0.6 * np.sin(t / 6)
        c, s = np.cos(angle), np.sin(angle)
        turn = np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])  # about X: forward and back
        motion[t, arm] = (motion[t, arm] - motion[t, shoulder]) @ turn.T + motion[t, shoulder]
    return motion


def arms_up() -> KeyPose3D:
    pose = rest_pose()
    pose -= pose[0]
    for side in ("left", "right"):
        shoulder = HUMANML3D_SKELETON.index(f"{side}_shoulder")
        for joint, height in ((f"{side}_elbow", 0.28), (f"{side}_wrist", 0.52)):
            j = HUMANML3D_SKELETON.index(joint)
            pose[j] = pose[shoulder] + [0.0, height, 0.0]
    return KeyPose3D(joints=pose)


@pytest.mark.parametrize("frames, anchors, kept, expected", [
    ([40], [], [], (20, 61)),  # a second either side
    ([40], [30, 70], [], (31, 61)),  # stops after the previous key, before the next
    ([40], [], [(0, 25), (55, 80)], (25, 55)),  # stops at kept spans
    ([40, 50], [70], [], (20, 70)),  # a moved key: around its old and new frames
    ([5], [], [], (0, 26)),  # within the motion
    ([10], [], [(0, 20)], None),  # a key on a kept frame changes nothing
])
def test_the_stale_stretch_runs_between_the_neighbouring_anchors(frames, anchors, kept, expected):
    assert stale_stretch(80, frames, anchors, kept) == expected


def test_a_re_solve_changes_only_its_stretch_and_reaches_the_key():
    motion = swinging_walk().astype(np.float32)
    key = arms_up()
    assert bone_direction_error(motion[40], key.joints) > 20
    out = resolve_stretch(motion, [StretchKey(key, 40)], (20, 61))
    assert out.dtype == motion.dtype and out.shape == motion.shape
    np.testing.assert_array_equal(out[:20], motion[:20])
    np.testing.assert_array_equal(out[61:], motion[61:])
    assert bone_direction_error(out[40], key.joints) < 0.5
    bones = np.linalg.norm(out[40, 1:] - out[40, list(HUMANML3D_SKELETON.parents[1:])], axis=-1)
    np.testing.assert_allclose(bones, np.linalg.norm(motion[40, 1:] - motion[40, list(HUMANML3D_SKELETON.parents[1:])],
                                                     axis=-1), atol=2e-3)  # the motion's own bone lengths
    # The change eases in and out: the first and last frames of the stretch barely move.
    moved = np.linalg.norm(out - motion, axis=-1).max(axis=1)  # (T,)
    assert moved[20] < 0.05 * moved.max() and moved[60] < 0.05 * moved.max()


def test_a_moved_key_carries_the_motion_with_it():
    motion = swinging_walk()
    stretch = (20, 70)
    warped = retimed(motion, stretch, (40, 50))
    np.testing.assert_array_equal(warped[50], motion[40])  # what was at the old time is at the new one
    np.testing.assert_array_equal(warped[:20], motion[:20])
    np.testing.assert_array_equal(warped[70:], motion[70:])
    assert np.all(np.diff(warped[20:70, 0, 2]) > 0)  # the walk still goes forward, only slower then faster

    key = arms_up()
    out = resolve_stretch(motion, [StretchKey(key, 50)], stretch, moved=(40, 50))
    assert bone_direction_error(out[50], key.joints) < 0.5
    np.testing.assert_array_equal(out[70:], motion[70:])


def test_a_stretch_outside_the_motion_is_refused():
    with pytest.raises(ValueError, match="not inside a motion of 80 frames"):
        resolve_stretch(swinging_walk(), [], (70, 90))


def test_a_deleted_key_lets_go_of_its_stretch():
    motion = swinging_walk().astype(np.float32)
    key = StretchKey(arms_up(), 40)
    keyed = resolve_stretch(motion, [key], (20, 61))
    out = release_stretch(keyed, key, (20, 61))
    assert out.dtype == keyed.dtype
    np.testing.assert_array_equal(out[:20], keyed[:20])
    np.testing.assert_array_equal(out[61:], keyed[61:])
    # The arms are down again where the key held them up: near the walk without the key, far from the pose.
    assert bone_direction_error(keyed[40], key.pose.joints) < 0.5
    assert bone_direction_error(out[40], key.pose.joints) > 30
    assert bone_direction_error(out[40], motion[40]) < 8
    bones = np.linalg.norm(out[40, 1:] - out[40, list(HUMANML3D_SKELETON.parents[1:])], axis=-1)
    np.testing.assert_allclose(bones, np.linalg.norm(motion[40, 1:] - motion[40, list(HUMANML3D_SKELETON.parents[1:])],
                                                     axis=-1), atol=2e-3)
    moved = np.linalg.norm(out - keyed, axis=-1).max(axis=1)  # (T,) eased in and out: no pop at the ends
    assert moved[21] < 0.05 * moved.max() and moved[59] < 0.05 * moved.max()
    assert np.abs(np.diff(out[19:63], axis=0)).max() < 0.2  # metres a joint moves in a frame

    # A key at the motion's start: the stretch has no frame before it; the bridge holds the pose after it.
    first = StretchKey(arms_up(), 3)
    keyed = resolve_stretch(motion, [first], (0, 24))
    out = release_stretch(keyed, first, (0, 24))
    np.testing.assert_array_equal(out[24:], keyed[24:])
    assert bone_direction_error(out[3], first.pose.joints) > 30
