"""Bodies (presets, 3D pose files, rig BVHs), motions carried onto them, root paths, and keys in long
motions, through the API and the command line."""

import json

import numpy as np
import pytest

from keymask.cli.main import main
from keymask.conditioning.bodies import load_body
from keymask.conditioning.keyed_generation import KeyFrame, generate_with_key_poses
from keymask.conditioning.paths import PathError, RootPath, check_path, follow_path, read_path
from keymask.conditioning.pose_files import write_keypose3d
from keymask.conditioning.poses import KeyPose3D
from keymask.conditioning.refine import bone_direction_error, pose_error
from keymask.core.facing import canonical_pose
from keymask.core.animation import BodyError, animate, body_of, body_preset, body_presets, mixed_body
from keymask.core.generation.pipeline import MotionPipeline
from keymask.core.skeleton import HUMANML3D_SKELETON
from keymask.resources import RESOURCES_DIR
from test_rig_export import MIXAMO_RIG, a_motion, rig_text


@pytest.fixture(scope="module")
def pipeline():
    return MotionPipeline.from_folder(RESOURCES_DIR / "models" / "default")


def bone_lengths(joints: np.ndarray) -> np.ndarray:
    parents = list(HUMANML3D_SKELETON.parents[1:])
    return np.linalg.norm(joints[..., 1:, :] - joints[..., parents, :], axis=-1)


def test_presets_differ_in_size_and_the_model_body_is_the_template():
    heights = {name: body_preset(name).height() for name in body_presets()}
    assert set(heights) >= {"model", "average", "bandai-actor", "hdm05-actor", "cmu-actor"}
    assert 1.40 < heights["model"] < 1.55 and heights["hdm05-actor"] > heights["bandai-actor"] + 0.2
    with pytest.raises(BodyError, match="No body preset 'giant'"):
        body_preset("giant")


def test_a_mixed_body_lies_between_the_presets_and_differs_by_seed():
    heights = [body_preset(name).height() for name in body_presets() if name != "average"]
    bodies = [mixed_body(np.random.default_rng(seed)) for seed in range(3)]
    for body in bodies:
        assert min(heights) - 1e-9 <= body.height() <= max(heights) + 1e-9
    assert not np.allclose(bodies[0].offsets, bodies[1].offsets)
    assert np.allclose(mixed_body(np.random.default_rng(0)).offsets, bodies[0].offsets)


def test_a_body_comes_from_a_pose_file_and_from_a_rig_rest_pose_or_frame(tmp_path):
    pose = a_motion(5).on_body(body_preset("cmu-actor")).joints()[3]
    write_keypose3d(tmp_path / "actor.json", KeyPose3D(canonical_pose(pose)))
    from_file = load_body(str(tmp_path / "actor.json"))
    np.testing.assert_allclose(from_file.bone_lengths(), body_preset("cmu-actor").bone_lengths(), atol=2e-6)
    (tmp_path / "rig.bvh").write_text(rig_text(MIXAMO_RIG, prefix="mixamorig:"))
    rest = load_body(str(tmp_path / "rig.bvh"))
    assert rest.leg_length() == pytest.approx(0.42 + 0.41, abs=0.01)  # thigh + shin of the written rig, in metres
    framed = load_body(str(tmp_path / "rig.bvh") + "@0")
    np.testing.assert_allclose(framed.bone_lengths(), rest.bone_lengths(), atol=1e-9)
    with pytest.raises(BodyError, match="has 1 frames; frame 5"):
        load_body(str(tmp_path / "rig.bvh") + "@5")
    with pytest.raises(BodyError, match="does not exist"):
        load_body(str(tmp_path / "none.bvh"))
    with pytest.raises(BodyError, match="No body 'tall'"):
        load_body("tall")


