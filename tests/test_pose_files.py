"""Key pose files (OpenPose-style 2D JSON, our 3D JSON) and the pictures drawn from them."""

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from keymask.conditioning.pose_files import (
    PoseFileError, check_enough_joints, read_keypose3d, read_pose2d, write_keypose3d, write_pose2d,
)
from keymask.conditioning.poses import COCO18_JOINTS, COCO18_LIMBS, KeyPose3D, Pose2D
from keymask.conditioning.render import (
    OPENPOSE_COLOURS, limb_colour, render_openpose, render_pose_preview, save_png,
)
from keymask.core.fileio import OutputPathError
from keymask.core.skeleton import HUMANML3D_SKELETON

# A person standing, facing the camera, on a 512 x 640 canvas: (18, 2) pixels, COCO-18 order.
STANDING = np.array([
    [256, 110], [256, 170], [206, 172], [180, 250], [170, 322], [306, 172], [332, 250], [342, 322],
    [226, 330], [222, 450], [220, 570], [286, 330], [290, 450], [292, 570], [244, 98], [268, 98],
    [230, 104], [282, 104],
], dtype=np.float64)
# BODY_25 index of each COCO-18 joint (BODY_25 adds MidHip at 8 and six foot points at 19-24).
BODY25_OF_COCO18 = [0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]


def flat(points: np.ndarray, confidence=None) -> list[float]:
    """(K, 2) points and (K,) confidences -> OpenPose's flat x, y, c list."""
    confidence = np.ones(len(points)) if confidence is None else np.asarray(confidence, dtype=np.float64)
    return np.column_stack([points, confidence]).reshape(-1).tolist()


def save(tmp_path, data, name="pose.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def editor_file(points=STANDING, confidence=None, canvas=(512, 640), people=1) -> dict:
    """A file as the ControlNet OpenPose editors save it."""
    person = {"pose_keypoints_2d": flat(points, confidence), "face_keypoints_2d": None,
              "hand_left_keypoints_2d": None, "hand_right_keypoints_2d": None}
    return {"canvas_width": canvas[0], "canvas_height": canvas[1], "people": [person] * people, "animals": []}


def rest_pose() -> np.ndarray:
    """(22, 3) a plausible standing pose, pelvis at the origin."""
    from keymask.core.skeleton import target_offsets

    offsets, positions = target_offsets(), np.zeros((22, 3))
    for joint, parent in enumerate(HUMANML3D_SKELETON.parents):
        if parent >= 0:
            positions[joint] = positions[parent] + offsets[joint]
    return positions


def expect_error(path, match: str, **options) -> str:
    """Reading `path` fails with one sentence that names the file and contains `match`."""
    reader = options.pop("reader", read_pose2d)
    with pytest.raises(PoseFileError) as caught:
        reader(path, **options)
    message = str(caught.value)
    assert str(path) in message
    assert match in message
    assert message.endswith(".") and "\n" not in message
    return message


# ---- the 2D format variants -------------------------------------------------------------------

def test_openpose_output_without_canvas_takes_the_keypoints_extent(tmp_path):
    points = STANDING.copy()
    points[4] = [170.25, 322.5]
    document = {"version": 1.3, "people": [{
        "person_id": [-1], "pose_keypoints_2d": flat(points, np.full(18, 0.8)), "face_keypoints_2d": [],
        "hand_left_keypoints_2d": [], "hand_right_keypoints_2d": [], "pose_keypoints_3d": [],
    }]}
    pose = read_pose2d(save(tmp_path, document))
    np.testing.assert_allclose(pose.keypoints, points)
    np.testing.assert_allclose(pose.confidence, 0.8)
    assert pose.canvas == (math.ceil(1.1 * 342), math.ceil(1.1 * 570))
    assert pose.source["canvas"] == "inferred from the keypoints"
    assert pose.source["format"] == "OpenPose COCO-18"
    assert pose.source["person"] == 1 and pose.source["file"].endswith("pose.json")


def test_openpose_output_with_canvas_size(tmp_path):
    document = {"version": 1.3, "canvas_width": 1280, "canvas_height": 720,
                "people": [{"person_id": [-1], "pose_keypoints_2d": flat(STANDING)}]}
    pose = read_pose2d(save(tmp_path, document))
    assert pose.canvas == (1280, 720)
    np.testing.assert_allclose(pose.keypoints, STANDING)
    assert "canvas" not in pose.source


def test_editor_file_in_pixels(tmp_path):
    pose = read_pose2d(save(tmp_path, editor_file()))
    assert pose.canvas == (512, 640)
    np.testing.assert_allclose(pose.keypoints, STANDING)
    np.testing.assert_allclose(pose.confidence, 1.0)
    assert pose.world is None
    assert "coordinates" not in pose.source


def test_normalised_coordinates_are_detected_and_scaled(tmp_path):
    # controlnet_aux's encode_poses_as_dict: coordinates in [0, 1], canvas_height before canvas_width.
    normalised = STANDING / [512, 640]
    normalised[10, 1] = 1.05  # an ankle a little below the frame still reads as normalised
    document = {"people": [{"pose_keypoints_2d": flat(normalised), "face_keypoints_2d": None,
                            "hand_left_keypoints_2d": None, "hand_right_keypoints_2d": None}],
                "canvas_height": 640, "canvas_width": 512}
    pose = read_pose2d(save(tmp_path, document))
    expected = STANDING.copy()
    expected[10, 1] = 1.05 * 640
    np.testing.assert_allclose(pose.keypoints, expected)
    assert pose.canvas == (512, 640)
    assert pose.source["coordinates"] == "normalised"


def test_normalised_coordinates_without_a_canvas_are_an_error(tmp_path):
    path = save(tmp_path, {"people": [{"pose_keypoints_2d": flat(STANDING / 640)}]})
    expect_error(path, "normalised to [0, 1] but no canvas_width")


def test_body25_is_mapped_to_coco18_and_midhip_dropped(tmp_path):
    body25 = np.array([[100 + 10 * k, 200 + 5 * k] for k in range(25)], dtype=np.float64)
    confidence = np.linspace(0.5, 0.98, 25)
    document = {"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": flat(body25, confidence)}]}
    pose = read_pose2d(save(tmp_path, document))
    np.testing.assert_allclose(pose.keypoints, body25[BODY25_OF_COCO18])
    np.testing.assert_allclose(pose.confidence, confidence[BODY25_OF_COCO18])
    assert pose.keypoints[COCO18_JOINTS.index("right_hip")].tolist() == [190, 245]  # BODY_25's RHip (9)
    assert not any((pose.keypoints == body25[8]).all(axis=1))  # MidHip is gone
    assert pose.source["format"] == "OpenPose BODY_25"


