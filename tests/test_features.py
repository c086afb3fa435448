"""The 263-d HumanML3D features: parity with the official MoMask code and round trips."""

import numpy as np
import pytest
import torch

from keymask.core.features import (
    HUMANML3D_LAYOUT,
    FeatureLayout,
    canonicalize,
    joints_to_features,
    recover_from_ric,
)
from keymask.core.rotations import quat_from_axis_angle, quat_rotate
from keymask.core.skeleton import HUMANML3D_SKELETON, target_offsets
from keymask.core.spec import HUMANML3D

CLIPS = range(5)


@pytest.fixture(scope="module")
def golden_features(parity_dir):
    with np.load(parity_dir / "golden_features.npz") as archive:
        return dict(archive)


def test_layout_covers_the_vector_in_order():
    layout = HUMANML3D_LAYOUT
    parts = [
        (layout.root_angular_velocity, 1),
        (layout.root_linear_velocity, 2),
        (layout.root_height, 1),
        (layout.ric, 21 * 3),
        (layout.rotations, 21 * 6),
        (layout.local_velocities, 22 * 3),
        (layout.foot_contacts, 4),
    ]
    start = 0
    for part, length in parts:
        assert (part.start, part.stop) == (start, start + length)
        start = part.stop
    assert layout.size == start == HUMANML3D.n_features == 263
    assert FeatureLayout.from_size(263) == layout
    with pytest.raises(ValueError):
        FeatureLayout.from_size(262)


@pytest.mark.parametrize("k", CLIPS)
def test_features_match_official_process_file(golden_features, k):
    ours = joints_to_features(golden_features[f"joints_{k}"], target_offsets=golden_features["tgt_offsets"])
    expected = golden_features[f"features_{k}"]
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, atol=1e-4, rtol=0)
    np.testing.assert_array_equal(ours[:, HUMANML3D_LAYOUT.foot_contacts], expected[:, HUMANML3D_LAYOUT.foot_contacts])


@pytest.mark.parametrize("k", CLIPS)
def test_recover_from_ric_matches_official(golden_features, k):
    recovered = recover_from_ric(golden_features[f"features_{k}"])
    np.testing.assert_allclose(recovered, golden_features[f"recovered_{k}"], atol=1e-4, rtol=0)


def test_recover_from_ric_matches_official_on_generated_motion(parity_dir):
    golden = np.load(parity_dir / "golden.npz")
    meta = parity_dir / "checkpoints" / "t2m" / "rvq_A" / "meta"
    features = golden["gen_decoded"] * np.load(meta / "std.npy") + np.load(meta / "mean.npy")  # (B, T, D)
    np.testing.assert_allclose(recover_from_ric(features), golden["gen_joints"], atol=1e-5, rtol=0)
    as_tensor = recover_from_ric(torch.from_numpy(features))  # float32, as the official code runs
    assert isinstance(as_tensor, torch.Tensor) and as_tensor.dtype == torch.float32
    np.testing.assert_allclose(as_tensor.numpy(), golden["gen_joints"], atol=1e-5, rtol=0)


@pytest.mark.parametrize("k", CLIPS)
def test_round_trip_on_real_clips_is_below_a_millimetre(golden_features, k):
    joints = golden_features[f"joints_{k}"]
    canonical = canonicalize(joints)
    recovered = recover_from_ric(joints_to_features(joints))
    assert np.abs(recovered - canonical[:-1]).max() < 1e-3


def test_canonical_motion_is_on_the_floor_at_the_origin_on_the_target_skeleton(golden_features):
    canonical = canonicalize(golden_features["joints_1"])
    assert canonical[..., 1].min() == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(canonical[0, 0, [0, 2]], 0.0, atol=1e-12)
    parents = list(HUMANML3D_SKELETON.parents)
    bone_lengths = np.linalg.norm(canonical[:, 1:] - canonical[:, parents[1:]], axis=-1)  # (T, J-1)
    target_lengths = np.linalg.norm(target_offsets()[1:], axis=-1)  # (J-1,)
    np.testing.assert_allclose(bone_lengths, np.broadcast_to(target_lengths, bone_lengths.shape), atol=1e-9)
    # Frame 0 faces +Z: the shoulders and hips lie across X.
    right_hip, left_hip = HUMANML3D_SKELETON.index("right_hip"), HUMANML3D_SKELETON.index("left_hip")
    right_sh, left_sh = HUMANML3D_SKELETON.index("right_shoulder"), HUMANML3D_SKELETON.index("left_shoulder")
    across = canonical[0, right_hip] - canonical[0, left_hip] + canonical[0, right_sh] - canonical[0, left_sh]
    assert across[2] == pytest.approx(0.0, abs=1e-12) and across[0] < 0


