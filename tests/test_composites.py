"""Two-action training motions: joined in sequence or at once, and their captions."""

import numpy as np

from keymask.core.data.captions import sequence_captions, simultaneous_captions
from keymask.core.data.composites import UPPER_BODY, join_at_once, join_in_sequence
from keymask.core.kinematics import facing_angles
from keymask.core.rotations import rotate_about_y
from keymask.core.skeleton import HUMANML3D_SKELETON, target_offsets


def _rest_pose() -> np.ndarray:
    """(22, 3) the template body standing, facing +Z."""
    skeleton = HUMANML3D_SKELETON
    offsets = target_offsets()
    pose = np.zeros((skeleton.n_joints, 3))
    pose[0] = [0, 0.9, 0]
    for joint, parent in enumerate(skeleton.parents):
        if parent >= 0:
            pose[joint] = pose[parent] + offsets[joint]
    return pose


def _walk(frames: int, heading: float, speed: float = 0.05) -> np.ndarray:
    """(T, 22, 3) a rigid body gliding along its facing direction `heading` (radians from +Z)."""
    body = rotate_about_y(_rest_pose(), heading)
    step = speed * np.array([np.sin(heading), 0.0, np.cos(heading)])
    return body[None] + np.arange(frames)[:, None, None] * step


def test_sequence_continues_where_the_first_clip_ends_and_turns_to_its_facing():
    first, second = _walk(40, heading=0.0), _walk(30, heading=1.2) + np.array([5.0, 0.0, -3.0])
    joined = join_in_sequence(first, second, blend=6)
    assert joined.shape == (40 + 30 - 6, 22, 3)
    np.testing.assert_allclose(joined[:34], first[:34])
    # The second part faces where the first ended (0 rad) and moves on from its pelvis without a jump.
    np.testing.assert_allclose(facing_angles(joined[40:]), 0.0, atol=1e-6)
    steps = np.linalg.norm(np.diff(joined[:, 0], axis=0), axis=-1)
    assert steps.max() < 0.051


def test_at_once_keeps_the_legs_and_carries_the_arms_of_the_gesture():
    body = _walk(50, heading=0.7)
    gesture = _walk(40, heading=-0.4, speed=0.0)
    gesture[:, HUMANML3D_SKELETON.index("right_wrist"), 1] += np.linspace(0, 0.5, 40)  # the right hand rises
    joined = join_at_once(body, gesture)
    assert joined.shape == (40, 22, 3)
    legs = [i for i in range(22) if i not in UPPER_BODY]
    np.testing.assert_allclose(joined[:, legs], body[:40, legs])
    right_wrist = HUMANML3D_SKELETON.index("right_wrist")
    rise = joined[:, right_wrist, 1] - joined[:, HUMANML3D_SKELETON.index("spine3"), 1]
    assert rise[-1] - rise[0] > 0.45
    # The arms travel with the walking body: the wrist stays near the chest.
    distance = np.linalg.norm(joined[:, right_wrist] - joined[:, HUMANML3D_SKELETON.index("spine3")], axis=-1)
    assert distance.max() < 1.0


def test_joined_captions_name_both_actions_in_order():
    for caption in sequence_captions("C00001", ("walk", "old"), "bow", count=6):
        assert "bow" in caption.lower()
    together = simultaneous_captions("S00001", ("walk", "normal"), "wave-right-hand", count=6)
    assert len(set(together)) == 6 and all("right" in c for c in together)