def test_list_of_one_document_is_read(tmp_path):
    pose = read_pose2d(save(tmp_path, [editor_file()]))
    np.testing.assert_allclose(pose.keypoints, STANDING)
    assert pose.source["frame"] == 0


def test_list_of_several_documents_needs_a_frame(tmp_path):
    second = STANDING + [5, 0]
    path = save(tmp_path, [editor_file(), editor_file(second), editor_file()])
    message = expect_error(path, "holds a list of 3 poses")
    assert "--frame" in message and "0 to 2" in message
    np.testing.assert_allclose(read_pose2d(path, frame=1).keypoints, second)
    expect_error(path, "no frame 3", frame=3)


def test_older_key_names_are_accepted(tmp_path):
    # OpenPose before 1.2 wrote "pose_keypoints"; the 3D openpose editor writes "width"/"height".
    document = {"version": 1.0, "width": 512, "height": 640, "people": [{"pose_keypoints": flat(STANDING)}]}
    pose = read_pose2d(save(tmp_path, document))
    assert pose.canvas == (512, 640)
    np.testing.assert_allclose(pose.keypoints, STANDING)


def test_missing_joints_get_confidence_zero(tmp_path):
    points, confidence = STANDING.copy(), np.ones(18)
    confidence[3] = 0.0  # right elbow: confidence 0 (coordinates left over)
    points[9] = [0, 0]  # right knee: x = y = 0 with a confidence
    points[16], confidence[16] = [-1, -1], 0  # right ear: the -1, -1, 0 some editors write
    confidence[5] = 1.7  # a confidence above 1 is clipped
    pose = read_pose2d(save(tmp_path, editor_file(points, confidence)))
    assert np.flatnonzero(~pose.present).tolist() == [3, 9, 16]
    assert pose.confidence[5] == 1.0
    np.testing.assert_array_equal(pose.keypoints[[3, 9, 16]], 0.0)
    np.testing.assert_allclose(pose.keypoints[pose.present], STANDING[pose.present])


