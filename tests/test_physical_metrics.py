"""Physical metrics (skating, penetration, floating, jitter, bone drift) on synthetic motions."""

import numpy as np
import pytest

from keymask.core import kinematics as kin
from keymask.core.metrics.physical import (
    PhysicalReport,
    PhysicalThresholds,
    bone_length_drift,
    floating,
    foot_skating_ratio,
    jitter,
    penetration,
    physical_report,
)
from keymask.core.rotations import quat_from_axis_angle, quat_identity, quat_rotate
from keymask.core.skeleton import HUMANML3D_SKELETON as SKELETON
from keymask.core.skeleton import target_offsets

FPS = 20.0
J = SKELETON.n_joints
N_BONES = J - 1
LEFT_ANKLE, RIGHT_ANKLE, LEFT_TOE, RIGHT_TOE = 7, 8, 10, 11


def standing_pose() -> np.ndarray:
    """(J, 3) the target skeleton in its rest pose, lowest joint exactly on the floor."""
    pose = kin.forward_kinematics(quat_identity((J,)), np.zeros(3), target_offsets())
    pose[:, 1] -= pose[:, 1].min()
    return pose


def standing_still(n_frames: int = 30) -> np.ndarray:
    """(T, J, 3) the standing pose held for n_frames."""
    return np.repeat(standing_pose()[None], n_frames, axis=0)


def walking_in_place_translated(speed: float, n_frames: int = 30, fps: float = FPS) -> np.ndarray:
    """(T, J, 3) the standing pose sliding along +X at `speed` m/s, feet on the floor."""
    motion = standing_still(n_frames)
    motion[:, :, 0] += (speed * np.arange(n_frames) / fps)[:, None]
    return motion


def test_the_standing_pose_has_both_feet_on_the_floor_and_the_rest_above():
    pose = standing_pose()
    feet = [LEFT_ANKLE, RIGHT_ANKLE, LEFT_TOE, RIGHT_TOE]
    assert np.all(pose[feet, 1] < 0.02)
    assert np.all(np.delete(pose, feet, axis=0)[:, 1] > 0.05)


def test_standing_still_is_physically_clean():
    motion = standing_still()
    assert foot_skating_ratio(motion) == 0.0
    assert penetration(motion) == 0.0
    assert floating(motion) == 0.0
    assert jitter(motion) == pytest.approx(0.0, abs=1e-9)
    assert bone_length_drift(motion) == pytest.approx(0.0, abs=1e-12)


def test_sliding_the_planted_body_at_1_m_per_s_skates_every_transition():
    assert foot_skating_ratio(walking_in_place_translated(1.0)) == 1.0


def test_sliding_at_0_2_m_per_s_stays_under_the_skating_speed():
    assert foot_skating_ratio(walking_in_place_translated(0.2)) == 0.0


def test_the_skating_threshold_is_a_speed_so_it_scales_with_the_frame_rate():
    step = 0.03  # metres per frame: 0.6 m/s at 20 fps (skates), 0.3 m/s at 10 fps (does not)
    assert foot_skating_ratio(walking_in_place_translated(step * 20, fps=20), fps=20) == 1.0
    assert foot_skating_ratio(walking_in_place_translated(step * 10, fps=10), fps=10) == 0.0


def test_one_sliding_foot_is_enough_to_skate_but_a_swinging_foot_is_not():
    n_frames = 11
    slide = 1.0 * np.arange(n_frames) / FPS  # metres along +X at 1 m/s
    one_foot_slides = standing_still(n_frames)
    one_foot_slides[:, [LEFT_ANKLE, LEFT_TOE], 0] += slide[:, None]
    assert foot_skating_ratio(one_foot_slides) == 1.0

    foot_swings = one_foot_slides.copy()
    foot_swings[:, [LEFT_ANKLE, LEFT_TOE], 1] += 0.2  # the moving foot is in the air
    assert foot_skating_ratio(foot_swings) == 0.0


def test_a_foot_must_touch_in_both_frames_of_a_transition():
    n_frames = 11
    motion = walking_in_place_translated(1.0, n_frames)
    motion[::2, :, 1] += 0.2  # the body is airborne every other frame: no transition is grounded twice
    assert foot_skating_ratio(motion) == 0.0
    motion[4, :, 1] = standing_pose()[:, 1]  # frames 3, 4, 5 on the floor: transitions 3-4 and 4-5
    assert foot_skating_ratio(motion) == pytest.approx(2 / (n_frames - 1))


def test_a_hovering_body_floats_by_its_height_above_the_tolerance():
    hovering = standing_still()
    hovering[:, :, 1] += 0.3
    assert floating(hovering) == pytest.approx(0.25)
    assert penetration(hovering) == 0.0
    assert floating(hovering, PhysicalThresholds(float_height=0.1)) == pytest.approx(0.2)


def test_a_sunken_body_penetrates_by_its_depth():
    sunken = standing_still()
    sunken[:, :, 1] -= 0.1
    assert penetration(sunken) == pytest.approx(0.1)
    assert floating(sunken) == 0.0


def test_penetration_and_floating_average_over_frames():
    motion = standing_still(4)
    motion[0, :, 1] -= 0.2  # one frame sunk 20 cm out of four
    motion[3, :, 1] += 0.45  # one frame 40 cm above the tolerance
    assert penetration(motion) == pytest.approx(0.05)
    assert floating(motion) == pytest.approx(0.1)


