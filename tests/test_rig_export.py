"""Motions exported onto users' rigs (Mixamo, Unreal-like, Rigify-like): names, hierarchy, units,
axes, fingers and twist bones; read back by the importer, the rig shows the motion to within 1 mm.

The rigs are written out here by hand, as nested (name, offset, children) tables with offsets in
centimetres of a T-posed adult, independent of our own skeleton code.
"""

import numpy as np
import pytest

from keymask.core.animation import Animation, body_preset
from keymask.core.bvh.reader import read_bvh
from keymask.core.bvh.writer import write_bvh
from keymask.core.mocap.importer import import_joints
from keymask.core.mocap.rig_export import RigExportError, motion_onto_rig, read_rig
from keymask.core.rotations import quat_from_axis_angle, quat_to_matrix

MM = 1e-3


def _finger(prefix: str, name: str, root, sign: float) -> tuple:
    """Three phalanges and an end joint along +-X from `root` (cm)."""
    step = lambda n: (f"{prefix}Hand{name}{n}", (sign * 3.0, 0.0, 0.0))
    chain = (f"{prefix}Hand{name}4", (sign * 2.0, 0.0, 0.0), ())
    for n in (3, 2):
        chain = (*step(n), (chain,))
    return (f"{prefix}Hand{name}1", root, (chain,))


def _arm(side: str, sign: float) -> tuple:
    fingers = tuple(_finger(side, name, (sign * x, y, z), sign) for name, (x, y, z) in {
        "Thumb": (2.5, -1.5, 3.0), "Index": (9.0, 0.0, 2.5), "Middle": (9.5, 0.0, 0.5),
        "Ring": (9.0, 0.0, -1.3), "Pinky": (8.0, 0.0, -3.0)}.items())
    hand = (f"{side}Hand", (sign * 25.0, 0.0, 0.0), fingers)
    forearm = (f"{side}ForeArm", (sign * 26.0, 0.0, 0.0), (hand,))
    arm = (f"{side}Arm", (sign * 11.0, 0.0, 0.0), (forearm,))
    return (f"{side}Shoulder", (sign * 6.0, 9.0, -1.0), (arm,))


def _leg(side: str, sign: float) -> tuple:
    toe = (f"{side}ToeBase", (0.0, -7.0, 12.0), ((f"{side}Toe_End", (0.0, 0.0, 8.0), ()),))
    foot = (f"{side}Foot", (0.0, -41.0, -1.0), (toe,))
    leg = (f"{side}Leg", (0.0, -42.0, 0.5), (foot,))
    return (f"{side}UpLeg", (sign * 9.0, -6.5, 0.0), (leg,))


MIXAMO_RIG = ("Hips", (0.0, 0.0, 0.0), (
    _leg("Left", 1.0), _leg("Right", -1.0),
    ("Spine", (0.0, 9.5, 1.0), (("Spine1", (0.0, 11.0, 0.0), (("Spine2", (0.0, 12.5, -0.5), (
        ("Neck", (0.0, 15.0, 1.0), (("Head", (0.0, 9.0, 1.5), (("HeadTop_End", (0.0, 18.0, 0.0), ()),)),)),
        _arm("Left", 1.0), _arm("Right", -1.0))),)),)),
))


def _ue_arm(side: str, sign: float) -> tuple:
    hand = (f"hand_{side}", (sign * 26.0, 0.0, 0.0), ())
    lower = (f"lowerarm_{side}", (sign * 27.0, 0.0, 0.0), (hand, (f"lowerarm_twist_01_{side}", (sign * 13.0, 0, 0), ())))
    upper = (f"upperarm_{side}", (sign * 15.0, 0.0, 0.0), (lower, (f"upperarm_twist_01_{side}", (sign * 5.0, 0, 0), ())))
    return (f"clavicle_{side}", (sign * 3.0, 10.0, 2.0), (upper,))


def _ue_leg(side: str, sign: float) -> tuple:
    ball = (f"ball_{side}", (0.0, -8.0, 13.0), ())
    foot = (f"foot_{side}", (0.0, -42.0, 0.0), (ball,))
    calf = (f"calf_{side}", (0.0, -44.0, 1.0), (foot, (f"calf_twist_01_{side}", (0.0, -20.0, 0.0), ())))
    return (f"thigh_{side}", (sign * 10.0, -5.0, 0.0), (calf,))


# Unreal-like: a root bone on the floor above the pelvis, twist bones beside the limbs; Y up here,
# turned to Z up when written (UE files are Z up).
UNREAL_RIG = ("root", (0.0, 0.0, 0.0), (("pelvis", (0.0, 97.0, 0.0), (
    _ue_leg("l", 1.0), _ue_leg("r", -1.0),
    ("spine_01", (0.0, 10.0, 0.0), (("spine_02", (0.0, 13.0, 0.0), (("spine_03", (0.0, 14.0, 0.0), (
        ("neck_01", (0.0, 16.0, 0.0), (("head", (0.0, 10.0, 1.0), ()),)),
        _ue_arm("l", 1.0), _ue_arm("r", -1.0))),)),)),
)),))