# ---- choosing a person ------------------------------------------------------------------------

def test_several_people_need_a_person(tmp_path):
    path = save(tmp_path, editor_file(people=3))
    message = expect_error(path, "holds 3 people")
    assert "--person" in message and "1 to 3" in message


def test_person_picks_one_of_several(tmp_path):
    document = editor_file(people=2)
    document["people"][1] = {"pose_keypoints_2d": flat(STANDING + [100, 0])}
    pose = read_pose2d(save(tmp_path, document), person=2)
    np.testing.assert_allclose(pose.keypoints, STANDING + [100, 0])
    assert pose.source["person"] == 2


@pytest.mark.parametrize("person", [3, 0, -1])
def test_person_out_of_range(tmp_path, person):
    path = save(tmp_path, editor_file(people=2))
    expect_error(path, f"there is no person {person} (choose 1 to 2)", person=person)


def test_person_out_of_range_for_one_person(tmp_path):
    expect_error(save(tmp_path, editor_file()), "holds 1 person, so there is no person 2", person=2)


# ---- round trips ------------------------------------------------------------------------------

def test_pose2d_round_trip_is_exact(tmp_path):
    rng = np.random.default_rng(3)
    confidence = rng.uniform(0.05, 1.0, 18)
    confidence[[4, 15]] = 0.0
    keypoints = rng.uniform(3.0, 700.0, (18, 2))
    keypoints[[4, 15]] = 0.0
    world = rng.normal(size=(18, 3))
    world[[14, 17]] = np.nan
    pose = Pose2D(keypoints, confidence, (720, 960), world=world)
    path = tmp_path / "out" / "pose.json"
    write_pose2d(path, pose)
    back = read_pose2d(path)
    np.testing.assert_allclose(back.keypoints, pose.keypoints, atol=1e-6, rtol=0)
    np.testing.assert_allclose(back.confidence, pose.confidence, atol=1e-6, rtol=0)
    np.testing.assert_allclose(back.world, pose.world, atol=1e-6, rtol=0)  # NaN where NaN
    assert back.canvas == (720, 960)
    document = json.loads(path.read_text())
    assert document["version"] == 1.3
    assert (document["canvas_width"], document["canvas_height"]) == (720, 960)
    assert len(document["people"]) == 1 and len(document["people"][0]["pose_keypoints_2d"]) == 54
    assert document["people"][0]["pose_keypoints_2d"][12:15] == [0, 0, 0]  # a missing joint
    assert os.listdir(path.parent) == ["pose.json"]


def test_pose2d_written_then_read_by_an_editor_reader(tmp_path):
    # Our file is a valid editor file: a second round trip changes nothing.
    path = tmp_path / "pose.json"
    write_pose2d(path, read_pose2d(save(tmp_path, editor_file(), "in.json")))
    again = read_pose2d(path)
    np.testing.assert_allclose(again.keypoints, STANDING)
    assert again.canvas == (512, 640) and again.world is None


def test_keypose3d_round_trip_is_exact(tmp_path):
    rng = np.random.default_rng(4)
    joints = rest_pose() + rng.normal(scale=0.05, size=(22, 3))
    joints[0] = 0.0
    pose = KeyPose3D(joints, root_position=np.array([0.3, 0.95, -1.2]), facing=1.25,
                     source={"lifter": "test", "from": "photo.jpg"})
    path = tmp_path / "key.json"
    write_keypose3d(path, pose)
    back = read_keypose3d(path)
    np.testing.assert_allclose(back.joints, pose.joints, atol=1e-6, rtol=0)
    np.testing.assert_allclose(back.root_position, pose.root_position, atol=1e-6, rtol=0)
    assert back.facing == pytest.approx(1.25, abs=1e-6)
    assert back.source == {"lifter": "test", "from": "photo.jpg", "file": str(path)}
    document = json.loads(path.read_text())
    assert document["format"] == "keymask-keypose-3d" and document["version"] == 1
    assert (document["units"], document["up"], document["forward"]) == ("m", "+y", "+z")
    assert document["joint_names"] == list(HUMANML3D_SKELETON.joint_names)