def test_constant_velocity_has_no_jitter():
    motion = standing_still(30)
    motion += np.array([0.7, 0.1, -0.4]) * (np.arange(30) / FPS)[:, None, None]
    assert jitter(motion) == pytest.approx(0.0, abs=1e-6)


def test_alternating_centimetre_noise_is_large_jitter():
    motion = walking_in_place_translated(1.0, 30)
    noise = 0.01 * (-1.0) ** np.arange(30)  # +-1 cm along X, every joint
    motion[:, :, 0] += noise[:, None]
    # third difference of a*(-1)^n is -8a*(-1)^n: 8 * 0.01 m * 20**3 = 640 m/s^3
    assert jitter(motion) == pytest.approx(640.0, rel=1e-6)


def test_a_cubic_trajectory_has_jerk_six():
    n_frames = 40
    seconds = np.arange(n_frames) / FPS
    motion = standing_still(n_frames)
    motion[:, :, 2] += (seconds**3)[:, None]  # z = t^3: jerk d3z/dt3 = 6 m/s^3 exactly
    assert jitter(motion) == pytest.approx(6.0, rel=1e-6)
    slow = standing_still(n_frames)
    slow[:, :, 2] += ((np.arange(n_frames) / 10.0) ** 3)[:, None]
    assert jitter(slow, fps=10.0) == pytest.approx(6.0, rel=1e-6)


def test_stretching_one_bone_drifts_by_its_relative_spread():
    n_frames = 10
    motion = standing_still(n_frames)
    toe_bone = motion[:, LEFT_TOE] - motion[:, LEFT_ANKLE]  # (T, 3)
    stretch = np.where(np.arange(n_frames) % 2 == 0, 1.0, 1.2)  # length L, 1.2 L, L, ...
    motion[:, LEFT_TOE] = motion[:, LEFT_ANKLE] + toe_bone * stretch[:, None]
    # this bone: std 0.1 L over mean 1.1 L; the 20 others are rigid
    assert bone_length_drift(motion) == pytest.approx((0.1 / 1.1) / N_BONES)


def test_rotating_the_whole_body_keeps_its_bones_rigid():
    n_frames = 16
    angles = np.linspace(0.0, 3.0, n_frames)
    rotation = quat_from_axis_angle(np.array([0.3, 1.0, -0.5]), angles)  # (T, 4)
    motion = quat_rotate(rotation[:, None, :], standing_still(n_frames)) + np.array([1.0, 0.5, -2.0])
    assert bone_length_drift(motion) == pytest.approx(0.0, abs=1e-12)


def test_articulated_forward_kinematics_motion_keeps_its_bones_rigid():
    rng = np.random.default_rng(3)
    n_frames = 12
    local = quat_from_axis_angle(rng.normal(size=(n_frames, J, 3)), rng.uniform(-0.8, 0.8, (n_frames, J)))
    motion = kin.forward_kinematics(local, rng.normal(size=(n_frames, 3)), target_offsets())
    assert bone_length_drift(motion) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("metric", [foot_skating_ratio, penetration, floating, jitter, bone_length_drift])
@pytest.mark.parametrize("shape", [(10, 22), (10, 22, 2), (22, 3), (2, 10, 22, 3)])
def test_wrong_shapes_are_refused_with_the_expected_shape(metric, shape):
    with pytest.raises(ValueError, match=r"\(T, J, 3\)"):
        metric(np.zeros(shape))


def test_metrics_refuse_clips_too_short_or_skeletons_too_small():
    with pytest.raises(ValueError, match="4 frames"):
        jitter(standing_still(3))
    with pytest.raises(ValueError, match="2 frames"):
        foot_skating_ratio(standing_still(1))
    with pytest.raises(ValueError, match="12 joints"):
        foot_skating_ratio(standing_still(5)[:, :10])
    with pytest.raises(ValueError, match=r"\(T, 22, 3\)"):
        bone_length_drift(standing_still(5)[:, :21])


def test_metrics_refuse_non_finite_values_and_bad_frame_rates():
    motion = standing_still(6)
    motion[2, 4, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        penetration(motion)
    with pytest.raises(ValueError, match="fps"):
        jitter(standing_still(6), fps=0.0)


def test_the_report_pools_skating_over_transitions():
    still = standing_still(5)  # 4 transitions, none skating
    sliding = walking_in_place_translated(1.0, 11)  # 10 transitions, all skating
    report = physical_report([still, sliding])
    assert report.skating_ratio == pytest.approx(10 / 14)  # not (0 + 1) / 2


def test_the_report_averages_the_other_metrics_per_clip_in_centimetres():
    hovering = standing_still(8)
    hovering[:, :, 1] += 0.3  # floats 25 cm
    sunken = standing_still(20)
    sunken[:, :, 1] -= 0.1  # penetrates 10 cm
    report = physical_report([hovering, sunken])
    assert isinstance(report, PhysicalReport)
    assert report.penetration_cm == pytest.approx(5.0)
    assert report.floating_cm == pytest.approx(12.5)
    assert report.jitter == pytest.approx(0.0, abs=1e-9)
    assert report.bone_drift == pytest.approx(0.0, abs=1e-12)
    assert report.as_dict() == {
        "skating_ratio": 0.0,
        "penetration_cm": report.penetration_cm,
        "floating_cm": report.floating_cm,
        "jitter": report.jitter,
        "bone_drift": report.bone_drift,
    }


def test_the_report_needs_at_least_one_clip():
    with pytest.raises(ValueError, match="at least one"):
        physical_report([])
