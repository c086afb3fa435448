"""Posing on rigid bones (conditioning/ik.py): two-bone IK, the head turn, joint rotations, pins and
the mirror keep every bone length, and put the joints where the animator asked."""

import numpy as np
import pytest

from keymask.conditioning.ik import (
    EFFECTORS,
    LIMBS,
    bone_lengths,
    hold_limbs,
    limb_of,
    mirror_pose,
    move_body,
    rotate_joint,
    solve_limb,
    turn_head,
    two_bone_ik,
)
from keymask.core.facing import body_heading
from keymask.core.rotations import rotate_about_y
from keymask.core.skeleton import HUMANML3D_SKELETON
from test_studio_widgets import rest_pose

J = HUMANML3D_SKELETON.index


def placed(pose: np.ndarray, heading: float = 0.7, at=(1.5, 0.0, -2.0)) -> np.ndarray:
    """The pose turned to `heading` about +Y and moved to `at`: posing must not depend on where the body stands."""
    return rotate_about_y(pose - pose[0], heading) + pose[0] + np.asarray(at)


def test_a_reachable_target_is_reached_with_both_bones_kept():
    rng = np.random.default_rng(0)
    for _ in range(200):
        root, middle, end = rng.normal(size=(3, 3))
        upper, lower = np.linalg.norm(middle - root), np.linalg.norm(end - middle)
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        target = root + direction * rng.uniform(abs(upper - lower) + 1e-3, upper + lower - 1e-3)
        new_middle, new_end = two_bone_ik(root, middle, end, target, bend=rng.normal(size=3))
        np.testing.assert_allclose(new_end, target, atol=1e-9)
        assert abs(np.linalg.norm(new_middle - root) - upper) < 1e-9
        assert abs(np.linalg.norm(new_end - new_middle) - lower) < 1e-9


def test_the_chain_bends_towards_the_bend_direction():
    root, middle, end = np.zeros(3), np.array([0.0, -0.3, 0.0]), np.array([0.0, -0.55, 0.0])
    for bend in ([0.0, 0.0, 1.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]):
        new_middle, _ = two_bone_ik(root, middle, end, [0.0, -0.4, 0.0], bend=np.array(bend))
        assert new_middle @ np.array(bend) > 0.1  # well off the line, on the asked side


def test_an_unreachable_target_gets_the_limb_straight_towards_it():
    root, middle, end = np.zeros(3), np.array([0.3, 0.0, 0.0]), np.array([0.3, 0.0, 0.25])
    target = np.array([2.0, 1.0, -2.0])
    new_middle, new_end = two_bone_ik(root, middle, end, target, bend=np.array([0.0, 1.0, 0.0]))
    towards = target / np.linalg.norm(target)
    np.testing.assert_allclose(new_end, 0.55 * towards, atol=1e-9)
    np.testing.assert_allclose(new_middle, 0.3 * towards, atol=1e-9)
    # Too near (bones of unequal length cannot fold onto the root): folded, its end towards the target.
    near = np.array([0.0, 0.01, 0.0])
    new_middle, new_end = two_bone_ik(root, middle, end, near, bend=np.array([1.0, 0.0, 0.0]))
    np.testing.assert_allclose(new_end, [0.0, 0.05, 0.0], atol=1e-9)
    assert abs(np.linalg.norm(new_middle - root) - 0.3) < 1e-9 and abs(np.linalg.norm(new_end - new_middle) - 0.25) < 1e-9


@pytest.mark.parametrize("limb", list(LIMBS))
def test_solve_limb_moves_one_limb_on_rigid_bones(limb):
    pose = placed(rest_pose())
    root, middle, end = LIMBS[limb]
    target = pose[end] + rotate_about_y(np.array([[0.12, 0.2, 0.15]]), 0.7)[0]
    posed = solve_limb(pose, limb, target)
    np.testing.assert_allclose(posed[end], target, atol=1e-9)
    np.testing.assert_allclose(bone_lengths(posed), bone_lengths(pose), atol=1e-6)
    moved = np.flatnonzero(np.linalg.norm(posed - pose, axis=1) > 1e-9)
    below_end = [end, *HUMANML3D_SKELETON.children[end]]  # the ankle's toe, or the wrist alone
    assert set(moved) == {middle, *below_end}
    np.testing.assert_allclose(posed[below_end] - posed[end], pose[below_end] - pose[end], atol=1e-9)  # the toe unturned


def test_a_straight_limb_bends_its_knee_forward_and_its_elbow_back():
    pose = placed(rest_pose())
    forward = rotate_about_y(np.array([[0.0, 0.0, 1.0]]), 0.7)[0]
    legs = solve_limb(pose, "left_leg", pose[J("left_ankle")] + [0.0, 0.15, 0.0])  # a straight leg, ankle lifted
    knee_off = legs[J("left_knee")] - (legs[J("left_hip")] + legs[J("left_ankle")]) / 2
    assert knee_off @ forward > 0.05
    arms = solve_limb(pose, "right_arm", pose[J("right_wrist")] + [0.0, 0.15, 0.0])
    elbow_off = arms[J("right_elbow")] - (arms[J("right_shoulder")] + arms[J("right_wrist")]) / 2
    assert elbow_off @ forward < -0.05