def test_keypose3d_without_placement(tmp_path):
    path = tmp_path / "key.json"
    write_keypose3d(path, KeyPose3D(rest_pose()))
    back = read_keypose3d(path)
    assert back.root_position is None and back.facing is None
    assert "root_position" not in json.loads(path.read_text())


def test_keypose3d_joints_are_reordered_by_name(tmp_path):
    joints, names = rest_pose(), list(HUMANML3D_SKELETON.joint_names)
    order = np.random.default_rng(5).permutation(22)
    document = {"format": "keymask-keypose-3d", "version": 1, "units": "m", "up": "+y", "facing": "+z",
                "joint_names": [names[i] for i in order], "joints": joints[order].tolist()}
    back = read_keypose3d(save(tmp_path, document))
    np.testing.assert_allclose(back.joints, joints)
    assert back.facing is None  # "facing": "+z" declares the axis, it is not a heading


# ---- bad 2D files: one sentence naming the file -----------------------------------------------

def test_missing_file(tmp_path):
    expect_error(tmp_path / "nowhere.json", "does not exist")


def test_empty_file(tmp_path):
    expect_error(save(tmp_path, "  \n"), "is empty")


def test_not_json(tmp_path):
    expect_error(save(tmp_path, '{"people": [}'), "is not valid JSON")


@pytest.mark.parametrize("text, kind", [("42", "int"), ('"pose"', "str"), ("null", "NoneType")])
def test_not_an_object_or_list(tmp_path, text, kind):
    expect_error(save(tmp_path, text), f"holds a JSON {kind}, not an object or a list of poses")


def test_empty_list(tmp_path):
    expect_error(save(tmp_path, "[]"), "empty list")


def test_no_people(tmp_path):
    expect_error(save(tmp_path, {"canvas_width": 512, "canvas_height": 512, "people": []}), "has no people")


def test_no_people_list(tmp_path):
    expect_error(save(tmp_path, {"canvas_width": 512, "canvas_height": 512}), "has no \"people\" list")


def test_wrong_number_of_keypoints(tmp_path):
    document = {"people": [{"pose_keypoints_2d": flat(STANDING[:17])}]}
    expect_error(save(tmp_path, document), "has 51 numbers in pose_keypoints_2d")


def test_person_without_body_keypoints(tmp_path):
    document = {"people": [{"pose_keypoints_2d": None, "face_keypoints_2d": [1, 2, 1]}]}
    expect_error(save(tmp_path, document), "has 0 numbers in pose_keypoints_2d")


def test_non_numeric_value(tmp_path):
    document = editor_file()
    document["people"][0]["pose_keypoints_2d"][4] = "170"
    expect_error(save(tmp_path, document), "non-numeric value \"170\" at position 4")


def test_null_value(tmp_path):
    document = editor_file()
    document["people"][0]["pose_keypoints_2d"][0] = None
    expect_error(save(tmp_path, document), "non-numeric value null at position 0")


def test_nan_value(tmp_path):
    text = json.dumps(editor_file()).replace("[256.0, 110.0,", "[NaN, 110.0,", 1)
    expect_error(save(tmp_path, text), "NaN or infinite value at position 0")


@pytest.mark.parametrize("width, match", [(-512, "must be positive"), (0, "must be positive"),
                                          ("512", "which is not a number")])
def test_bad_canvas_size(tmp_path, width, match):
    document = editor_file()
    document["canvas_width"] = width
    expect_error(save(tmp_path, document), match)


def test_canvas_with_one_side(tmp_path):
    document = editor_file()
    del document["canvas_height"]
    expect_error(save(tmp_path, document), "gives canvas_width but no canvas_height")


def test_a_3d_file_read_as_2d(tmp_path):
    path = tmp_path / "key.json"
    write_keypose3d(path, KeyPose3D(rest_pose()))
    expect_error(path, "is a 3D key pose file, not a 2D OpenPose file")


# ---- bad 3D files -----------------------------------------------------------------------------

