"""2D -> 3D lifting: projection geometry, normalisation, the torch and numpy lifters, training,
the shipped lifter and the refusal of poses with too few joints."""

import csv
import subprocess
import sys

import numpy as np
import pytest
import torch

from keymask.conditioning.lifting.evaluate import evaluate_on_poses, procrustes_align, seeded_views, split_poses
from keymask.conditioning.lifting.lift import SHIPPED_LIFTER, LiftingError, lift_keypoints, lift_pose, shipped_lifter
from keymask.conditioning.lifting.model import LifterConfig, NumpyPoseLifter, PoseLifter, lifter_inputs
from keymask.conditioning.lifting.numpy_lifter import normalise_keypoints
from keymask.conditioning.lifting.projection import (
    BODY_KEYPOINTS,
    Camera,
    CameraSampler,
    coco18_from_joints,
    drop_joints,
    orbit_position,
    project,
)
from keymask.conditioning.poses import COCO18_JOINTS, KeyPose3D, Pose2D
from keymask.core.facing import body_heading, canonical_pose
from keymask.core.paths import default_dataset_dir
from keymask.core.rotations import rotate_about_y
from keymask.core.skeleton import HUMANML3D_SKELETON, target_offsets

TINY = LifterConfig(width=16, blocks=2, dropout=0.1)


def rest_pose() -> np.ndarray:
    """(22, 3) the HumanML3D target skeleton standing, arms down: pelvis at 0, facing +Z. (The
    template's head bone points forward; here it points up, as in the data.)"""
    offsets = target_offsets()
    joints = np.zeros((22, 3))
    for j, parent in enumerate(HUMANML3D_SKELETON.parents):
        if parent >= 0:
            joints[j] = joints[parent] + offsets[j]
    names = HUMANML3D_SKELETON.index
    joints[names("head")] = joints[names("neck")] + [0.0, 0.1, 0.02]
    return joints


def tiny_lifter(seed: int = 0) -> PoseLifter:
    """A random tiny lifter whose LayerNorms are not the identity either."""
    torch.manual_seed(seed)
    model = PoseLifter(TINY)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.weight.normal_(1.0, 0.2)
                module.bias.normal_(0.0, 0.2)
    return model.eval()