def rig_text(rig: tuple, z_up: bool = False, prefix: str = "") -> str:
    """A one-frame BVH of a (name, offset, children) table, channels ZXY; Z up turns (x, y, z) to (x, -z, y)."""
    lines, channels = ["HIERARCHY"], 0

    def offset(v):
        x, y, z = v
        return (x, -z, y) if z_up else (x, y, z)

    def write(node, depth, root=False):
        nonlocal channels
        name, position, children = node
        pad = "  " * depth
        lines.append(f"{pad}{'ROOT' if root else 'JOINT'} {prefix}{name}")
        lines.append(pad + "{")
        lines.append(pad + "  OFFSET " + " ".join(f"{c:.4f}" for c in offset(position)))
        lines.append(pad + ("  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation" if root
                            else "  CHANNELS 3 Zrotation Xrotation Yrotation"))
        channels += 6 if root else 3
        for child in children:
            write(child, depth + 1)
        if not children:
            lines.extend([pad + "  End Site", pad + "  {", pad + "    OFFSET 0.0000 0.0000 0.0000", pad + "  }"])
        lines.append(pad + "}")

    write(rig, 0, root=True)
    lines += ["MOTION", "Frames: 1", "Frame Time: 0.033333", " ".join(["0.0"] * channels)]
    return "\n".join(lines) + "\n"


def a_motion(frames: int = 30) -> Animation:
    """The model's body walking a short curve with every joint turning smoothly."""
    rng = np.random.default_rng(0)
    rotvec = np.cumsum(rng.normal(0, 0.02, (frames, 22, 3)), axis=0)
    rotvec[:, 0] += np.linspace(0, 1.2, frames)[:, None] * [0.0, 1.0, 0.0]  # the pelvis turns 70 degrees
    angle = np.linalg.norm(rotvec, axis=-1)
    rotations = quat_to_matrix(quat_from_axis_angle(rotvec / np.maximum(angle, 1e-9)[..., None], angle))
    root = np.stack([np.linspace(0, 1.0, frames), np.full(frames, 0.92), np.linspace(0, 0.5, frames)], axis=-1)
    return Animation(root, rotations, body_preset("model"))


@pytest.mark.parametrize("rig, z_up, prefix", [(MIXAMO_RIG, False, "mixamorig:"), (UNREAL_RIG, True, "")])
def test_a_motion_on_a_rig_reads_back_to_the_motion_on_its_body(rig, z_up, prefix, tmp_path):
    rig_path = tmp_path / "rig.bvh"
    rig_path.write_text(rig_text(rig, z_up, prefix))
    target = read_rig(rig_path)
    motion = motion_onto_rig(a_motion(), target, fps=20)
    assert motion.skeleton.names == read_bvh(rig_path).skeleton.names  # their names and hierarchy, in order
    out = tmp_path / "out.bvh"
    write_bvh(out, motion)
    back = import_joints(out, fps=20)  # (T, 22, 3) metres, Y up
    expected = a_motion().on_body(target.body).joints()
    assert np.abs(back - expected).max() < 1 * MM
    assert abs(target.body.height() - (1.50 if z_up else 1.53)) < 0.1  # the rig's own proportions, in metres


def test_fingers_take_the_hand_pose_and_twist_bones_stay_at_rest(tmp_path):
    rig_path = tmp_path / "mixamo.bvh"
    rig_path.write_text(rig_text(MIXAMO_RIG))
    target = read_rig(rig_path)
    names = target.skeleton.names
    curls = {}
    for pose in ("open", "relaxed", "fist", "point"):
        motion = motion_onto_rig(a_motion(4), target, hand_pose=pose)
        angles = motion.joint_channels(names.index("LeftHandMiddle2"))  # (T, 3) degrees
        index = motion.joint_channels(names.index("LeftHandIndex2"))
        curls[pose] = (np.abs(angles).max(), np.abs(index).max())
    assert curls["open"][0] < 1e-6 and 20 < curls["relaxed"][0] < 30 and curls["fist"][0] > 80
    assert curls["point"][1] < 1e-6 and curls["point"][0] > 80  # the index finger points, the others close

    ue_path = tmp_path / "ue.bvh"
    ue_path.write_text(rig_text(UNREAL_RIG, z_up=True))
    ue = motion_onto_rig(a_motion(), read_rig(ue_path))
    twist = ue.joint_channels(ue.skeleton.names.index("upperarm_twist_01_l"))
    root = ue.joint_channels(0)  # the floor bone: only its position moves
    assert np.abs(twist).max() < 1e-6 and np.abs(root[:, 3:]).max() < 1e-6


def test_a_rig_without_a_body_is_one_sentence(tmp_path):
    path = tmp_path / "prop.bvh"
    path.write_text(rig_text(("Lid", (0.0, 0.0, 0.0), (("Hinge", (0.0, 5.0, 0.0), ()),))))
    with pytest.raises(RigExportError, match=r"Cannot use .*prop.bvh as a rig: No known rig"):
        read_rig(path)
    with pytest.raises(RigExportError, match="Unknown hand pose"):
        rig_path = tmp_path / "mixamo.bvh"
        rig_path.write_text(rig_text(MIXAMO_RIG))
        motion_onto_rig(a_motion(3), read_rig(rig_path), hand_pose="claw")


def test_a_mapping_naming_joints_the_rig_lacks_is_one_sentence(tmp_path):
    import json

    rig_path = tmp_path / "rig.bvh"
    rig_path.write_text(rig_text(MIXAMO_RIG))
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"pelvis": "Root", "head": "Head"}))
    with pytest.raises(RigExportError, match="places 'pelvis' at 'Root', which this skeleton does not have"):
        read_rig(rig_path, mapping=mapping)
    custom = tmp_path / "custom.bvh"  # a rig no table knows, placed by a full mapping
    custom.write_text(rig_text(MIXAMO_RIG).replace("Hips", "Becken").replace("Spine2", "Brust"))
    with pytest.raises(RigExportError, match="No known rig"):
        read_rig(custom)
    motion = motion_onto_rig(a_motion(6), read_rig(custom, mapping={
        **{ours: name for ours, name in read_rig(rig_path).rest.sources.items()}, "pelvis": "Becken", "spine3": "Brust"}))
    assert motion.skeleton.names[0] == "Becken"