def test_a_motion_carried_onto_a_body_keeps_its_rotations_and_scales_its_path():
    motion = a_motion(20)
    actor = body_preset("hdm05-actor")
    carried = motion.on_body(actor)
    joints = carried.joints()
    np.testing.assert_allclose(bone_lengths(joints)[0], bone_lengths(actor.rest_pose()[None])[0], atol=1e-9)
    for frame in (0, 10, 19):
        assert bone_direction_error(joints[frame], motion.joints()[frame]) < 1e-3  # degrees
    ratio = actor.leg_length() / motion.body.leg_length()
    np.testing.assert_allclose(carried.root, motion.root * ratio)
    with pytest.raises(BodyError, match="zero length"):
        body_of(np.zeros((22, 3)))


def test_a_path_is_followed_exactly_with_the_body_facing_along_it():
    frames = 80
    walk = a_motion(frames)  # travels along +X+Z
    arc = RootPath(np.array([[0.0, 0.0], [0.0, 1.0], [-1.0, 2.0], [-2.0, 2.0]]), np.array([0.0, 1.0, 2.5, 3.9]))
    followed = follow_path(walk, arc)
    np.testing.assert_allclose(followed[:, 0, [0, 2]], arc.positions(frames, 20.0), atol=1e-9)
    assert np.ptp(bone_lengths(followed), axis=0).max() < 1e-6  # the legs bend to hold planted feet, bones rigid
    forward = np.cross([0.0, 1.0, 0.0], followed[:, 2] - followed[:, 1])  # hips' right-to-left turned forward
    heading_end = np.degrees(np.arctan2(-forward[-1, 0], -forward[-1, 2]))
    assert heading_end == pytest.approx(np.degrees(np.arctan2(-1.0, 0.0)), abs=40)  # facing -X at the end


@pytest.mark.parametrize("path, message", [
    (RootPath([[0, 0], [0, 30]], [0, 2]), "needs 15.0 m/s"),
    (RootPath([[0, 0], [0, 3]], [0, 9]), "runs until 9.00 s"),
])
def test_a_path_out_of_reach_is_one_sentence(path, message):
    with pytest.raises(PathError, match=message):
        check_path(path, 80, 20.0)


def test_bad_path_files_are_one_sentence(tmp_path):
    for text, message in [('{"points": [[0, 0]]}', "not a path file"),
                          ('{"format": "keymask-path", "points": [[0, 0]]}', "at least two"),
                          ('{"format": "keymask-path", "points": [[0, 0], [1, 1]], "times": [1, 0]}', "increase"),
                          ("nope", "Cannot read")]:
        (tmp_path / "p.json").write_text(text)
        with pytest.raises(PathError, match=message):
            read_path(tmp_path / "p.json")


def test_keys_land_in_any_window_of_a_long_motion_on_a_chosen_body(pipeline):
    actor = body_preset("hdm05-actor")
    pose = a_motion(5).on_body(actor).joints()[4]
    keys = [KeyFrame(KeyPose3D(canonical_pose(pose)), 30), KeyFrame(KeyPose3D(canonical_pose(pose)), 402, hold=6)]
    result = generate_with_key_poses(pipeline, ["a person walks forward"], [keys], frames=480, seed=1, body=actor)
    joints = result.motions[0].joints.astype(np.float64)
    assert joints.shape == (480, 22, 3)
    for frame in (30, 402, 408):  # the second key is in the third window and held 0.3 s
        assert pose_error(joints[frame], pose) < 1e-4
    np.testing.assert_allclose(body_of(joints).offsets, actor.offsets, atol=1e-5)


