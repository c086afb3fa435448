"""Bandai -> HumanML3D retargeting: rigid bones, left is left, 20 fps."""

import dataclasses

import numpy as np
import pytest

from keymask.core.bvh.reader import read_bvh
from keymask.core.data.retarget import NotBandaiSkeletonError, bandai_to_humanml3d
from keymask.core.skeleton import HUMANML3D_SKELETON as SKELETON

WALK_CLIP = "dataset-1_walk_normal_001.bvh"  # 195 frames at 30 fps, walks towards +Z


@pytest.fixture(scope="module")
def walk(bandai_clip):
    return read_bvh(bandai_clip(WALK_CLIP))


@pytest.fixture(scope="module")
def walk_joints(walk) -> np.ndarray:
    return bandai_to_humanml3d(walk)  # (T, 22, 3)


def _bone_lengths(joints: np.ndarray) -> np.ndarray:
    parents = list(SKELETON.parents[1:])
    return np.linalg.norm(joints[:, 1:] - joints[:, parents], axis=-1)  # (T, J - 1)


def test_bone_lengths_stay_constant(walk_joints):
    lengths = _bone_lengths(walk_joints)
    assert np.ptp(lengths, axis=0).max() < 1e-6
    assert lengths.min() > 0.01


def test_spine2_lies_between_spine1_and_spine3(walk_joints):
    spine1, spine2, spine3 = (walk_joints[:, SKELETON.index(n)] for n in ("spine1", "spine2", "spine3"))
    gap = np.linalg.norm(spine2 - (spine1 + spine3) / 2, axis=-1)
    assert gap.max() < 0.01


def test_left_joints_are_on_the_left_of_the_walking_direction(walk_joints):
    up = np.array([0.0, 1.0, 0.0])
    pelvis = walk_joints[:, SKELETON.index("pelvis")]
    velocity = pelvis[-1] - pelvis[0]
    left_of_walk = np.cross(up, velocity)  # HumanML3D: facing +Z, the left is +X
    left_of_walk /= np.linalg.norm(left_of_walk)
    for left, right in [("left_hip", "right_hip"), ("left_collar", "right_collar"), ("left_shoulder", "right_shoulder")]:
        across = walk_joints[:, SKELETON.index(left)] - walk_joints[:, SKELETON.index(right)]  # (T, 3)
        across /= np.linalg.norm(across, axis=-1, keepdims=True)
        assert (across @ left_of_walk).mean() > 0.8


def test_metres_with_y_up(walk_joints):
    pelvis_height = walk_joints[:, SKELETON.index("pelvis"), 1]
    assert 0.7 < np.median(pelvis_height) < 1.2
    assert walk_joints[:, SKELETON.index("head"), 1].min() > pelvis_height.max()


def test_resampled_to_20_fps(walk):
    assert walk.n_frames == 195 and walk.fps == pytest.approx(30, rel=1e-5)
    joints = bandai_to_humanml3d(walk)
    assert joints.shape == (130, 22, 3)  # 194 intervals of 1/30 s = 6.47 s -> 130 frames at 20 fps
    at_30_fps = bandai_to_humanml3d(walk, fps=30)
    assert at_30_fps.shape == (195, 22, 3)
    # Every second frame at 20 fps falls on every third original frame.
    np.testing.assert_allclose(joints[::2], at_30_fps[::3][: len(joints[::2])], atol=1e-9)


def test_other_skeletons_are_refused(walk):
    joints = list(walk.skeleton.joints)
    joints[joints.index(next(j for j in joints if j.name == "Chest"))] = dataclasses.replace(
        next(j for j in joints if j.name == "Chest"), name="UpperChest"
    )
    renamed = dataclasses.replace(walk, skeleton=dataclasses.replace(walk.skeleton, joints=tuple(joints)))
    with pytest.raises(NotBandaiSkeletonError, match="Chest"):
        bandai_to_humanml3d(renamed)
