"""`keymask pose ...` and `keymask generate --key-pose`: a photo on disk becomes a pose file, then a
motion that passes through it; and every bad input gets one sentence, exit 2 and no output."""

import json

import numpy as np
import pytest

from keymask.cli.main import main
from keymask.conditioning.pose_files import read_keypose3d, read_pose2d
from keymask.conditioning.refine import pose_error
from keymask.core.bvh.convert import bvh_file_to_joints

PHOTO = __import__("pathlib").Path(__file__).parent / "data" / "person.jpg"


def run(argv, capsys):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def photo_pose(tmp_path_factory):
    """The test photo through `keymask pose extract` and `keymask pose lift`: (2D file, 3D file)."""
    folder = tmp_path_factory.mktemp("pose")
    assert main(["pose", "extract", str(PHOTO), "-o", str(folder / "pose.json"), "--preview",
                 str(folder / "pose.png")]) == 0
    assert main(["pose", "lift", str(folder / "pose.json"), "-o", str(folder / "pose3d.json"), "--preview",
                 str(folder / "lift.png")]) == 0
    return folder / "pose.json", folder / "pose3d.json"


def test_a_photo_becomes_a_pose_file_then_a_motion_through_it(photo_pose, tmp_path, capsys):
    pose_2d_file, pose_3d_file = photo_pose
    pose2d, pose3d = read_pose2d(pose_2d_file), read_keypose3d(pose_3d_file)
    assert pose2d.present.sum() >= 14 and pose2d.canvas == (320, 480)
    assert (pose_2d_file.parent / "pose.png").stat().st_size > 0 and (pose_2d_file.parent / "lift.png").exists()
    # a standing person with arms held out: feet below the pelvis, wrists out to the sides
    assert pose3d.joints[[10, 11], 1].max() < -0.7 and abs(pose3d.joints[20, 0] - pose3d.joints[21, 0]) > 0.6

    for key_file in (pose_3d_file, pose_2d_file):  # a 3D key pose file, or the 2D file lifted on the way
        out = tmp_path / f"{key_file.stem}.bvh"
        code, stdout, _ = run(["generate", "a person walks forward and stops", "--seconds", "4", "--seed", "2",
                               "--key-pose", f"{key_file}@2s", "-o", out], capsys)
        assert code == 0 and "1 key poses" in stdout
        joints = np.load(out.with_suffix(".npy"))  # the joints of the written BVH
        assert joints.shape == (80, 22, 3)
        assert np.abs(bvh_file_to_joints(out) - joints).max() < 1e-3
        assert pose_error(joints[40], pose3d.joints) < 0.03  # metres, through the BVH's own skeleton
        assert pose_error(joints[0], pose3d.joints) > pose_error(joints[40], pose3d.joints)


def test_render_draws_the_skeleton(photo_pose, tmp_path, capsys):
    from PIL import Image

    code, _, _ = run(["pose", "render", photo_pose[0], "-o", tmp_path / "skeleton.png"], capsys)
    image = np.asarray(Image.open(tmp_path / "skeleton.png"))
    assert code == 0 and image.shape == (480, 320, 3) and (image.sum(-1) > 0).mean() > 0.01


def test_key_pose_frames_and_root_suffix_parse():
    from keymask.cli.generate import parse_key_pose

    assert parse_key_pose("a/pose.json@1.5s", 20)[1:] == (30, {"constrain": "body"})
    assert parse_key_pose("pose@x.json@30:root", 20) == (__import__("pathlib").Path("pose@x.json"), 30, {"constrain": "root"})
    assert parse_key_pose("p.json@2s:hold=0.3:ease=0.5", 20)[1:] == (40, {"constrain": "body", "hold": 6, "ease_in": 10,
                                                                         "ease_out": 10})
    assert parse_key_pose("p.json@2s:ease_in=1s:root", 20)[2] == {"constrain": "root", "ease_in": 20}


def write(path, text):
    path.write_text(text)
    return path


@pytest.mark.parametrize("content, message", [
    ("", "empty"),
    ("{not json", "JSON"),
    ('{"people": []}', "no people"),
    ('{"people": [{"pose_keypoints_2d": [1, 2, 3]}]}', "keypoints"),
])
def test_broken_pose_files_are_refused(tmp_path, capsys, content, message):
    broken = write(tmp_path / "broken.json", content)
    for argv in (["pose", "lift", broken, "-o", tmp_path / "out.json"],
                 ["generate", "a person waves", "--key-pose", f"{broken}@1s", "-o", tmp_path / "out.bvh"]):
        code, _, err = run(argv, capsys)
        assert code == 1 and message.lower() in err.lower() and err.count("\n") == 1
    assert not list(tmp_path.glob("out*"))


def test_a_pose_with_most_joints_missing_is_refused(photo_pose, tmp_path, capsys):
    document = json.loads(photo_pose[0].read_text())
    keypoints = document["people"][0]["pose_keypoints_2d"]
    for joint in range(3, 18):
        keypoints[3 * joint: 3 * joint + 3] = [0, 0, 0]
    sparse = write(tmp_path / "sparse.json", json.dumps(document))
    code, _, err = run(["pose", "lift", sparse, "-o", tmp_path / "out.json"], capsys)
    assert code == 1 and "at least" in err and not (tmp_path / "out.json").exists()


@pytest.mark.parametrize("keys, message", [(["@9s"], "outside the motion"), (["@1s", "@1.1s"], "same 0.2 s token window")])
def test_bad_key_times_are_refused(photo_pose, tmp_path, capsys, keys, message):
    argv = ["generate", "a person waves", "--seconds", "4", "-o", tmp_path / "out.bvh"]
    for key in keys:
        argv += ["--key-pose", f"{photo_pose[1]}{key}"]
    code, _, err = run(argv, capsys)
    assert code == 2 and message in err and not list(tmp_path.glob("out*"))


def test_bad_key_pose_syntax_is_explained(photo_pose, tmp_path, capsys):
    code, _, err = run(["generate", "a person waves", "--key-pose", str(photo_pose[1]), "-o", tmp_path / "o.bvh"], capsys)
    assert code == 2 and "FILE@TIME" in err


def test_images_that_are_not_images_or_show_nobody(tmp_path, capsys):
    from PIL import Image

    fake = write(tmp_path / "fake.png", "this is text")
    Image.fromarray(np.full((240, 160, 3), 90, np.uint8)).save(tmp_path / "empty.png")
    for image, message in ((fake, "not an image"), (tmp_path / "empty.png", "No person")):
        code, _, err = run(["pose", "extract", image, "-o", tmp_path / "out.json"], capsys)
        assert code == 1 and message in err and not (tmp_path / "out.json").exists()


def test_imagine_without_weights_says_which_and_where(tmp_path, capsys):
    code, _, err = run(["pose", "imagine", "a dancer", "--sd", tmp_path / "nothing", "-o", tmp_path / "o.json"], capsys)
    assert code == 1 and "Stable Diffusion" in err and "--sd" in err and not (tmp_path / "o.json").exists()
