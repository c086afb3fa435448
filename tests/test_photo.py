"""Photo -> Pose2D with mediapipe, offline: a real photo, two people, nobody, and bad files."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from keymask.conditioning.photo import (
    ImageError,
    MediapipeMissingError,
    NoPersonError,
    PhotoPoseExtractor,
    PoseExtractionError,
    SeveralPeopleError,
    extract_pose,
)
from keymask.conditioning.poses import COCO18_JOINTS

PERSON_JPG = Path(__file__).parent / "data" / "person.jpg"  # 320 x 480, facing the camera
WIDTH, HEIGHT = 320, 480
PIXELS = 12  # tolerance when the same person is found in another image
J = {name: index for index, name in enumerate(COCO18_JOINTS)}


@pytest.fixture(scope="module")
def extractor(mediapipe_installed):
    with PhotoPoseExtractor() as opened:
        yield opened


@pytest.fixture(scope="module")
def pose(extractor):
    return extractor.extract(PERSON_JPG)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return np.asarray(Image.open(PERSON_JPG).convert("RGB"))  # (H, W, 3)


def _one_sentence(error: pytest.ExceptionInfo, *words: str) -> str:
    message = str(error.value)
    assert "\n" not in message and message.endswith("."), message
    for word in words:
        assert word in message, message
    return message


# ---- one person -------------------------------------------------------------------------------


def test_the_photo_gives_every_body_joint(pose):
    assert pose.canvas == (WIDTH, HEIGHT)
    assert pose.present.all(), [name for name, ok in zip(COCO18_JOINTS, pose.present) if not ok]
    assert ((pose.keypoints >= 0) & (pose.keypoints <= (WIDTH, HEIGHT))).all()
    assert ((pose.confidence > 0.5) & (pose.confidence <= 1)).all()
    assert pose.source == {"extractor": "mediapipe-pose 0.10.21", "file": str(PERSON_JPG), "person": 1,
                           "people": 1, "read": "as it is and flipped, averaged"}


def test_the_photo_geometry_is_a_standing_person_facing_the_camera(pose):
    x, y = pose.keypoints[:, 0], pose.keypoints[:, 1]
    # Top to bottom: head, shoulders, hips, knees, ankles (y grows downwards).
    assert y[J["nose"]] < y[J["neck"]]
    for side in ("left", "right"):
        assert y[J["neck"]] - 5 < y[J[f"{side}_shoulder"]] < y[J[f"{side}_hip"]]
        assert y[J[f"{side}_hip"]] < y[J[f"{side}_knee"]] < y[J[f"{side}_ankle"]]
    # Facing the camera: the person's right is on the left of the photo.
    for part in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle", "eye", "ear"):
        assert x[J[f"right_{part}"]] < x[J[f"left_{part}"]], part
    # The neck is the shoulders' midpoint, the nose above it.
    shoulders = pose.keypoints[[J["right_shoulder"], J["left_shoulder"]]]
    np.testing.assert_allclose(pose.keypoints[J["neck"]], shoulders.mean(axis=0))
    assert abs(x[J["nose"]] - x[J["neck"]]) < 0.3 * (x[J["left_shoulder"]] - x[J["right_shoulder"]])
    # Arms held out: the wrists are wider apart than the hips; the body is most of the photo's height.
    assert x[J["right_wrist"]] < x[J["right_hip"]] - 50 and x[J["left_wrist"]] > x[J["left_hip"]] + 50
    assert y[J["left_ankle"]] - y[J["nose"]] > 0.6 * HEIGHT


def test_the_photo_joints_land_where_the_person_is(pose):
    # Where the joints are in the photo (pixels), checked by eye on a drawing; 20 px of slack.
    expected = {"nose": (163, 94), "right_shoulder": (133, 146), "left_shoulder": (211, 149),
                "right_wrist": (51, 223), "left_wrist": (294, 230), "right_hip": (147, 257),
                "left_hip": (189, 258), "right_ankle": (147, 413), "left_ankle": (196, 417)}
    for name, where in expected.items():
        assert np.linalg.norm(pose.keypoints[J[name]] - where) < 20, name


def test_the_photo_world_landmarks_are_metres_around_the_hips(pose):
    world = pose.world
    assert world.shape == (18, 3) and np.isfinite(world).all()
    hips = world[[J["right_hip"], J["left_hip"]]]
    assert np.linalg.norm(hips.mean(axis=0)) < 0.05  # mediapipe's origin: between the hips
    shoulder_width = np.linalg.norm(world[J["left_shoulder"]] - world[J["right_shoulder"]])
    assert 0.25 < shoulder_width < 0.5
    # Camera axes: x to the photo's right, y down.
    assert world[J["left_shoulder"], 0] > world[J["right_shoulder"], 0]
    assert world[J["nose"], 1] < world[J["neck"], 1] < 0 < world[J["left_knee"], 1] < world[J["left_ankle"], 1]
    np.testing.assert_allclose(world[J["neck"]], world[[J["right_shoulder"], J["left_shoulder"]]].mean(axis=0))
    assert 1.2 < world[J["left_ankle"], 1] - world[J["nose"], 1] < 1.8  # nose to ankle of an adult


def test_extract_pose_opens_and_closes_its_own_graphs(pose):
    again = extract_pose(PERSON_JPG)
    np.testing.assert_allclose(again.keypoints, pose.keypoints, atol=1e-3)
    np.testing.assert_allclose(again.world, pose.world, atol=1e-4)


def test_an_array_and_a_rotated_phone_photo_give_the_same_pose(extractor, pose, photo, tmp_path):
    from_array = extractor.extract(photo)
    np.testing.assert_allclose(from_array.keypoints, pose.keypoints, atol=1e-3)
    assert from_array.source["file"] is None
    # Stored sideways with EXIF orientation 6 ("turn 90 degrees clockwise to show"), as phones do.
    sideways = tmp_path / "sideways.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(photo).transpose(Image.Transpose.ROTATE_90).save(sideways, quality=95, exif=exif)
    upright = extractor.extract(sideways)
    assert upright.canvas == (WIDTH, HEIGHT)
    assert np.abs(upright.keypoints - pose.keypoints).max() < PIXELS


def test_the_photo_is_read_as_it_is_and_flipped_and_the_readings_agree(extractor, pose, photo):
    from keymask.conditioning.lifting.lift import LEFT_RIGHT_SWAPPED

    one_way = extractor.extract(PERSON_JPG, both_ways=False)
    assert pose.source["read"] == "as it is and flipped, averaged" and "read" not in one_way.source
    both = pose.present & one_way.present
    assert both.sum() >= 14 and np.abs(pose.keypoints[both] - one_way.keypoints[both]).max() < PIXELS
    # The mirror image is read the same two ways, in the other order: the mirrored pose comes back.
    mirror = extractor.extract(np.ascontiguousarray(photo[:, ::-1]))
    expected = pose.keypoints[list(LEFT_RIGHT_SWAPPED)] * [-1, 1] + [WIDTH, 0]
    assert (mirror.present == pose.present[list(LEFT_RIGHT_SWAPPED)]).all()
    assert np.abs(mirror.keypoints - expected)[mirror.present].max() < 2.0


def test_two_readings_are_averaged_where_both_see_a_joint_and_kept_where_one_does():
    from keymask.conditioning.photo import _averaged
    from keymask.conditioning.poses import Pose2D

    first = Pose2D(np.full((18, 2), 10.0), np.full(18, 0.8), (100, 100), np.zeros((18, 3)), {"file": "a.png"})
    second = Pose2D(np.full((18, 2), 20.0), np.full(18, 0.6), (100, 100), np.ones((18, 3)), {})
    # The right elbow is seen in the second reading only, the right wrist in the first only.
    first.confidence[3], second.confidence[4] = 0.0, 0.0
    first.world[3], second.world[4] = np.nan, np.nan
    pose = _averaged(first, second)
    assert pose.keypoints[0].tolist() == [15.0, 15.0] and pose.confidence[0] == pytest.approx(0.7)
    assert pose.keypoints[3].tolist() == [20.0, 20.0] and pose.confidence[3] == pytest.approx(0.6)
    assert pose.keypoints[4].tolist() == [10.0, 10.0] and pose.confidence[4] == pytest.approx(0.8)
    assert pose.world[0].tolist() == [0.5] * 3
    assert pose.world[3].tolist() == [1.0] * 3 and pose.world[4].tolist() == [0.0] * 3
    assert pose.source["file"] == "a.png" and pose.present.all()


def test_joints_below_the_visibility_threshold_are_missing(extractor, pose):
    strict = extractor.extract(PERSON_JPG, min_visibility=0.99)
    assert (strict.confidence[~strict.present] == 0).all()
    assert np.isnan(strict.world[~strict.present]).all()
    assert strict.present.sum() < pose.present.sum()  # the ankles are seen at about 0.95
    assert strict.present[J["nose"]] and strict.present[J["left_shoulder"]]


def test_half_hidden_body_joints_are_kept_but_half_hidden_face_points_are_not():
    from keymask.conditioning.photo import MIN_FACE_VISIBILITY, MIN_VISIBILITY, _to_pose2d

    between = (MIN_VISIBILITY + MIN_FACE_VISIBILITY) / 2  # a body joint passes, a face point does not
    pixels = np.tile([[50.0, 80.0]], (33, 1))  # (33, 2), all inside a 100 x 200 canvas
    visibility = np.full(33, between)
    pose = _to_pose2d(pixels, visibility, np.zeros((33, 3)), canvas=(100, 200), min_visibility=MIN_VISIBILITY,
                      source={})
    assert pose.present[J["left_wrist"]] and pose.present[J["neck"]]
    assert not pose.present[[J["nose"], J["left_eye"], J["right_ear"]]].any()
    assert pose.confidence[J["left_wrist"]] == pytest.approx(between)
    hidden = _to_pose2d(pixels, np.full(33, MIN_VISIBILITY / 2), np.zeros((33, 3)), canvas=(100, 200),
                        min_visibility=MIN_VISIBILITY, source={})
    assert not hidden.present.any() and np.isnan(hidden.world).all()


# ---- several people, nobody -------------------------------------------------------------------


def test_two_people_must_be_chosen_between(extractor, photo):
    two = np.hstack([photo, photo])  # (H, 2W, 3): the same person twice, side by side
    with pytest.raises(SeveralPeopleError) as error:
        extractor.extract(two)
    assert error.value.count == 2
    _one_sentence(error, "2 people", "choose one with --person N (1 = leftmost)")


def test_person_n_counts_from_the_left(extractor, pose, photo, tmp_path):
    path = tmp_path / "two_people.png"
    Image.fromarray(np.hstack([photo, photo])).save(path)
    left = extractor.extract(path, person=1)
    right = extractor.extract(path, person=2)
    assert left.canvas == right.canvas == (2 * WIDTH, HEIGHT)
    assert left.source["person"] == 1 and right.source["person"] == 2 and left.source["people"] == 2
    assert (left.keypoints[:, 0] < WIDTH).all() and (right.keypoints[:, 0] > WIDTH).all()
    # Each is the single person's pose, moved by its place in the wider photo.
    assert np.abs(left.keypoints - pose.keypoints).max() < PIXELS
    assert np.abs(right.keypoints - (pose.keypoints + (WIDTH, 0))).max() < PIXELS


def test_a_person_number_beyond_those_found(extractor, photo):
    with pytest.raises(PoseExtractionError) as error:
        extractor.extract(np.hstack([photo, photo]), person=3)
    _one_sentence(error, "Person 3", "2 people were found")
    with pytest.raises(PoseExtractionError) as error:
        extractor.extract(photo, person=0)
    _one_sentence(error, "counts from 1")


def test_no_person_in_a_flat_colour_or_noise(extractor, tmp_path):
    flat = tmp_path / "flat.png"
    Image.new("RGB", (WIDTH, HEIGHT), (120, 140, 160)).save(flat)
    with pytest.raises(NoPersonError) as error:
        extractor.extract(flat)
    _one_sentence(error, "No person was found in", str(flat))
    noise = np.random.default_rng(0).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    with pytest.raises(NoPersonError):
        extractor.extract(noise)


# ---- files that are not photos (no mediapipe needed) -------------------------------------------


def test_a_text_file_named_png(tmp_path):
    fake = tmp_path / "pose.png"
    fake.write_text("not a picture\n")
    with pytest.raises(ImageError) as error:
        extract_pose(fake)
    _one_sentence(error, str(fake), "not an image")


def test_an_empty_file(tmp_path):
    empty = tmp_path / "empty.jpg"
    empty.touch()
    with pytest.raises(ImageError) as error:
        extract_pose(empty)
    _one_sentence(error, str(empty), "empty")


def test_a_truncated_photo(tmp_path):
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(PERSON_JPG.read_bytes()[:2000])
    with pytest.raises(ImageError) as error:
        extract_pose(truncated)
    _one_sentence(error, str(truncated))


def test_a_missing_file_and_a_folder(tmp_path):
    missing = tmp_path / "nowhere.jpg"
    with pytest.raises(ImageError) as error:
        extract_pose(missing)
    _one_sentence(error, str(missing), "does not exist")
    with pytest.raises(ImageError) as error:
        extract_pose(tmp_path)
    _one_sentence(error, str(tmp_path), "folder")


def test_an_array_that_is_not_rgb_uint8():
    with pytest.raises(ImageError) as error:
        extract_pose(np.zeros((8, 8, 3), dtype=np.float32))
    _one_sentence(error, "RGB uint8")


def test_missing_mediapipe_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "mediapipe", None)  # makes `import mediapipe` fail
    with pytest.raises(MediapipeMissingError) as error:
        extract_pose(PERSON_JPG)
    _one_sentence(error, "pip install --no-deps mediapipe==0.10.21")
    assert isinstance(error.value, PoseExtractionError)


def test_importing_the_module_loads_neither_mediapipe_nor_opencv():
    code = ("import sys, keymask.conditioning.photo; "
            "print(sorted(m for m in ('mediapipe', 'cv2', 'PIL', 'google.protobuf') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_reading_a_photo_on_a_display_leaves_torch_compilers_importable(mediapipe_installed):
    """With a display (Xvfb here), mediapipe used to open an OpenGL context whose Mesa LLVM made a
    later `import triton` (diffusers, torchvision) crash the process; run it in a child process."""
    assert os.environ.get("DISPLAY"), "pytest-xvfb provides a display for this test"
    code = ("from keymask.conditioning.photo import extract_pose\n"
            f"assert extract_pose({str(PERSON_JPG)!r}).present.sum() == 18\n"
            "import triton\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


def test_a_photo_becomes_a_key_on_a_users_rig_and_the_exported_bvh_shows_it(pose, tmp_path):
    """Photo -> 2D pose -> lifted 3D key -> keyed motion on a Mixamo-named rig -> the exported BVH,
    read back by the importer, has the key's bone directions at the key's frame."""
    from keymask.cli.main import main
    from keymask.conditioning.lifting.lift import lift_pose
    from keymask.conditioning.pose_files import write_pose2d
    from keymask.conditioning.refine import bone_direction_error
    from keymask.core.mocap.importer import import_joints
    from test_rig_export import MIXAMO_RIG, rig_text

    write_pose2d(tmp_path / "photo_pose.json", pose)
    (tmp_path / "rig.bvh").write_text(rig_text(MIXAMO_RIG, prefix="mixamorig:"))
    out = tmp_path / "keyed.bvh"
    code = main(["generate", "a person stands and raises an arm", "--key-pose", f"{tmp_path / 'photo_pose.json'}@1.5s",
                 "--rig", str(tmp_path / "rig.bvh"), "--seed", "4", "-o", str(out)])
    assert code == 0
    assert "mixamorig:LeftHandThumb1" in out.read_text()
    on_rig = import_joints(out, fps=20, up="+y")  # (T, 22, 3) the rig's joints that stand for ours
    key = lift_pose(pose).joints
    assert bone_direction_error(on_rig[30], key) < 0.5  # degrees: the key's pose on the rig's proportions
    assert bone_direction_error(on_rig[10], key) > 2.0  # and not a pose held the whole time


def test_reading_a_photo_apart_leaves_this_process_display_and_stderr_alone(pose, photo, monkeypatch):
    from keymask.conditioning.photo import extract_pose_apart

    monkeypatch.setenv("DISPLAY", ":4242")
    stderr_before = os.fstat(2)
    apart = extract_pose_apart(PERSON_JPG)
    assert os.environ["DISPLAY"] == ":4242"
    after = os.fstat(2)
    assert (after.st_dev, after.st_ino) == (stderr_before.st_dev, stderr_before.st_ino)
    np.testing.assert_allclose(apart.keypoints, pose.keypoints, atol=1e-3)
    with pytest.raises(SeveralPeopleError) as error:  # errors come back as themselves, count and all
        extract_pose_apart(np.hstack([photo, photo]))
    assert error.value.count == 2 and "2 people" in str(error.value)
