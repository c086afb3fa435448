"""The general mocap importer on real HDM05 and CMU files (ASF/AMC, CMU BVH, iClone BVH), a
hand-made Mixamo BVH and a Bandai clip: shape, 20 fps, metres, Y up, feet on the floor, rigid
bones, left is left, and one-sentence errors."""

import json
from pathlib import Path

import numpy as np
import pytest

from keymask.core.bvh.reader import parse_bvh, read_bvh
from keymask.core.data.retarget import bandai_to_humanml3d
from keymask.core.mocap.asf_amc import AcclaimError, parse_amc, read_asf
from keymask.core.mocap.importer import import_joints, leg_length
from keymask.core.mocap.joint_names import JointMappingError, UnknownSkeletonError
from keymask.core.skeleton import HUMANML3D_SKELETON as SKELETON

MIXAMO_BVH = Path(__file__).parent / "data" / "mixamo_walk_fragment.bvh"
FEET = [SKELETON.index(name) for name in ("left_ankle", "right_ankle", "left_foot", "right_foot")]


@pytest.fixture(scope="session")
def clips(hdm05, cmu) -> dict[str, np.ndarray]:
    """Every real clip imported once: name -> (T', 22, 3)."""
    return {
        "hdm05": import_joints(hdm05["sneak"], asf=hdm05["asf"]),
        "cmu_amc": import_joints(cmu["amc_walk"]),
        "cmu_bvh": import_joints(cmu["bvh_walk"]),
        "iclone_walk": import_joints(cmu["iclone_walk"]),
        "iclone_plain": import_joints(cmu["iclone_plain"]),
    }


def _bone_lengths(joints: np.ndarray) -> np.ndarray:
    parents = list(SKELETON.parents[1:])
    return np.linalg.norm(joints[:, 1:] - joints[:, parents], axis=-1)  # (T, J - 1)


def _left_of_walk_agreement(joints: np.ndarray) -> float:
    """Mean cosine between (left_hip - right_hip) and up x walking direction."""
    pelvis = joints[:, SKELETON.index("pelvis")]
    walk = pelvis[-1] - pelvis[0]
    left_of_walk = np.cross([0.0, 1.0, 0.0], walk)
    left_of_walk /= np.linalg.norm(left_of_walk)
    across = joints[:, SKELETON.index("left_hip")] - joints[:, SKELETON.index("right_hip")]  # (T, 3)
    across /= np.linalg.norm(across, axis=-1, keepdims=True)
    return float((across @ left_of_walk).mean())


def _path_length(joints: np.ndarray) -> float:
    pelvis = joints[:, SKELETON.index("pelvis")][:, [0, 2]]  # (T, 2) on the floor
    return float(np.linalg.norm(np.diff(pelvis, axis=0), axis=-1).sum())


# --- ASF/AMC reader ------------------------------------------------------------------------------


def test_asf_units_and_bones(hdm05, cmu):
    for asf in (hdm05["asf"], cmu["asf"]):
        skeleton = read_asf(asf)
        assert skeleton.length_unit == 0.45
        assert skeleton.metres_per_unit == pytest.approx(0.0254 / 0.45)
        assert len(skeleton.bones) == 30
        leg = sum(skeleton.bones[skeleton.index(name)].length for name in ("lfemur", "ltibia"))
        assert 0.75 < leg * skeleton.metres_per_unit < 0.95


def test_amc_errors_name_the_line(cmu):
    skeleton = read_asf(cmu["asf"])
    with pytest.raises(AcclaimError, match=r"line 5: expected 3 values for 'lowerback'"):
        parse_amc(":FULLY-SPECIFIED\r\n:DEGREES\r\n1\r\nroot 0 0 0 0 0 0\r\nlowerback 1 2\r\n", skeleton, "x.amc")
    with pytest.raises(AcclaimError, match=r"x.amc, line 4: bone 'tail'"):
        parse_amc(":DEGREES\n1\nroot 0 0 0 0 0 0\ntail 1\n", skeleton, "x.amc")