def keypose_document(**changes) -> dict:
    document = {"format": "keymask-keypose-3d", "version": 1, "units": "m", "up": "+y", "forward": "+z",
                "joint_names": list(HUMANML3D_SKELETON.joint_names), "joints": rest_pose().tolist()}
    document.update(changes)
    return document


def test_3d_wrong_joint_count(tmp_path):
    path = save(tmp_path, keypose_document(joints=rest_pose()[:21].tolist(), joint_names=None))
    expect_error(path, "has 21 joints; a 3D key pose has the 22 HumanML3D joints", reader=read_keypose3d)


@pytest.mark.parametrize("units", ["cm", None])
def test_3d_wrong_units(tmp_path, units):
    expect_error(save(tmp_path, keypose_document(units=units)), "must be in metres", reader=read_keypose3d)


def test_3d_values_in_centimetres(tmp_path):
    path = save(tmp_path, keypose_document(joints=(100 * rest_pose()).tolist()))
    expect_error(path, "are the values in centimetres?", reader=read_keypose3d)


def test_3d_wrong_format(tmp_path):
    expect_error(save(tmp_path, keypose_document(format="smpl")), "is not a 3D key pose file",
                 reader=read_keypose3d)


def test_3d_newer_version(tmp_path):
    expect_error(save(tmp_path, keypose_document(version=2)), "reads version 1", reader=read_keypose3d)


def test_3d_unknown_joint_names(tmp_path):
    names = list(HUMANML3D_SKELETON.joint_names)
    names[20] = "left_hand"
    expect_error(save(tmp_path, keypose_document(joint_names=names)), "unknown: left_hand",
                 reader=read_keypose3d)


def test_3d_nan_joint(tmp_path):
    text = json.dumps(keypose_document()).replace("[0.0, 0.0, 0.0]", "[NaN, 0.0, 0.0]", 1)
    expect_error(save(tmp_path, text), "NaN or infinite value", reader=read_keypose3d)


def test_3d_a_2d_file(tmp_path):
    expect_error(save(tmp_path, editor_file()), "is a 2D OpenPose file", reader=read_keypose3d)


def test_3d_not_an_object(tmp_path):
    expect_error(save(tmp_path, "[1, 2]"), "not a 3D key pose object", reader=read_keypose3d)


# ---- writing never leaves partial output ------------------------------------------------------

