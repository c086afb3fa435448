"""Blender imports our BVH and puts every joint where we put it (within 1 mm)."""

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from keymask.core.bvh.from_joints import joints_to_bvh
from keymask.core.bvh.reader import read_bvh
from keymask.core.bvh.writer import write_bvh
from keymask.core.data.retarget import bandai_to_humanml3d
from keymask.core.skeleton import HUMANML3D_SKELETON as SKELETON

IMPORT_SCRIPT = Path(__file__).parent / "blender" / "import_bvh.py"
STRAIGHT_WALK = "dataset-1_walk_normal_001.bvh"
TURN_AROUND = "dataset-2_walk-turn-left_normal_033.bvh"  # turns about 190 degrees while walking
MM = 1e-3


def _blender_joint_positions(blender: str, bvh_path: Path, tmp_path: Path) -> np.ndarray:
    """(T, J, 3) bone heads after Blender's import, in the file's Y-up axes, our joint order."""
    json_path = tmp_path / "heads.json"
    command = [blender, "-b", "--factory-startup", "--python", str(IMPORT_SCRIPT), "--", str(bvh_path), str(json_path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and json_path.exists(), result.stdout[-2000:] + result.stderr[-2000:]
    dump = json.loads(json_path.read_text())
    heads = np.array([[frame[name] for name in SKELETON.joint_names] for frame in dump["frames"]])  # (T, J, 3)
    return np.stack([heads[..., 0], heads[..., 2], -heads[..., 1]], axis=-1)  # Blender Z-up -> file Y-up


def _yaw_change_degrees(joints: np.ndarray) -> float:
    left = joints[:, SKELETON.index("left_hip")] - joints[:, SKELETON.index("right_hip")]  # (T, 3)
    forward = np.cross(left, [0.0, 1.0, 0.0])
    yaw = np.unwrap(np.arctan2(forward[:, 0], forward[:, 2]))
    return float(np.degrees(yaw[-1] - yaw[0]))


@pytest.mark.slow
@pytest.mark.blender
@pytest.mark.parametrize("clip", [STRAIGHT_WALK, TURN_AROUND])
def test_blender_places_every_joint_where_we_do(clip, bandai_clip, blender_executable, tmp_path):
    joints = bandai_to_humanml3d(read_bvh(bandai_clip(clip)))  # (T, 22, 3) metres
    if clip == TURN_AROUND:
        assert abs(_yaw_change_degrees(joints)) > 170
    bvh_path = tmp_path / "ours.bvh"
    write_bvh(bvh_path, joints_to_bvh(joints, units="m"))
    in_blender = _blender_joint_positions(blender_executable, bvh_path, tmp_path)
    assert in_blender.shape == joints.shape
    assert np.abs(in_blender - joints).max() < 1 * MM


@pytest.mark.slow
@pytest.mark.blender
def test_blender_reads_a_generated_motion_back_to_its_joints(parity_pipeline, blender_executable, tmp_path):
    """The generate command's output (BVH + .npy) from tiny random official-format models."""
    from keymask.core.generation.export import export_motion

    motion = parity_pipeline(["a person turns around"], frames=80, seed=5).motions[0]
    (bvh_path, _), written = export_motion(motion.joints, tmp_path / "generated.bvh")
    in_blender = _blender_joint_positions(blender_executable, bvh_path, tmp_path)
    assert np.abs(in_blender - np.load(tmp_path / "generated.npy")).max() < 1 * MM


@pytest.mark.slow
@pytest.mark.blender
def test_blender_shows_a_motion_exported_onto_a_mixamo_rig_at_our_joints(blender_executable, tmp_path):
    """Exported onto a Mixamo-named rig (fingers curled, centimetres), Blender's importer puts every
    joint that stands for one of ours where the motion on the rig's body has it."""
    from keymask.core.generation.export import export_motion
    from keymask.core.mocap.rig_export import read_rig
    from test_rig_export import MIXAMO_RIG, a_motion, rig_text

    rig_path = tmp_path / "mixamo_rig.bvh"
    rig_path.write_text(rig_text(MIXAMO_RIG, prefix="mixamorig:"))
    rig = read_rig(rig_path)
    (bvh_path, _), expected = export_motion(a_motion().joints(), tmp_path / "on_rig.bvh", rig=rig)
    json_path = tmp_path / "heads.json"
    command = [blender_executable, "-b", "--factory-startup", "--python", str(IMPORT_SCRIPT), "--", str(bvh_path),
               str(json_path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and json_path.exists(), result.stdout[-2000:] + result.stderr[-2000:]
    frames = json.loads(json_path.read_text())["frames"]
    names = [rig.rest.sources[joint] for joint in SKELETON.joint_names]  # e.g. "mixamorig:LeftArm"
    heads = np.array([[frame[name] for name in names] for frame in frames])  # (T, 22, 3) Blender axes, cm
    in_blender = 0.01 * np.stack([heads[..., 0], heads[..., 2], -heads[..., 1]], axis=-1)  # file Y-up, metres
    assert in_blender.shape == expected.shape
    assert np.abs(in_blender - expected).max() < 1 * MM