# --- Real clips ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name, source_frames, source_fps", [
    ("hdm05", 232, 120), ("cmu_amc", 343, 120), ("cmu_bvh", 162, 60), ("iclone_walk", 171, 60), ("iclone_plain", 299, 60),
])
def test_shape_and_20_fps(clips, name, source_frames, source_fps):
    joints = clips[name]
    expected = int(np.floor((source_frames - 1) / source_fps * 20 + 1e-2)) + 1
    assert joints.shape == (expected, 22, 3) and joints.dtype == np.float64


@pytest.mark.parametrize("name", ["hdm05", "cmu_amc", "iclone_walk", "iclone_plain"])
def test_standing_body_in_metres_with_y_up_and_feet_on_the_floor(clips, name):
    joints = clips[name]
    feet = joints[:, FEET, 1].min(axis=1)  # (T,)
    height = joints[:, SKELETON.index("head"), 1] - feet
    assert 1.5 < np.median(height) < 1.9
    assert np.abs(feet).max() < 0.12  # the lowest foot joint touches the floor
    assert 0.75 < leg_length(joints) < 1.0
    assert 0.85 < np.median(joints[:, SKELETON.index("pelvis"), 1]) < 1.15


def test_reduced_cmu_bvh_is_in_metres(clips):
    joints = clips["cmu_bvh"]  # centimetres in the file; its Head is its last joint, low on the neck
    feet = joints[:, FEET, 1].min(axis=1)
    assert 1.3 < np.median(joints[:, SKELETON.index("head"), 1] - feet) < 1.9
    assert np.abs(feet).max() < 0.12
    assert 0.75 < leg_length(joints) < 1.0


@pytest.mark.parametrize("name", ["hdm05", "cmu_amc", "cmu_bvh", "iclone_walk", "iclone_plain"])
def test_bones_are_rigid(clips, name):
    lengths = _bone_lengths(clips[name])
    assert lengths.std(axis=0).max() < 1e-3
    assert lengths.min() > 0.02


@pytest.mark.parametrize("name", ["cmu_amc", "cmu_bvh", "iclone_walk", "iclone_plain"])
def test_left_is_the_actors_left_on_walks(clips, name):
    assert _left_of_walk_agreement(clips[name]) > 0.8


def test_amc_and_iclone_copies_of_one_trial_agree(clips):
    amc, bvh = clips["cmu_amc"], clips["iclone_walk"]  # CMU 02_01, original and retargeted
    assert abs(len(amc) - len(bvh)) <= 1
    assert _path_length(bvh) == pytest.approx(_path_length(amc), rel=0.15)
    n = min(len(amc), len(bvh))
    for name in ("left_knee", "right_ankle", "left_elbow", "right_wrist"):  # the same limb directions
        joint, parent = SKELETON.index(name), SKELETON.parents[SKELETON.index(name)]
        a, b = (x[:n, joint] - x[:n, parent] for x in (amc, bvh))
        cosine = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
        assert np.median(cosine) > 0.99


def test_stated_units_and_up_axis_match_the_detected_ones(cmu, clips):
    joints = import_joints(cmu["bvh_walk"], units="cm", up="y")
    np.testing.assert_allclose(joints, clips["cmu_bvh"], atol=1e-12)


def test_a_z_up_file_comes_out_y_up(cmu, clips, tmp_path):
    motion = read_bvh(cmu["bvh_walk"])
    rotated = tmp_path / "z_up.bvh"
    text = cmu["bvh_walk"].read_text()
    # Rotate the whole clip by +90 degrees about X (Y up -> Z up) through a new root joint.
    header, body = text.split("MOTION", 1)
    lines = body.strip().split("\n")
    frames = ["0 0 0 0 0 90 " + line for line in lines[2:]]
    nested = header.replace("HIERARCHY\nROOT Hips", "HIERARCHY\nROOT World\n{\nOFFSET 0 0 0\nCHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation\nJOINT Hips", 1)
    rotated.write_text(nested + "}\nMOTION\n" + "\n".join(lines[:2] + frames) + "\n")
    assert parse_bvh(rotated.read_text()).skeleton.n_joints == motion.skeleton.n_joints + 1
    joints = import_joints(rotated)
    np.testing.assert_allclose(joints, clips["cmu_bvh"], atol=1e-9)


