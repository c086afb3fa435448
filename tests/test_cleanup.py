"""Clean-up of generated joints: smoothing, root held back by planted feet, foot locking by leg IK."""

import numpy as np
import pytest

from keymask.core.generation.cleanup import (CleanupSettings, clean_motion, contact_runs, lock_feet,
                                             smooth_positions, stop_root_sliding, two_bone_ik)
from keymask.core.kinematics import forward_kinematics
from keymask.core.metrics.physical import bone_lengths, foot_skating_ratio, jitter
from keymask.core.skeleton import target_offsets


def standing(frames: int) -> np.ndarray:
    """(T, 22, 3) the target skeleton at rest, lowest joint on the floor."""
    offsets = target_offsets()
    rotations = np.zeros((frames, 22, 4))
    rotations[..., 0] = 1.0
    joints = forward_kinematics(rotations, np.zeros((frames, 3)), offsets)
    joints[..., 1] -= joints[..., 1].min()
    return joints


def test_smoothing_keeps_steady_motion_and_removes_trembling():
    steady = standing(40) + np.linspace(0, 1, 40)[:, None, None] * np.array([1.0, 0, 0])
    assert np.allclose(smooth_positions(steady, 1.2)[5:-5], steady[5:-5], atol=1e-9)
    trembling = steady.copy()
    trembling[::2] += 0.01
    assert jitter(smooth_positions(trembling, 1.2)) < jitter(trembling) / 10


def test_contact_runs_are_long_enough_stretches_below_the_threshold():
    heights = np.array([0.0, 0.0, 0.2, 0.0, 0.2, 0.01, 0.02, 0.03, 0.3])
    assert contact_runs(heights, 0.05, 2) == [(0, 2), (5, 8)]


def test_two_bone_ik_reaches_what_it_can_and_keeps_the_bones():
    hip, knee = np.array([[0.0, 1.0, 0.0]] * 2), np.array([[0.0, 0.5, 0.1]] * 2)
    targets = np.array([[0.1, 0.2, 0.0], [0.0, -5.0, 0.0]])  # the second is out of reach
    thigh, shin = np.array([0.5, 0.5]), np.array([0.5, 0.5])
    new_knee, ankle = two_bone_ik(hip, knee, targets, thigh, shin)
    assert np.allclose(np.linalg.norm(new_knee - hip, axis=-1), 0.5)
    assert np.allclose(np.linalg.norm(ankle - new_knee, axis=-1), 0.5)
    assert np.allclose(ankle[0], targets[0])
    assert np.allclose(ankle[1], [0.0, 0.0, 0.0], atol=1e-5)  # straight down, as far as the leg goes
    assert new_knee[0, 2] > 0  # bent the way the original knee pointed


def test_a_body_gliding_on_planted_feet_stops_skating_and_keeps_its_bones():
    frames = 30
    gliding = standing(frames) + (np.arange(frames) * 0.04)[:, None, None] * np.array([0.0, 0, 1.0])  # 0.8 m/s
    assert foot_skating_ratio(gliding) == 1.0
    cleaned = clean_motion(gliding)
    assert foot_skating_ratio(cleaned) == 0.0
    assert np.abs(bone_lengths(cleaned) - bone_lengths(gliding)).max() < 1e-6


def test_legs_reach_for_feet_that_slide_under_a_still_body():
    settings = CleanupSettings(smoothing_sigma=0)
    sliding = standing(20)
    sliding[:, 4, 2] += 0.12  # a bent left knee, so the leg has room to reach
    sliding[:, [7, 10], 2] += np.linspace(0, 0.15, 20)[:, None]  # the left foot drifts forward 15 cm
    locked = lock_feet(sliding, settings)
    assert np.ptp(locked[:, 7, 2]) < 0.03  # held near the run's middle
    others = [j for j in range(22) if j not in (4, 7, 10)]
    assert np.allclose(locked[:, others], sliding[:, others], atol=1e-6)  # only the left knee, ankle, toe move
    original = np.linalg.norm(sliding[:, 4] - sliding[:, 1], axis=-1)
    assert np.allclose(np.linalg.norm(locked[:, 4] - locked[:, 1], axis=-1), original)


