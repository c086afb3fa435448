"""BVH reader and forward kinematics on small hand-written files."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from keymask.core.bvh.kinematics import end_site_positions, euler_to_matrices, joint_positions, matrices_to_euler
from keymask.core.bvh.reader import BvhError, parse_bvh, read_bvh

from bvh_samples import SMALL_BVH

def _line_of(text: str, fragment: str) -> int:
    return text[: text.index(fragment)].count("\n") + 1


FIRST_FRAME_LINE = _line_of(SMALL_BVH, "10 0 0 90")


def test_parses_names_parents_offsets_channels():
    motion = parse_bvh(SMALL_BVH, "small.bvh")
    skeleton = motion.skeleton
    assert skeleton.names == ("Hips", "Spine", "Head")
    assert skeleton.parents == (-1, 0, 1)
    assert skeleton.joints[1].offset == (0.0, 5.0, 0.0)
    assert [j.rotation_order for j in skeleton.joints] == ["ZXY", "XYZ", "ZXY"]
    assert skeleton.joints[1].has_position and not skeleton.joints[2].has_position
    assert skeleton.joints[2].end_site == (0.0, 1.0, 0.0)
    assert motion.frames.shape == (2, 15)
    assert motion.frame_time == pytest.approx(0.05)
    assert motion.fps == pytest.approx(20.0)


def test_crlf_tabs_and_odd_whitespace_parse_the_same():
    messy = SMALL_BVH.replace("\n", "\r\n").replace("  ", "\t").replace("OFFSET 0 5 0", "OFFSET\t 0   5\t0 ")
    messy = messy.replace("Frame Time: 0.05", "Frame Time:\t0.05  ").replace("{\r\n    OFFSET 0 2 0", "{ OFFSET 0 2 0")
    reference, parsed = parse_bvh(SMALL_BVH), parse_bvh(messy)
    assert parsed.skeleton == reference.skeleton
    np.testing.assert_array_equal(parsed.frames, reference.frames)


def test_forward_kinematics_of_a_known_pose():
    motion = parse_bvh(SMALL_BVH)
    positions = joint_positions(motion)  # (T, J, 3)
    # Frame 0: root at (10, 0, 0) turned 90 degrees about Z; the spine turned 90 about X.
    np.testing.assert_allclose(positions[0], [[10, 0, 0], [5, 0, 0], [5, 0, 2]], atol=1e-12)
    np.testing.assert_allclose(end_site_positions(motion)[2][0], [5, 0, 3], atol=1e-12)
    # Frame 1: the spine's position channels (0, 7, 0) replace its OFFSET (0, 5, 0).
    np.testing.assert_allclose(positions[1], [[0, 0, 0], [0, 7, 0], [0, 9, 0]], atol=1e-12)


@pytest.mark.parametrize("order", ["ZXY", "XYZ", "YZX", "ZYX"])
def test_rotation_channels_are_intrinsic_in_listed_order(order):
    angles = np.random.default_rng(0).uniform(-180, 180, size=(16, 3))
    matrices = euler_to_matrices(angles, order)
    first, second, third = (euler_to_matrices(angles[:, [k]], order[k]) for k in range(3))
    np.testing.assert_allclose(matrices, first @ second @ third, atol=1e-12)
    np.testing.assert_allclose(matrices, Rotation.from_euler(order, angles, degrees=True).as_matrix(), atol=1e-12)
    np.testing.assert_allclose(euler_to_matrices(matrices_to_euler(matrices, order), order), matrices, atol=1e-12)


def test_read_bvh_from_disk_names_the_file(tmp_path):
    path = tmp_path / "clip.bvh"
    path.write_bytes(SMALL_BVH.replace("\n", "\r\n").encode())
    assert read_bvh(path).frames.shape == (2, 15)
    path.write_text(SMALL_BVH.replace("Frames: 2", "Frames: 3"))
    with pytest.raises(BvhError, match="clip.bvh"):
        read_bvh(path)


MALFORMED = {
    "truncated in the hierarchy": (SMALL_BVH[: SMALL_BVH.index("JOINT Head")], None, "ends"),
    "wrong number of values on a frame line": (
        SMALL_BVH.replace("10 0 0 90 0 0 0 5 0 90 0 0 0 0 0", "10 0 0 90 0 0 0 5 0 90 0 0 0 0"),
        FIRST_FRAME_LINE,
        "expected 15 values on a frame line (the channels in HIERARCHY) but found 14\n",
    ),
    "non-numeric value": (SMALL_BVH.replace("0 7 0 0 0 0", "0 7 zero 0 0 0"), FIRST_FRAME_LINE + 1, "'zero'"),
    "truncated frames": (SMALL_BVH.replace("Frames: 2", "Frames: 3"), FIRST_FRAME_LINE + 1, "expected 3 frames"),
    "cut in the middle of a frame": (SMALL_BVH[: SMALL_BVH.rindex("7 0 0")], FIRST_FRAME_LINE + 1, "truncated"),
    "too many frames": (SMALL_BVH.replace("Frames: 2", "Frames: 1"), FIRST_FRAME_LINE + 1, "expected 1 frames"),
    "unknown channel": (SMALL_BVH.replace("Xrotation Yrotation Zrotation", "Xrotation Wrotation Zrotation"), 9, "'Wrotation'"),
    "non-numeric offset": (SMALL_BVH.replace("OFFSET 0 5 0", "OFFSET 0 five 0"), 8, "'five'"),
    "missing opening brace": (SMALL_BVH.replace("JOINT Spine\n  {", "JOINT Spine\n"), 8, "'{'"),
    "missing closing brace": (SMALL_BVH.replace("  }\n}\nMOTION", "  }\nMOTION"), None, "'}'"),
    "bad frame count": (SMALL_BVH.replace("Frames: 2", "Frames: two"), _line_of(SMALL_BVH, "Frames"), "whole number"),
    "missing frame time": (SMALL_BVH.replace("Frame Time: 0.05", "Time 0.05"), _line_of(SMALL_BVH, "Frame Time"), "Frame Time"),
    "no motion": (SMALL_BVH[: SMALL_BVH.index("MOTION")], None, "MOTION"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_files_raise_bvh_error_naming_the_line(case):
    text, line, expected = MALFORMED[case]
    with pytest.raises(BvhError) as caught:
        parse_bvh(text, "broken.bvh")
    message = str(caught.value) + "\n"
    assert message.startswith("broken.bvh")
    assert expected in message
    assert caught.value.line is not None
    if line is not None:
        assert f"line {line}:" in message
        assert caught.value.line == line
    assert isinstance(caught.value, ValueError)
    assert "numpy" not in message and caught.value.__cause__ is None