def random_views(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    keypoints = rng.uniform(0, 512, (n, 18, 2))
    present = rng.random((n, 18)) > 0.2
    return keypoints, present


# ----------------------------------------------------------------------------------------------
# Geometry


def test_a_known_camera_projects_a_known_point_to_the_expected_pixel():
    camera = Camera.look_at([0.0, 0.0, 5.0], [0.0, 0.0, 0.0], focal_px=1000.0, image_size=(640, 480))
    pixels = project(np.array([[0.5, 0.2, 0.0], [0.0, 0.0, 0.0]]), camera)
    # Seen from the front, the body's left (+X) is on the image's right and up (+Y) is up (smaller y).
    np.testing.assert_allclose(pixels, [[320 + 1000 * 0.5 / 5, 240 - 1000 * 0.2 / 5], [320, 240]], atol=1e-9)
    np.testing.assert_allclose(camera.position, [0.0, 0.0, 5.0], atol=1e-12)
    # A point nearer the camera lands further from the centre.
    near = project(np.array([[0.5, 0.2, 1.0]]), camera)
    np.testing.assert_allclose(near, [[320 + 1000 * 0.5 / 4, 240 - 1000 * 0.2 / 4]], atol=1e-9)


def test_the_azimuth_turns_the_camera_about_the_vertical_axis():
    points = np.random.default_rng(0).normal(0, 0.5, (30, 3))
    azimuth = 37.0

    def camera(a):
        return Camera.look_at(orbit_position([0.0, 0.0, 0.0], a, 10.0, 4.0), [0.0, 0.0, 0.0], 800.0, (512, 512))

    # Moving the camera by +a about Y shows what the first camera sees of the points turned by -a.
    turned = rotate_about_y(points, np.radians(-azimuth))
    np.testing.assert_allclose(project(points, camera(azimuth)), project(turned, camera(0.0)), atol=1e-9)
    # From the body's left (azimuth 90) its front (+Z) is on the image's left.
    side = project(np.array([[0.0, 0.0, 0.5]]), camera(90.0))
    assert side[0, 0] < 256 - 50


def test_sampled_cameras_see_the_whole_body_in_front_of_them():
    pose = rest_pose()
    camera = CameraSampler().sample(np.random.default_rng(1), 200)
    points = coco18_from_joints(np.broadcast_to(pose, (200, 22, 3)))
    depth = np.einsum("nij,nkj->nki", camera.rotation, points)[..., 2] + camera.translation[:, None, 2]
    assert (depth > 1.0).all()
    pixels = project(points, camera)
    height = pixels[..., 1].max(-1) - pixels[..., 1].min(-1)
    assert 80 < height.min() and height.max() < 800  # the ankles to the head, in pixels


def test_coco_points_come_from_the_right_joints_and_the_face_looks_forward():
    pose = rest_pose()
    points = coco18_from_joints(pose)
    names = HUMANML3D_SKELETON.index
    np.testing.assert_allclose(points[COCO18_JOINTS.index("right_wrist")], pose[names("right_wrist")])
    np.testing.assert_allclose(points[COCO18_JOINTS.index("left_knee")], pose[names("left_knee")])
    np.testing.assert_allclose(points[1], (pose[names("left_shoulder")] + pose[names("right_shoulder")]) / 2)
    nose, right_eye, left_eye, right_ear, left_ear = points[[0, 14, 15, 16, 17]]
    head = pose[names("head")]
    assert nose[2] > head[2] + 0.05 and right_ear[2] < nose[2]
    assert left_eye[0] > right_eye[0] and left_ear[0] - right_ear[0] > left_eye[0] - right_eye[0]
    # Turning the body turns the face with it.
    turned = rotate_about_y(pose, np.radians(50.0))
    np.testing.assert_allclose(coco18_from_joints(turned), rotate_about_y(points, np.radians(50.0)), atol=1e-12)


def test_canonical_pose_puts_the_pelvis_at_the_origin_and_faces_plus_z():
    pose = rest_pose()
    pose[HUMANML3D_SKELETON.index("left_wrist")] += [0.1, 0.3, 0.2]  # not symmetric
    moved = rotate_about_y(pose, np.radians(-120.0)) + [1.0, 0.9, -2.0]
    assert abs(np.degrees(body_heading(moved)) + 120.0) < 1e-9
    canonical = canonical_pose(moved)
    np.testing.assert_allclose(canonical, pose, atol=1e-12)
    assert abs(body_heading(canonical)) < 1e-12
    # Batched, the same per pose.
    batch = np.stack([moved, rotate_about_y(pose, np.radians(10.0))])
    np.testing.assert_allclose(canonical_pose(batch), np.stack([pose, pose]), atol=1e-12)


def test_procrustes_undoes_a_scale_rotation_and_translation():
    rng = np.random.default_rng(2)
    target = rng.normal(0, 0.4, (3, 22, 3))
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    rotation = q * np.sign(np.linalg.det(q))  # a proper rotation
    moved = 1.7 * target @ rotation.T + [0.3, -1.0, 2.0]
    np.testing.assert_allclose(procrustes_align(moved, target), target, atol=1e-9)


def test_drop_joints_drops_exactly_count_of_the_candidates():
    confidence = drop_joints(np.ones((50, 18)), np.arange(50) % 5, np.random.default_rng(3))
    assert ((confidence == 0).sum(-1) == np.arange(50) % 5).all()
    assert (confidence[:, 14:] == 1).all()  # eyes and ears are not body keypoints
    assert BODY_KEYPOINTS == tuple(range(14))


def test_normalisation_ignores_canvas_scale_and_placement_and_zeroes_missing_joints():
    keypoints, present = random_views(8)
    present[:4, [8, 11]] = True  # both hips: centred on them
    present[4:, 8] = False  # one hip missing: centred on the mean
    normalised, centre, scale = normalise_keypoints(keypoints, present)
    again, _, scale2 = normalise_keypoints(keypoints * 2.5 + [300.0, -40.0], present)
    np.testing.assert_allclose(again, normalised, atol=1e-12)
    np.testing.assert_allclose(scale2, scale * 2.5)
    np.testing.assert_allclose(centre[:4], keypoints[:4, [8, 11]].mean(1))
    assert (normalised[~present] == 0).all()
    inputs = lifter_inputs(keypoints, present)
    assert inputs.shape == (8, 54) and inputs.dtype == np.float32
    np.testing.assert_array_equal(inputs[:, 36:], present)


# ----------------------------------------------------------------------------------------------
# Models


def test_the_numpy_lifter_computes_what_the_torch_lifter_computes(tmp_path):
    model = tiny_lifter()
    model.save_pretrained(tmp_path / "lifter")
    numpy_lifter = NumpyPoseLifter.from_folder(tmp_path / "lifter")
    keypoints, present = random_views(64)
    expected = model.lift(keypoints, present)
    np.testing.assert_allclose(numpy_lifter.lift(keypoints, present), expected, atol=1e-5)
    assert expected.shape == (64, 22, 3) and np.abs(expected[:, 0]).max() == 0  # pelvis at the origin


def test_save_load_round_trip(tmp_path):
    import json

    model = tiny_lifter(seed=4)
    folder = model.save_pretrained(tmp_path / "lifter")
    assert json.loads((folder / "config.json").read_text())["kind"] == "pose_lifter"
    loaded = PoseLifter.from_pretrained(folder)
    assert loaded.config == model.config
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name
    inputs = torch.from_numpy(lifter_inputs(*random_views(4)))
    assert torch.equal(model(inputs), loaded(inputs))


def test_a_lifter_saved_with_another_shape_is_refused(tmp_path):
    from keymask.core.models.saved import CheckpointError, read_numpy_weights

    tiny_lifter().save_pretrained(tmp_path / "lifter")
    state = read_numpy_weights(tmp_path / "lifter")
    with pytest.raises(CheckpointError, match="lacks the weight 'blocks.2"):
        NumpyPoseLifter.from_state(LifterConfig(width=16, blocks=3), state)
    with pytest.raises(CheckpointError, match="shape"):
        NumpyPoseLifter.from_state(LifterConfig(width=16, blocks=2, n_joints=21), state)


def test_training_reduces_the_loss_and_logs_the_val_split(small_dataset, tmp_path):
    from keymask.conditioning.lifting.train import LifterTrainingConfig, train_lifter
    from keymask.core.training.data import read_split

    dataset = str(small_dataset[0].output_dir)
    config = LifterTrainingConfig(dataset_dir=dataset, output_dir=str(tmp_path / "run"), model=LifterConfig(width=32),
                                  iterations=60, batch_size=32, warmup=5, log_every=10, val_every=30,
                                  checkpoint_every=30, frame_step=4)
    trained = train_lifter(config, progress=False)
    with open(tmp_path / "run" / "lifter.csv") as handle:
        losses = [float(row["loss"]) for row in csv.DictReader(handle)]
    assert len(losses) == 6 and losses[-1] < 0.6 * losses[0]
    assert (tmp_path / "run" / "lifter" / "model.safetensors").exists()
    if read_split(small_dataset[0].output_dir, "val"):  # splits go by clip name: a small build may have none
        with open(tmp_path / "run" / "lifter_val.csv") as handle:
            assert [int(row["step"]) for row in csv.DictReader(handle)] == [30, 60]
    assert isinstance(trained, PoseLifter)


def test_an_interrupted_run_continues_bit_for_bit(small_dataset, tmp_path):
    from keymask.conditioning.lifting.train import LifterTrainingConfig, train_lifter

    def config(name: str) -> LifterTrainingConfig:
        return LifterTrainingConfig(dataset_dir=str(small_dataset[0].output_dir), output_dir=str(tmp_path / name),
                                    model=LifterConfig(width=16), iterations=40, batch_size=16, warmup=5,
                                    log_every=10, val_every=20, checkpoint_every=40, frame_step=8)

    whole = train_lifter(config("whole"), progress=False)
    train_lifter(config("parts"), progress=False, stop_at_step=25)  # stops between two measures
    parts = train_lifter(config("parts"), progress=False)
    again = train_lifter(config("parts"), progress=False)  # finished: hands back the trained lifter
    for (name, a), (_, b), (_, c) in zip(whole.state_dict().items(), parts.state_dict().items(),
                                         again.state_dict().items()):
        assert torch.equal(a, b) and torch.equal(a, c), name


def test_poses_the_reference_lifter_gets_wrong_are_repeated_more(tmp_path):
    from keymask.conditioning.lifting.train import LifterTrainingConfig, difficulty_repeats

    standing = rest_pose()
    arms_up = standing.copy()
    for side in ("left", "right"):
        shoulder = HUMANML3D_SKELETON.index(f"{side}_shoulder")
        for joint in (f"{side}_elbow", f"{side}_wrist"):
            j = HUMANML3D_SKELETON.index(joint)
            arms_up[j, 1] = 2 * standing[shoulder, 1] - standing[j, 1]  # the arm turned up about the shoulder

    class AlwaysStanding:  # a reference lifter that only knows the standing pose
        def forward(self, inputs: np.ndarray) -> np.ndarray:
            return np.broadcast_to(standing, (len(inputs), 22, 3))

    poses = np.stack([standing] * 30 + [arms_up] * 3)
    config = LifterTrainingConfig(dataset_dir=str(tmp_path), output_dir=str(tmp_path / "run"), hard_poses=5)
    repeats = difficulty_repeats(poses, AlwaysStanding(), config, seed=0)
    assert repeats.shape == (33,) and repeats.dtype.kind == "i"
    assert repeats.min() >= 1 and repeats.max() <= 5
    assert np.median(repeats[:30]) == 1 and (repeats[30:] == 5).all()


# ----------------------------------------------------------------------------------------------
# The shipped lifter and lift_pose


@pytest.fixture(scope="module")
def held_out_poses(request) -> np.ndarray:
    """Canonical poses of clips the shipped lifter never trained on: the built dataset's test split,
    else the val split of the 6-clip build (splits go by clip name, so it is held out as well)."""
    full = default_dataset_dir()
    if (full / "splits" / "test.txt").exists():
        return split_poses(full, "test", frame_step=40, actors=True)[:300]
    options, _ = request.getfixturevalue("small_dataset")
    return split_poses(options.output_dir, "val", frame_step=10, actors=True)


def _require_shipped_lifter() -> None:
    if not (SHIPPED_LIFTER / "model.safetensors").exists():
        pytest.fail(f"The shipped lifter is missing from {SHIPPED_LIFTER}.")


def test_the_shipped_lifter_recovers_held_out_poses(held_out_poses):
    _require_shipped_lifter()
    result = evaluate_on_poses(shipped_lifter(), held_out_poses, seed=5)
    assert result["mpjpe_mm"] < 120 and result["p_mpjpe_mm"] < 90


def test_reading_the_picture_flipped_as_well_lowers_the_error(held_out_poses):
    _require_shipped_lifter()
    keypoints, present = seeded_views(held_out_poses, seed=7, noise_px=2.0)
    one_reading = shipped_lifter().lift(keypoints, present)
    both_readings = lift_keypoints(shipped_lifter(), keypoints, present)
    error = lambda lifted: np.linalg.norm(procrustes_align(lifted, held_out_poses) - held_out_poses, axis=-1).mean()  # noqa: E731
    assert both_readings.shape == one_reading.shape
    assert error(both_readings) < 0.99 * error(one_reading)


def test_lift_pose_gives_a_key_pose_of_the_seen_pose(held_out_poses):
    _require_shipped_lifter()
    truth = held_out_poses[0]
    camera = Camera.look_at(orbit_position([0.0, 0.0, 0.0], 30.0, 10.0, 4.0), [0.0, 0.0, 0.0], 900.0, (512, 768))
    pose = Pose2D(keypoints=project(coco18_from_joints(truth), camera), confidence=np.ones(18), canvas=(512, 768),
                  source={"file": "drawn"})
    key = lift_pose(pose)
    assert isinstance(key, KeyPose3D) and key.joints.shape == (22, 3)
    assert np.linalg.norm(key.joints - truth, axis=-1).mean() < 0.12
    assert key.source["pose2d"] == {"file": "drawn"}


def test_too_few_joints_are_refused_in_one_sentence():
    keypoints, _ = random_views(1)
    confidence = np.zeros(18)
    confidence[[1, 2, 3, 4, 5, 6, 7, 14, 15, 16, 17]] = 1.0  # 7 body joints and the face
    pose = Pose2D(keypoints=keypoints[0], confidence=confidence, canvas=(512, 512))
    lifter = NumpyPoseLifter.from_state(TINY, {k: v.numpy() for k, v in tiny_lifter().state_dict().items()})
    with pytest.raises(LiftingError, match=r"7 of the 14 body joints .* at least 8") as error:
        lift_pose(pose, lifter)
    message = str(error.value)
    assert message.count(". ") == 0 and message.endswith(".") and "right hip" in message
    confidence[8] = 1.0  # an 8th body joint is enough
    key = lift_pose(Pose2D(keypoints=keypoints[0], confidence=confidence, canvas=(512, 512)), lifter)
    assert key.joints.shape == (22, 3) and key.source["lifter"] == "NumpyPoseLifter"


def test_importing_lift_does_not_import_torch():
    code = ("import sys, keymask.conditioning.lifting.lift; "
            "print([m for m in sys.modules if m == 'torch' or m.startswith('torch.')][:3])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def _rest_pose_with_arm_out() -> np.ndarray:
    """rest_pose() with the right arm held straight out to the side."""
    joints = rest_pose()
    names = HUMANML3D_SKELETON.index
    shoulder = joints[names("right_shoulder")]
    for n, joint in enumerate(("right_elbow", "right_wrist"), start=1):
        joints[names(joint)] = shoulder + [-0.27 * n, 0.0, 0.0]
    return joints


def test_a_pose_without_face_points_is_ambiguous_and_its_mirror_turns_the_body_around():
    from keymask.conditioning.lifting.lift import is_ambiguous, lift_pose, mirrored
    from keymask.conditioning.lifting.projection import Camera, coco18_from_joints, orbit_position, project
    from keymask.conditioning.poses import Pose2D
    pose = canonical_pose(_rest_pose_with_arm_out())
    camera = Camera.look_at(orbit_position(np.zeros(3), 20.0, 5.0, 4.0), np.zeros(3), 800.0, (512, 512))
    pixels = project(coco18_from_joints(pose[None]), camera)[0]
    seen = Pose2D(pixels, np.ones(18), (512, 512))
    assert not is_ambiguous(seen)
    no_face = Pose2D(pixels, np.r_[np.ones(14), np.zeros(4)] * (np.arange(18) != 0), (512, 512))
    assert is_ambiguous(no_face)
    assert mirrored(mirrored(no_face)).keypoints.tolist() == no_face.keypoints.tolist()
    front, back = lift_pose(no_face), lift_pose(no_face, mirror=True)
    assert front.source["ambiguous"] and back.source["mirrored"]
    # the mirror reads the raised arm as the other one: the two lifts differ in which wrist is out
    assert np.linalg.norm(front.joints[21] - back.joints[21]) > 0.2