def test_features_ignore_where_the_motion_starts_and_which_way_it_faces(golden_features):
    joints = golden_features["joints_2"].astype(np.float64)
    turn = quat_from_axis_angle(np.array([0.0, 1.0, 0.0]), 2.2)
    moved = quat_rotate(turn, joints) + np.array([3.0, 0.4, -2.0])
    np.testing.assert_allclose(joints_to_features(moved), joints_to_features(joints), atol=1e-9)


def test_recover_from_ric_takes_batches_and_tensors_with_gradients(golden_features):
    features = golden_features["features_3"].astype(np.float64)  # (T, D)
    single = recover_from_ric(features)  # (T, J, 3)
    batch = recover_from_ric(np.stack([features, features[::-1]]))  # (2, T, J, 3)
    assert single.shape == (len(features), 22, 3) and batch.shape == (2,) + single.shape
    np.testing.assert_allclose(batch[0], single, atol=1e-12)
    tensor = torch.from_numpy(features).requires_grad_()
    recovered = recover_from_ric(tensor)
    np.testing.assert_allclose(recovered.detach().numpy(), single, atol=1e-12)
    recovered.sum().backward()
    assert tensor.grad is not None and torch.isfinite(tensor.grad).all()


def test_foot_contacts_follow_the_threshold(golden_features):
    joints = golden_features["joints_0"]
    contacts = joints_to_features(joints)[:, HUMANML3D_LAYOUT.foot_contacts]
    assert set(np.unique(contacts)) <= {0.0, 1.0}
    nothing = joints_to_features(joints, foot_contact_threshold=0.0)[:, HUMANML3D_LAYOUT.foot_contacts]
    everything = joints_to_features(joints, foot_contact_threshold=1e3)[:, HUMANML3D_LAYOUT.foot_contacts]
    assert not nothing.any() and everything.all()


def test_round_trip_holds_when_the_facing_crosses_180_degrees(golden_features):
    """A clip that keeps turning (a spin of 300 degrees about the root) must not bend its path."""
    joints = golden_features["joints_0"].astype(np.float64)  # (T, J, 3)
    angles = np.linspace(0.0, np.radians(300.0), len(joints))  # (T,)
    spin = quat_from_axis_angle(np.array([0.0, 1.0, 0.0]), angles)[:, None]  # (T, 1, 4)
    root_xz = joints[:, :1] * np.array([1.0, 0.0, 1.0])
    spun = quat_rotate(spin, joints - root_xz) + root_xz
    recovered = recover_from_ric(joints_to_features(spun))
    assert np.abs(recovered - canonicalize(spun)[:-1]).max() < 1e-3


@pytest.mark.parametrize("clip", ["dataset-2_walk-turn-left_normal_033.bvh", "dataset-1_kick_normal_001.bvh"])
def test_canonical_frame_maps_back_to_the_source(bandai_clip, clip):
    """to_world undoes canonicalize on a rigid skeleton (the golden joints are not rigid: their
    retargeting interpolated positions, so no fixed skeleton reproduces them)."""
    from keymask.core.bvh.reader import read_bvh
    from keymask.core.data.retarget import bandai_to_humanml3d
    from keymask.core.features import canonical_frame
    from keymask.core.kinematics import offsets_from_joints

    joints = bandai_to_humanml3d(read_bvh(bandai_clip(clip)))
    frame, canonical = canonical_frame(joints)
    back = frame.to_world(canonical, offsets_from_joints(joints[0]))
    assert np.abs(back - joints).max() < 1e-4  # 0.1 mm