# --- Bandai: the general path gives what the Bandai retargeting gave ------------------------------


def test_general_importer_matches_bandai_retargeting(bandai_clip):
    path = bandai_clip("dataset-1_walk_normal_001.bvh")
    np.testing.assert_allclose(import_joints(path), bandai_to_humanml3d(read_bvh(path)), atol=1e-6)


# --- Mixamo and errors ----------------------------------------------------------------------------


def test_mixamo_names_map_to_22_joints():
    joints = import_joints(MIXAMO_BVH)  # 10 frames at 30 fps, centimetres
    assert joints.shape == (7, 22, 3)
    assert 0.75 < leg_length(joints) < 0.9
    assert _left_of_walk_agreement(joints) > 0.99  # walks +Z with LeftUpLeg at +X
    assert np.all(joints[:, SKELETON.index("head"), 1] > joints[:, SKELETON.index("neck"), 1])
    collar, spine3, shoulder = (joints[:, SKELETON.index(name)] for name in ("left_collar", "spine3", "left_shoulder"))
    assert np.all((spine3[:, 0] < collar[:, 0]) & (collar[:, 0] < shoulder[:, 0]))


@pytest.mark.parametrize("prefix", ["mixamorig1:", ""])
def test_mixamo_prefixes_are_ignored(prefix, tmp_path):
    renamed = tmp_path / "renamed.bvh"
    renamed.write_text(MIXAMO_BVH.read_text().replace("mixamorig:", prefix))
    np.testing.assert_allclose(import_joints(renamed), import_joints(MIXAMO_BVH), atol=1e-12)


def test_mapping_file_overrides_the_table(tmp_path):
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"left_wrist": "mixamorig:LeftForeArm"}))
    joints = import_joints(MIXAMO_BVH, mapping=mapping)
    np.testing.assert_allclose(joints[:, SKELETON.index("left_wrist")], joints[:, SKELETON.index("left_elbow")])


def test_mapping_file_naming_a_missing_joint_is_one_sentence(tmp_path):
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"left_knee": "LeftKnee"}))
    with pytest.raises(JointMappingError) as error:
        import_joints(MIXAMO_BVH, mapping=mapping)
    message = str(error.value)
    assert "'left_knee' at 'LeftKnee'" in message and message.endswith(".") and message.count(". ") == 0


def test_skeleton_without_a_body_is_one_sentence(tmp_path):
    path = tmp_path / "stick.bvh"
    path.write_text(
        "HIERARCHY\nROOT Base\n{\n OFFSET 0 0 0\n CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation\n"
        " JOINT Arm\n {\n  OFFSET 0 10 0\n  CHANNELS 3 Zrotation Xrotation Yrotation\n  End Site\n  {\n   OFFSET 0 10 0\n  }\n }\n}\n"
        "MOTION\nFrames: 2\nFrame Time: 0.05\n0 0 0 0 0 0 0 0 0\n0 0 0 0 0 0 0 0 0\n"
    )
    with pytest.raises(UnknownSkeletonError) as error:
        import_joints(path)
    message = str(error.value)
    assert "No known rig" in message and "mapping file" in message and "22 joints" in message
    assert message.endswith(".") and message.count(". ") == 0


def test_our_own_bvh_export_reads_as_its_writer_meant(clips):
    from keymask.core.bvh.from_joints import bvh_to_joints, joints_to_bvh
    from keymask.core.mocap.importer import bvh_motion_to_joints

    motion = joints_to_bvh(clips["cmu_amc"], units="cm")  # 20 fps already
    again = bvh_motion_to_joints(motion)  # our names, units and up detected
    np.testing.assert_allclose(again, bvh_to_joints(motion, units="cm"), atol=1e-9)
    np.testing.assert_allclose(again, clips["cmu_amc"], atol=0.01)
