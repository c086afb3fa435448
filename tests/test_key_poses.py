"""Key poses in generation: placement, refinement, tokens and the whole keyed generation (shipped model)."""

import numpy as np
import pytest

from keymask.conditioning.key_tokens import hold_tokens
from keymask.conditioning.keyed_generation import KeyFrame, KeySettings, check_keys, generate_with_key_poses
from keymask.conditioning.poses import KeyPose3D
from keymask.conditioning.refine import (
    PlacedKey,
    canonical_pose,
    heading,
    key_window,
    place_key_pose,
    pose_error,
    refine_to_keys,
    turn_about_y,
    with_bone_lengths,
)
from keymask.core.features import recover_from_ric
from keymask.core.generation.pipeline import GenerationInputError, MotionPipeline
from keymask.core.skeleton import HUMANML3D_SKELETON, target_offsets
from keymask.resources import RESOURCES_DIR


@pytest.fixture(scope="module")
def pipeline():
    return MotionPipeline.from_folder(RESOURCES_DIR / "models" / "default")


def rest_pose() -> np.ndarray:
    """(22, 3) the skeleton's rest pose, pelvis at the origin (offsets accumulated down the tree)."""
    offsets = target_offsets()
    pose = np.zeros((22, 3))
    for joint, parent in enumerate(HUMANML3D_SKELETON.parents):
        if parent >= 0:
            pose[joint] = pose[parent] + offsets[joint]
    return pose


def arms_up() -> np.ndarray:
    pose = canonical_pose(rest_pose())
    for shoulder, elbow, wrist in ((16, 18, 20), (17, 19, 21)):
        upper, lower = np.linalg.norm(pose[elbow] - pose[shoulder]), np.linalg.norm(pose[wrist] - pose[elbow])
        pose[elbow] = pose[shoulder] + [0, upper, 0]
        pose[wrist] = pose[elbow] + [0, lower, 0]
    return pose


# ----------------------------------------------------------------------------------------------
# Placement and refinement (pure)


def test_canonical_pose_faces_z_and_heading_reads_the_turn():
    pose = canonical_pose(rest_pose())
    assert abs(heading(pose)) < 1e-9 and np.allclose(pose[0], 0)
    turned = turn_about_y(pose, 0.7) + [1.0, 0.0, 2.0]
    assert heading(turned) == pytest.approx(0.7)
    np.testing.assert_allclose(canonical_pose(turned), pose, atol=1e-12)


def test_body_keys_take_the_motion_frames_place_facing_and_floor():
    frame = turn_about_y(canonical_pose(rest_pose()), -1.2) + [3.0, 0.0, -1.0]
    frame[:, 1] += 0.93 - frame[:, 1].min() + 0.02  # the motion's lowest joint 2 cm above the floor
    target = place_key_pose(KeyPose3D(arms_up()), frame)
    assert heading(target) == pytest.approx(-1.2)
    np.testing.assert_allclose(target[0, [0, 2]], frame[0, [0, 2]])
    assert target[:, 1].min() == pytest.approx(frame[:, 1].min())
    np.testing.assert_allclose(canonical_pose(target), canonical_pose(arms_up()), atol=1e-12)


def test_root_keys_use_their_own_position_and_facing():
    key = KeyPose3D(arms_up(), root_position=np.array([0.5, 0.9, 2.0]), facing=np.pi / 2)
    target = place_key_pose(key, canonical_pose(rest_pose()), "root")
    np.testing.assert_allclose(target[0], [0.5, 0.9, 2.0])
    assert heading(target) == pytest.approx(np.pi / 2)
    with pytest.raises(ValueError, match="body or root"):
        place_key_pose(key, rest_pose(), "hands")


def test_refinement_hits_every_key_exactly_and_fades_out_smoothly():
    rng = np.random.default_rng(0)
    motion = np.cumsum(rng.normal(0, 0.005, (80, 22, 3)), axis=0)
    keys = [PlacedKey(30, motion[30] + rng.normal(0, 0.05, (22, 3))),
            PlacedKey(36, motion[36] + rng.normal(0, 0.05, (22, 3)))]  # overlapping windows
    refined = refine_to_keys(motion, keys, radius=10)
    for key in keys:
        np.testing.assert_allclose(refined[key.frame], key.target, atol=1e-12)
    np.testing.assert_array_equal(refined[:20], motion[:20])  # beyond the windows: untouched
    np.testing.assert_array_equal(refined[47:], motion[47:])
    change = refined - motion
    steps = np.abs(np.diff(change, axis=0)).max()
    assert steps < 0.05  # no jump: the offset is spread over the window
    assert key_window(np.array([0, 5, 10, 11]), 10).tolist() == pytest.approx([1.0, 0.5, 0.0, 0.0])


