"""`keymask convert` and the BVH <-> joints functions behind it."""

import numpy as np
import pytest

from keymask.cli.main import main
from keymask.core.bvh.convert import JointsFormatError, bvh_file_to_joints, check_joints, joints_to_bvh_file
from keymask.core.bvh.reader import read_bvh
from keymask.core.data.retarget import bandai_to_humanml3d

MM = 1e-3


@pytest.fixture(scope="module")
def walk_joints(bandai_clip):
    return bandai_to_humanml3d(read_bvh(bandai_clip("dataset-1_walk_normal_001.bvh")))


@pytest.mark.parametrize("units", ["m", "cm"])
def test_joints_survive_a_trip_through_a_bvh_file(walk_joints, tmp_path, units):
    path = tmp_path / "walk.bvh"
    joints_to_bvh_file(walk_joints, path, units=units)
    back = bvh_file_to_joints(path)
    assert back.shape == walk_joints.shape
    assert np.abs(back - walk_joints).max() < 1 * MM


def test_a_bvh_at_another_rate_is_resampled_to_the_requested_fps(walk_joints, tmp_path):
    path = tmp_path / "walk40.bvh"
    joints_to_bvh_file(walk_joints, path, fps=40)  # same frames, declared twice as fast
    back = bvh_file_to_joints(path, fps=20)
    assert len(back) == (len(walk_joints) - 1) // 2 + 1
    np.testing.assert_allclose(back, walk_joints[::2][: len(back)], atol=1 * MM)


def test_cli_converts_both_ways(bandai_clip, tmp_path, capsys):
    source = bandai_clip("dataset-1_walk_normal_001.bvh")
    assert main(["convert", str(source), "-o", str(tmp_path / "walk.npy")]) == 0
    joints = np.load(tmp_path / "walk.npy")
    assert joints.shape[1:] == (22, 3)
    assert main(["convert", str(tmp_path / "walk.npy"), "-o", str(tmp_path / "walk.bvh"), "--units", "cm"]) == 0
    assert read_bvh(tmp_path / "walk.bvh").n_frames == len(joints)
    assert "22 joints" in capsys.readouterr().out


@pytest.mark.parametrize("bad, message", [
    (np.zeros((10, 21, 3)), "shape"),
    (np.full((10, 22, 3), np.nan), "NaN"),
    (np.zeros((0, 22, 3)), "no frames"),
])
def test_bad_joint_arrays_are_named(bad, message):
    with pytest.raises(JointsFormatError, match=message):
        check_joints(bad)


def test_cli_errors_are_one_sentence_and_write_nothing(tmp_path, capsys):
    np.save(tmp_path / "bad.npy", np.zeros((5, 3)))
    assert main(["convert", str(tmp_path / "bad.npy"), "-o", str(tmp_path / "out.bvh")]) == 1  # unreadable input
    assert main(["convert", str(tmp_path / "bad.npy"), "-o", str(tmp_path / "out.txt")]) == 2  # usage
    assert main(["convert", str(tmp_path / "missing.bvh"), "-o", str(tmp_path / "out.npy")]) == 1
    (tmp_path / "broken.bvh").write_text("HIERARCHY\nROOT Hips\n{\n  OFFSET 0 0\n")
    assert main(["convert", str(tmp_path / "broken.bvh"), "-o", str(tmp_path / "out.npy")]) == 1
    err = capsys.readouterr().err
    assert err.count("keymask: error: ") == 4 and "Traceback" not in err
    assert "line" in err.splitlines()[-1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.npy", "broken.bvh"]


def test_unknown_skeleton_is_refused(tmp_path):
    from bvh_samples import SMALL_BVH

    (tmp_path / "small.bvh").write_text(SMALL_BVH)
    with pytest.raises(JointsFormatError, match="No known rig"):
        bvh_file_to_joints(tmp_path / "small.bvh")


def test_joints_written_as_a_30_fps_bvh_keep_their_duration(walk_joints, tmp_path, capsys):
    """`keymask convert walk.npy --fps 30`: 20 fps joints become a 30 fps BVH of the same length in seconds."""
    np.save(tmp_path / "walk.npy", walk_joints.astype(np.float32))
    assert main(["convert", str(tmp_path / "walk.npy"), "-o", str(tmp_path / "walk.bvh"), "--fps", "30"]) == 0
    motion = read_bvh(tmp_path / "walk.bvh")
    assert abs(motion.fps - 30) < 1e-3
    assert abs((motion.n_frames - 1) / 30 - (len(walk_joints) - 1) / 20) < 1 / 30
    back = bvh_file_to_joints(tmp_path / "walk.bvh", fps=20)
    assert np.abs(back[: len(walk_joints)] - walk_joints[: len(back)]).max() < 0.02  # same motion at the same times