def test_a_pinned_limb_stays_when_the_body_moves():
    pose = placed(rest_pose())
    left_leg = solve_limb(pose, "left_leg", pose[J("left_ankle")] + [0.0, 0.1, 0.1])  # a bent knee to begin with
    lowered = move_body(left_leg, [0.05, -0.12, 0.03])
    held = hold_limbs(left_leg, lowered, ["left_leg", "right_leg"])
    for limb in ("left_leg", "right_leg"):
        below = [LIMBS[limb][2]] + list(HUMANML3D_SKELETON.children[LIMBS[limb][2]])
        np.testing.assert_allclose(held[below], left_leg[below], atol=1e-9)  # the feet stay on the floor
    np.testing.assert_allclose(held[J("head")], lowered[J("head")])  # the rest moved
    np.testing.assert_allclose(bone_lengths(held), bone_lengths(pose), atol=1e-6)


def test_turning_the_head_aims_it_and_bends_the_neck():
    pose = placed(rest_pose(), heading=0.0, at=(0.0, 0.0, 0.0))
    neck, head = J("neck"), J("head")
    target = pose[neck] + np.array([0.5, 0.1, 0.3])
    turned = turn_head(pose, target)
    aim = (target - turned[neck]) / np.linalg.norm(target - turned[neck])
    bone = (turned[head] - turned[neck]) / np.linalg.norm(turned[head] - turned[neck])
    np.testing.assert_allclose(bone, aim, atol=1e-9)
    assert np.linalg.norm(turned[neck] - pose[neck]) > 1e-3  # the neck took part of the turn
    moved = np.flatnonzero(np.linalg.norm(turned - pose, axis=1) > 1e-12)
    assert set(moved) == {neck, head}
    np.testing.assert_allclose(bone_lengths(turned), bone_lengths(pose), atol=1e-6)


def test_rotating_a_joint_turns_what_hangs_from_it():
    pose = placed(rest_pose())
    elbow, wrist = J("left_elbow"), J("left_wrist")
    turned = rotate_joint(pose, elbow, [1.0, 0.0, 0.0], np.pi / 2)
    assert set(np.flatnonzero(np.linalg.norm(turned - pose, axis=1) > 1e-12)) == {wrist}
    np.testing.assert_allclose(turned[wrist] - turned[elbow], [0.0, 0.0, -np.linalg.norm(pose[wrist] - pose[elbow])],
                               atol=1e-9)  # the forearm, hanging down, turned a quarter about +X: now along -Z
    # A joint with nothing below it turns its own bone; the pelvis turns the whole body about itself.
    leaf = rotate_joint(pose, wrist, [1.0, 0.0, 0.0], np.pi / 2)
    np.testing.assert_allclose(leaf, turned, atol=1e-12)
    body = rotate_joint(pose, J("pelvis"), [0.0, 1.0, 0.0], 0.5)
    np.testing.assert_allclose(body[0], pose[0])
    assert abs(float(body_heading(body)) - float(body_heading(pose)) - 0.5) < 1e-9
    for result in (turned, leaf, body):
        np.testing.assert_allclose(bone_lengths(result), bone_lengths(pose), atol=1e-6)


def test_mirroring_swaps_the_sides_in_the_bodys_own_frame():
    pose = placed(rest_pose())
    raised = solve_limb(pose, "right_arm", pose[J("right_shoulder")] + [0.0, 0.4, 0.0])  # right hand up
    mirrored = mirror_pose(raised)
    np.testing.assert_allclose(mirrored[0], raised[0], atol=1e-9)
    assert abs(float(body_heading(mirrored)) - float(body_heading(raised))) < 1e-6
    assert mirrored[J("left_wrist")][1] > mirrored[J("left_shoulder")][1] + 0.3  # now the left hand is up
    assert mirrored[J("right_wrist")][1] < mirrored[J("right_shoulder")][1] - 0.3
    np.testing.assert_allclose(mirror_pose(mirrored), raised, atol=1e-6)
    # An asymmetric body keeps the length of each of its own bones.
    long_left = raised.copy()
    long_left[[J("left_elbow"), J("left_wrist")]] += (long_left[J("left_elbow")] - long_left[J("left_shoulder")]) * 0.2
    np.testing.assert_allclose(bone_lengths(mirror_pose(long_left)), bone_lengths(long_left), atol=1e-9)


def test_effectors_and_limbs():
    assert {HUMANML3D_SKELETON.joint_names[j] for j in EFFECTORS} == {
        "left_wrist", "right_wrist", "left_ankle", "right_ankle", "head", "pelvis"}
    assert limb_of(J("left_foot")) == "left_leg" and limb_of(J("right_elbow")) == "right_arm"
    assert limb_of(J("spine2")) is None and limb_of(J("left_collar")) is None