@pytest.mark.parametrize("frames, message", [([10, 200], "outside the motion"), ([10, 11], "same 0.2 s token window"),
                                             ([-4], "outside")])
def test_bad_key_times_are_refused(frames, message):
    keys = [KeyFrame(KeyPose3D(rest_pose()), f) for f in frames]
    with pytest.raises(GenerationInputError, match=message):
        check_keys(keys, 120, 20, 4)


# ----------------------------------------------------------------------------------------------
# Tokens and generation (shipped model)


def test_a_held_pose_decodes_near_itself(pipeline):
    natural = pipeline(["a person walks forward"], frames=40, seed=0).motions[0].joints[20]  # a pose the model makes
    pose = KeyPose3D(canonical_pose(natural))
    tokens = hold_tokens(pipeline, pose)
    assert tokens.shape == (pipeline.num_quantizers,) and (tokens >= 0).all()
    decoded = recover_from_ric(pipeline.decode_tokens(np.repeat(tokens[None, None], 3, axis=1))[0])  # (12, 22, 3)
    assert pose_error(decoded[6], pose.joints) < 0.08  # metres: about the tokenizer's error on poses in motion
    assert pose_error(decoded[6], arms_up()) > pose_error(decoded[6], pose.joints) + 0.05


def test_bone_lengths_come_from_the_reference_and_directions_stay():
    pose, reference = arms_up(), 1.1 * rest_pose()
    fitted = with_bone_lengths(pose, reference)
    for child, parent in enumerate(HUMANML3D_SKELETON.parents[1:], start=1):
        bone, original = fitted[child] - fitted[parent], pose[child] - pose[parent]
        assert np.linalg.norm(bone) == pytest.approx(np.linalg.norm(reference[child] - reference[parent]))
        np.testing.assert_allclose(bone / np.linalg.norm(bone), original / np.linalg.norm(original), atol=1e-12)


def test_pose_error_ignores_place_and_facing():
    pose = arms_up()
    moved = turn_about_y(pose, 2.0) + [0.3, 0.1, -4.0]
    assert pose_error(moved, pose) < 1e-12
    assert pose_error(canonical_pose(rest_pose()), pose) > 0.1


def test_exactly_reversed_bones_encode_without_nan(pipeline):
    tokens = hold_tokens(pipeline, KeyPose3D(arms_up()))  # upper arms reversed against the rest pose
    assert (tokens >= 0).all()


@pytest.mark.parametrize("method", ["hold", "context"])
def test_keyed_generation_passes_through_the_keys(pipeline, method):
    keys = [[KeyFrame(KeyPose3D(arms_up()), 42)], [KeyFrame(KeyPose3D(rest_pose()), 10), KeyFrame(KeyPose3D(arms_up()), 70)]]
    settings = KeySettings(token_method=method)
    result = generate_with_key_poses(pipeline, ["a person waves", "a person walks forward"], keys, frames=[80, 100],
                                     samples=2, seed=5, key_settings=settings)
    assert [len(m.joints) for m in result.motions] == [80, 80, 100, 100]
    for motion, motion_keys in zip(result.motions, [keys[0], keys[0], keys[1], keys[1]]):
        for key in motion_keys:
            reached = motion.joints[key.frame]
            # exactly the key's bone directions on the motion's own bones, so close to the key itself
            assert pose_error(reached, with_bone_lengths(key.pose.joints, reached)) < 1e-4  # float32 joints
            assert pose_error(reached, key.pose.joints) < 0.02
        assert np.isfinite(motion.joints).all()
    again = generate_with_key_poses(pipeline, ["a person waves", "a person walks forward"], keys, frames=[80, 100],
                                    samples=2, seed=5, key_settings=settings)
    np.testing.assert_array_equal(again.motions[3].joints, result.motions[3].joints)


def test_held_tokens_are_in_the_decoded_tokens(pipeline):
    key = KeyFrame(KeyPose3D(arms_up()), 41)
    result = generate_with_key_poses(pipeline, ["a person raises both hands"], [[key]], frames=80, seed=1,
                                     key_settings=KeySettings(token_method="hold", refine=False))
    np.testing.assert_array_equal(result.motions[0].tokens[41 // 4], hold_tokens(pipeline, key.pose))


def test_fixed_tokens_bring_the_motion_closer_than_text_alone(pipeline):
    key = KeyFrame(KeyPose3D(arms_up()), 40)
    prompt, frames = ["a person walks forward"], 80

    def error(motion) -> float:
        return pose_error(motion.joints[40], key.pose.joints)

    free = [error(pipeline(prompt, frames=frames, seed=s).motions[0]) for s in range(3)]
    held = [error(generate_with_key_poses(pipeline, prompt, [[key]], frames=frames, seed=s,
                                          key_settings=KeySettings(refine=False)).motions[0]) for s in range(3)]
    assert np.mean(held) < np.mean(free)