def test_write_into_an_unwritable_folder_leaves_nothing(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    with pytest.raises(OutputPathError):
        write_pose2d(blocker / "pose.json", Pose2D(STANDING, np.ones(18), (512, 640)))
    with pytest.raises(OutputPathError):
        write_keypose3d(blocker / "sub" / "key.json", KeyPose3D(rest_pose()))
    assert os.listdir(tmp_path) == ["blocker"]


def test_invalid_2d_pose_is_not_written(tmp_path):
    keypoints = STANDING.copy()
    keypoints[2] = np.nan
    path = tmp_path / "pose.json"
    with pytest.raises(PoseFileError, match=f"Pose file {path} cannot be written: a present joint has a NaN"):
        write_pose2d(path, Pose2D(keypoints, np.ones(18), (512, 640)))
    with pytest.raises(PoseFileError, match="canvas size 0 x 640 is not positive"):
        write_pose2d(path, Pose2D(STANDING, np.ones(18), (0, 640)))
    assert os.listdir(tmp_path) == []


def test_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "key.json"
    write_keypose3d(path, KeyPose3D(rest_pose()))
    before = path.read_text()
    with pytest.raises(PoseFileError, match="source holds a value JSON cannot store"):
        write_keypose3d(path, KeyPose3D(rest_pose(), source={"image": object()}))
    joints = rest_pose()
    joints[5, 1] = np.inf
    with pytest.raises(PoseFileError, match="NaN or infinite coordinate"):
        write_keypose3d(path, KeyPose3D(joints))
    assert path.read_text() == before
    assert os.listdir(tmp_path) == ["key.json"]


# ---- enough joints ----------------------------------------------------------------------------

def test_enough_joints(tmp_path):
    confidence = np.zeros(18)
    confidence[:8] = 1.0
    check_enough_joints(Pose2D(STANDING, confidence, (512, 640)))


def test_too_few_joints_names_what_is_missing(tmp_path):
    confidence = np.zeros(18)
    confidence[[0, 1, 2, 3, 4, 5, 6]] = 1.0
    confidence[14:] = 1.0  # eyes and ears do not count
    path = save(tmp_path, editor_file(confidence=confidence))
    pose = read_pose2d(path)
    with pytest.raises(PoseFileError) as caught:
        check_enough_joints(pose)
    message = str(caught.value)
    assert str(path) in message and message.endswith(".")
    assert "only 7 of the 14 body joints (at least 8 are needed)" in message
    assert "missing: left_wrist, right_hip, right_knee, right_ankle, left_hip, left_knee, left_ankle" in message
    check_enough_joints(pose, minimum=7)


def test_too_few_joints_without_a_file():
    with pytest.raises(PoseFileError, match="^The pose has only 0 of the 14 body joints"):
        check_enough_joints(Pose2D(STANDING, np.zeros(18), (512, 640)), minimum=1)


# ---- pictures ---------------------------------------------------------------------------------

def two_joint_pose(a: int, b: int, start=(100.0, 120.0), end=(220.0, 200.0)) -> Pose2D:
    keypoints, confidence = np.zeros((18, 2)), np.zeros(18)
    keypoints[[a, b]] = [start, end]
    confidence[[a, b]] = 1.0
    return Pose2D(keypoints, confidence, (320, 240))


def distance_to_segment(points: np.ndarray, start, end) -> np.ndarray:
    start, end = np.asarray(start), np.asarray(end)
    t = np.clip(((points - start) @ (end - start)) / ((end - start) @ (end - start)), 0.0, 1.0)
    return np.linalg.norm(points - (start + t[:, None] * (end - start)), axis=1)


def colours_in(image: np.ndarray) -> set[tuple[int, int, int]]:
    packed = np.unique(image.reshape(-1, 3).astype(np.int32) @ [1 << 16, 1 << 8, 1])  # RGB as one number
    return {(int(v) >> 16, (int(v) >> 8) & 255, int(v) & 255) for v in packed}


def test_openpose_image_shape_and_type():
    image = render_openpose(Pose2D(STANDING, np.ones(18), (512, 640)))
    assert image.shape == (640, 512, 3) and image.dtype == np.uint8
    assert image.any()
    small = render_openpose(Pose2D(STANDING, np.ones(18), (512, 640)), size=(256, 320))
    assert small.shape == (320, 256, 3)


def test_non_black_pixels_lie_exactly_along_the_limb():
    start, end = (100.0, 120.0), (220.0, 200.0)
    image = render_openpose(two_joint_pose(1, 2, start, end))  # neck -> right shoulder: limb 0
    ys, xs = np.nonzero(image.any(axis=2))
    near = distance_to_segment(np.column_stack([xs, ys]).astype(float), start, end)
    assert near.max() <= 4 + 1.5  # the stick's half width and a pixel of rasterising
    # ...and the whole centre line is drawn.
    for t in np.linspace(0.0, 1.0, 50):
        x, y = np.round(np.asarray(start) + t * (np.asarray(end) - np.asarray(start))).astype(int)
        assert image[y, x].any()


def test_colours_of_a_known_limb_and_its_joints():
    image = render_openpose(two_joint_pose(1, 2))
    assert tuple(image[160, 160]) == limb_colour(0) == (153, 0, 0)  # midpoint of neck -> right shoulder
    assert tuple(image[120, 100]) == OPENPOSE_COLOURS[1] == (255, 85, 0)  # the neck's disc
    assert tuple(image[200, 220]) == OPENPOSE_COLOURS[2] == (255, 170, 0)  # the right shoulder's disc
    colours = colours_in(image)
    assert colours == {(0, 0, 0), (153, 0, 0), (255, 85, 0), (255, 170, 0)}


def test_each_limb_has_its_own_colour():
    for limb, (a, b) in enumerate(COCO18_LIMBS):
        image = render_openpose(two_joint_pose(a, b))
        assert tuple(image[160, 160]) == limb_colour(limb)


def test_missing_joints_are_not_drawn():
    confidence = np.ones(18)
    confidence[3] = 0.0  # right elbow: limbs 2 (shoulder-elbow) and 3 (elbow-wrist) go too
    image = render_openpose(Pose2D(STANDING, confidence, (512, 640)))
    x, y = STANDING[3].astype(int)
    assert not image[y, x].any()
    colours = colours_in(image)
    assert OPENPOSE_COLOURS[3] not in colours
    assert limb_colour(2) not in colours and limb_colour(3) not in colours
    assert OPENPOSE_COLOURS[4] in colours  # the wrist itself is still drawn


def test_missing_joints_leave_a_black_image():
    assert not render_openpose(Pose2D(STANDING, np.zeros(18), (512, 640))).any()


@pytest.mark.slow  # importing controlnet_aux takes seconds
@pytest.mark.filterwarnings("ignore")
def test_openpose_image_matches_controlnet_drawing():
    from controlnet_aux.open_pose.body import Keypoint
    from controlnet_aux.open_pose.util import draw_bodypose

    rng = np.random.default_rng(6)
    for _ in range(5):
        keypoints = rng.integers(-200, 4300, size=(18, 2)) / 8.0  # exact in the [0, 1] units it takes
        confidence = (rng.random(18) > 0.2).astype(float)
        theirs = draw_bodypose(np.zeros((512, 512, 3), np.uint8),
                               [Keypoint(x / 512, y / 512) if c else None for (x, y), c in zip(keypoints, confidence)])
        np.testing.assert_array_equal(render_openpose(Pose2D(keypoints, confidence, (512, 512))), theirs)


def test_preview_has_a_panel_for_each_view():
    pose2d, pose3d = Pose2D(STANDING, np.ones(18), (512, 640)), KeyPose3D(rest_pose())
    both = render_pose_preview(pose2d, pose3d, title="lifted", panel=200)
    assert both.dtype == np.uint8 and both.shape[1] == 600 and both.shape[2] == 3
    assert both[-200:, :200].max(axis=2).min() == 0  # the OpenPose panel keeps its black background
    assert render_pose_preview(None, pose3d, panel=200).shape[1] == 400
    assert render_pose_preview(pose2d, None, panel=200).shape[1] == 200
    with pytest.raises(ValueError):
        render_pose_preview(None, None)


def test_save_png_round_trip(tmp_path):
    image = render_openpose(Pose2D(STANDING, np.ones(18), (512, 640)))
    path = tmp_path / "pose.png"
    save_png(image, path)
    np.testing.assert_array_equal(np.asarray(Image.open(path).convert("RGB")), image)
    assert os.listdir(tmp_path) == ["pose.png"]
    with pytest.raises(ValueError, match="uint8"):
        save_png(image.astype(np.float32), tmp_path / "bad.png")
    assert os.listdir(tmp_path) == ["pose.png"]


def test_the_documented_examples_read(tmp_path):
    text = (Path(__file__).resolve().parents[1] / "docs" / "pose_formats.md").read_text()
    examples = [block.split("```", 1)[0] for block in text.split("```json\n")[1:]]
    assert len(examples) == 3
    pose2d = read_pose2d(save(tmp_path, examples[0], "2d.json"))
    np.testing.assert_allclose(pose2d.keypoints[:17], STANDING[:17])
    assert pose2d.present.sum() == 17 and pose2d.canvas == (512, 640)
    pose3d = read_keypose3d(save(tmp_path, examples[1], "3d.json"))
    np.testing.assert_allclose(pose3d.joints, rest_pose(), atol=6e-4)
    assert pose3d.facing == 0.0 and pose3d.root_position.tolist() == [0.0, 0.92, 0.0]
    from keymask.conditioning.paths import read_path

    path = read_path(save(tmp_path, examples[2], "path.json"))
    assert path.points.tolist()[-1] == [3.5, 2.5] and path.end_time() == 4.5


def test_a_3d_pose_with_joints_on_their_parents_is_one_sentence(tmp_path):
    from keymask.conditioning.pose_files import keypose3d_to_json

    document = keypose3d_to_json(KeyPose3D(rest_pose()))
    document["joints"][20] = document["joints"][18]  # the left wrist dropped onto the elbow
    with pytest.raises(PoseFileError, match=r"has 1 joints on top of their parents \(left_wrist\): a 3D key pose needs every bone\."):
        read_keypose3d(save(tmp_path, document, "collapsed.json"))