def test_a_weaker_lock_pulls_the_foot_part_of_the_way():
    sliding = standing(20)
    sliding[:, 4, 2] += 0.12
    sliding[:, [7, 10], 2] += np.linspace(0, 0.15, 20)[:, None]
    full = lock_feet(sliding, CleanupSettings(smoothing_sigma=0))
    half = lock_feet(sliding, CleanupSettings(smoothing_sigma=0, lock_strength=0.5))
    none = lock_feet(sliding, CleanupSettings(smoothing_sigma=0, lock_strength=0.0))
    np.testing.assert_allclose(none, sliding, atol=1e-5)
    pulled_full, pulled_half = full[:, 7, 2] - sliding[:, 7, 2], half[:, 7, 2] - sliding[:, 7, 2]
    np.testing.assert_allclose(pulled_half, 0.5 * pulled_full, atol=2e-3)  # IK reaches both: the shift is halved
    assert np.abs(pulled_full).max() > 0.05
    original = np.linalg.norm(sliding[:, 4] - sliding[:, 1], axis=-1)
    assert np.allclose(np.linalg.norm(half[:, 4] - half[:, 1], axis=-1), original)


def test_real_walk_keeps_its_path_and_gets_no_worse(small_dataset):
    from keymask.core.features import recover_from_ric

    dataset = small_dataset[0].output_dir
    walks = sorted((dataset / "features").glob("*walk*.npy")) or sorted((dataset / "features").glob("*.npy"))
    joints = recover_from_ric(np.load(walks[0]))
    cleaned = clean_motion(joints)
    travel = np.linalg.norm(joints[-1, 0, [0, 2]] - joints[0, 0, [0, 2]])
    kept = np.linalg.norm(cleaned[-1, 0, [0, 2]] - cleaned[0, 0, [0, 2]])
    assert kept >= 0.7 * travel - 0.05
    assert foot_skating_ratio(cleaned) <= foot_skating_ratio(joints) + 1e-9
    assert np.abs(cleaned - joints).mean() < 0.05


def test_the_pipeline_cleans_joints_only_when_asked(parity_pipeline):
    from keymask.core.generation.cleanup import CleanupSettings

    raw = parity_pipeline(["a person walks"], frames=40, seed=3).motions[0]
    clean = parity_pipeline(["a person walks"], frames=40, seed=3, cleanup=CleanupSettings()).motions[0]
    assert np.array_equal(raw.features, clean.features)
    assert not np.allclose(raw.joints, clean.joints)
    assert np.allclose(clean_motion(raw.joints), clean.joints, atol=1e-6)


def test_stretching_bones_get_their_median_length_back_and_export_unchanged():
    from keymask.core.animation import rigid_joints
    from keymask.core.generation.export import delivered_joints
    from keymask.core.metrics.physical import bone_length_drift

    joints = standing(9)
    joints[::2, 15] += (joints[::2, 15] - joints[::2, 12]) * 0.1  # the head bone stretches by 10% every other frame
    joints[1::2, 13] += [0.0, 0.01, 0.0]  # a collar rises 1 cm on the chest every other frame
    rigid = rigid_joints(joints)
    assert bone_length_drift(joints) > 1e-3 and bone_length_drift(rigid) < 1e-9
    assert np.allclose(rigid[:, :12], joints[:, :12])  # legs and spine untouched (the chest is refitted)
    assert np.abs(delivered_joints(rigid) - rigid).max() < 1e-9  # the BVH gives back exactly these joints


@pytest.mark.parametrize("settings", [CleanupSettings(smoothing_sigma=0, foot_locking=False, rigid_bones=False)])
def test_cleanup_off_is_identity(settings):
    joints = standing(10)
    assert np.allclose(clean_motion(joints, settings), joints)
    assert np.allclose(stop_root_sliding(standing(10)), standing(10))