def test_the_command_line_takes_hold_ease_body_path_and_rig(tmp_path, capsys, monkeypatch):
    pose = a_motion(5).on_body(body_preset("cmu-actor")).joints()[2]
    write_keypose3d(tmp_path / "actor.json", KeyPose3D(canonical_pose(pose)))
    (tmp_path / "rig.bvh").write_text(rig_text(MIXAMO_RIG, prefix="mixamorig:"))
    (tmp_path / "path.json").write_text(json.dumps({"format": "keymask-path", "points": [[0, 0], [1, 2]], "times": [0, 3]}))

    monkeypatch.chdir(tmp_path)

    def keymask(*args):
        code = main(list(args))
        return code, capsys.readouterr().err

    code, errors = keymask("generate", "a person walks", "--key-pose", "actor.json@1s:hold=0.5:ease=0.4", "--path",
                           "path.json", "--seed", "2", "-o", "keyed.bvh")
    assert code == 0, errors
    joints = np.load(tmp_path / "keyed.npy").astype(np.float64)
    assert len(joints) == 80  # 4 s, the shortest keyed motion; the path ends at 3 s and the pelvis stays there
    for frame in (20, 25, 30):  # reached at 1 s and held for 0.5 s, on the key's own body
        assert pose_error(joints[frame], pose) < 1e-4
    assert np.abs(joints[:, 0, [0, 2]] - RootPath([[0, 0], [1, 2]], [0, 3]).positions(80, 20)).max() < 1e-5

    code, errors = keymask("generate", "a person waves", "--seconds", "2", "--rig", "rig.bvh", "--seed", "1", "-o",
                           "rig_out.bvh")
    assert code == 0, errors
    assert "mixamorig:LeftHandIndex1" in (tmp_path / "rig_out.bvh").read_text()

    for args, message in [(("--key-pose", "actor.json@1s:spin=2"), "Cannot read --key-pose"),
                          (("--key-pose", "actor.json@0.5s:hold=1", "--key-pose", "actor.json@1s"), "past the next key"),
                          (("--body", "giant"), "No body 'giant'"),
                          (("--rig", "actor.json"), "Cannot use actor.json as a rig"),
                          (("--rig", "rig.bvh", "--body", "average"), "brings its own proportions")]:
        code, errors = keymask("generate", "a person walks", "--seconds", "2", *args, "-o", "bad.bvh")
        assert code != 0 and message in errors and "Traceback" not in errors
        assert not (tmp_path / "bad.bvh").exists()


def test_keys_in_a_long_motion_work_with_official_checkpoints(parity_pipeline):
    """The official-format (torch) models through the same keyed path, past one window."""
    pose = a_motion(5).joints()[4]
    frames = parity_pipeline.spec.max_frames + 80
    keys = [KeyFrame(KeyPose3D(canonical_pose(pose)), frames - 20)]
    result = generate_with_key_poses(parity_pipeline, ["a person walks"], [keys], frames=frames, seed=0)
    joints = result.motions[0].joints.astype(np.float64)
    assert len(joints) == frames // 4 * 4 and np.isfinite(joints).all()
    assert bone_direction_error(joints[frames - 20], pose) < 0.5


def test_lifted_keys_give_their_own_symmetric_body_and_3d_files_come_first():
    from keymask.conditioning.keyed_generation import body_of_keys

    actor_pose = a_motion(5).on_body(body_preset("hdm05-actor")).joints()[1]
    lifted = KeyPose3D(canonical_pose(actor_pose), source={"lifter": "resources/models/lifter"})
    drawn = KeyPose3D(canonical_pose(a_motion(5).on_body(body_preset("cmu-actor")).joints()[1]), source={"file": "a.json"})
    from_lifted = body_of_keys([KeyFrame(lifted, 10)])
    mirrored = from_lifted.offsets[[0, 2, 1, 3, 5, 4, 6, 8, 7, 9, 11, 10, 12, 14, 13, 15, 17, 16, 19, 18, 21, 20]]
    np.testing.assert_allclose(from_lifted.offsets, mirrored * [-1.0, 1.0, 1.0], atol=1e-12)  # left = right
    assert from_lifted.leg_length() == pytest.approx(body_preset("hdm05-actor").leg_length(), abs=1e-3)
    chosen = body_of_keys([KeyFrame(lifted, 10), KeyFrame(drawn, 30)])
    assert chosen.leg_length() == pytest.approx(body_preset("cmu-actor").leg_length(), abs=1e-6)
    assert body_of_keys([]) is None
