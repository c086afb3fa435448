"""Key poses in generation: placement, refinement, tokens and the whole keyed generation (shipped model)."""

import numpy as np
import pytest

from keymask.conditioning.key_tokens import hold_tokens
from keymask.conditioning.keyed_generation import KeyFrame, KeySettings, check_keys, generate_with_key_poses
from keymask.conditioning.poses import KeyPose3D
from keymask.conditioning.refine import (
    KeyTiming,
    bone_direction_error,
    canonical_pose,
    heading,
    key_weights,
    PlacedKey,
    PoseTarget,
    place_key_pose,
    pose_error,
    refine_to_keys,
    with_bone_lengths,
)
from keymask.core.animation import Animation, body_of, body_preset
from keymask.core.rotations import quat_from_axis_angle, quat_to_matrix, rotate_about_y
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
    turned = rotate_about_y(pose, 0.7) + [1.0, 0.0, 2.0]
    assert heading(turned) == pytest.approx(0.7)
    np.testing.assert_allclose(canonical_pose(turned), pose, atol=1e-12)


def test_body_keys_take_the_motion_frames_place_facing_and_floor():
    frame = rotate_about_y(canonical_pose(rest_pose()), -1.2) + [3.0, 0.0, -1.0]
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


def wandering_motion(frames: int = 80, seed: int = 0) -> np.ndarray:
    """(T, 22, 3) the template body with every joint turning smoothly and the root drifting."""
    rng = np.random.default_rng(seed)
    rotvec = np.cumsum(rng.normal(0, 0.01, (frames, 22, 3)), axis=0)  # (T, J, 3) radians
    angle = np.linalg.norm(rotvec, axis=-1)
    rotations = quat_to_matrix(quat_from_axis_angle(rotvec / np.maximum(angle, 1e-9)[..., None], angle))
    root = np.cumsum(rng.normal(0, 0.01, (frames, 3)), axis=0) + [0.0, 0.9, 0.0]
    return Animation(root, rotations, body_preset("model")).joints()


def bone_lengths(joints: np.ndarray) -> np.ndarray:
    parents = list(HUMANML3D_SKELETON.parents[1:])
    return np.linalg.norm(joints[..., 1:, :] - joints[..., parents, :], axis=-1)  # (..., J-1)


def test_refinement_hits_every_key_exactly_with_rigid_bones_and_eases():
    motion = wandering_motion()
    keys = [(30, KeyPose3D(arms_up()), "body", KeyTiming()), (44, KeyPose3D(canonical_pose(motion[5])), "body", KeyTiming())]
    refined = refine_to_keys(motion, keys)
    for frame, key, _, _ in keys:
        assert bone_direction_error(refined[frame], key.joints) < 1e-4  # degrees (arccos rounding)
    lengths = bone_lengths(refined)
    assert np.ptp(lengths, axis=0).max() < 1e-9  # every bone the same length in every frame
    np.testing.assert_allclose(lengths[0], bone_lengths(motion)[0], atol=1e-9)  # the motion's own body
    np.testing.assert_allclose(refined[:15], motion[:15], atol=1e-9)  # before the first ease: untouched
    np.testing.assert_allclose(refined[60:], motion[60:], atol=1e-9)  # after the last one
    change = np.linalg.norm(refined - motion, axis=-1)  # (T, J)
    steps = np.linalg.norm(np.diff(refined - motion, axis=0), axis=-1)  # (T-1, J)
    assert change[30].max() > 1.0 and steps.max() < 0.25  # a metre of change spread over the 15-frame eases
    assert steps[15].max() < 0.03 and steps[58].max() < 0.03  # and starting and ending gently


def test_a_held_key_stays_still_and_eases_stop_at_the_neighbours():
    motion = wandering_motion(seed=1)
    refined = refine_to_keys(motion, [(20, KeyPose3D(arms_up()), "body", KeyTiming(hold=6, ease_in=8, ease_out=4))])
    for frame in range(20, 27):
        np.testing.assert_allclose(refined[frame], refined[20], atol=1e-9)  # held, root included
    np.testing.assert_allclose(refined[:12], motion[:12], atol=1e-9)  # eased in over 8 frames only
    np.testing.assert_allclose(refined[31:], motion[31:], atol=1e-9)  # and out over 4
    target = PoseTarget(np.zeros(3), np.broadcast_to(np.eye(3), (22, 3, 3)))
    weights = key_weights([PlacedKey(10, target, KeyTiming(ease_out=30)), PlacedKey(16, target, KeyTiming(ease_in=30))], 30)
    assert weights[16, 0] == 0 and weights[10, 1] == 0 and weights[13].tolist() == pytest.approx([0.5, 0.5])


def test_keys_land_exactly_on_a_chosen_body():
    motion = wandering_motion(seed=2)
    actor = body_preset("cmu-actor")
    key_pose = Animation(np.zeros((1, 3)), quat_to_matrix(quat_from_axis_angle(np.tile([1.0, 0.2, 0.0], (1, 22, 1)),
                                                                                0.3)), actor).joints()[0]
    refined = refine_to_keys(motion, [(40, KeyPose3D(canonical_pose(key_pose)), "body", KeyTiming())], actor)
    assert pose_error(refined[40], key_pose) < 1e-9
    np.testing.assert_allclose(body_of(refined).offsets, actor.offsets, atol=1e-9)
    assert abs(bone_lengths(refined).sum(-1).mean() - bone_lengths(key_pose).sum()) < 1e-9


@pytest.mark.parametrize("frames, hold, message", [([10, 200], 0, "outside the motion"), ([10, 11], 0, "same 0.2 s token window"),
                                                   ([-4], 0, "outside"), ([10, 20], 12, "past the next key"),
                                                   ([110], 20, "past the motion's end"), ([10], -1, "negative")])
def test_bad_key_times_are_refused(frames, hold, message):
    keys = [KeyFrame(KeyPose3D(rest_pose()), f, hold=hold) for f in frames]
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
    moved = rotate_about_y(pose, 2.0) + [0.3, 0.1, -4.0]
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
            # exactly the key's bone directions on the motion's own body, so close to the key itself
            assert bone_direction_error(reached, key.pose.joints) < 0.5  # degrees (facing fitted on all joints)
            assert pose_error(reached, place_key_pose(key.pose, reached)) < 1e-4  # the key on this body (float32)
        assert np.ptp(bone_lengths(motion.joints), axis=0).max() < 1e-6  # rigid bones (float32)
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
