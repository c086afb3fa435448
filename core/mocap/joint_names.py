"""Which source joint stands for each of our 22 joints, per rig, and how a rig is recognised.

A table maps every HumanML3D joint (skeleton.py's names) to a source joint name, or to a
point `Between` two source joints (a fraction of the way from `start` to `end`) where the rig
has no counterpart. Source joints are positions: a BVH joint's origin, or an ASF bone's END
(left_knee = end of lfemur; see motion.py). Proportions follow the HumanML3D (SMPL) body:
spine3 is where the collar bones start (the top of the thorax), the neck is the base of the
neck, the head is the skull base, and each collar sits between the spine top and the
shoulder, so a rig whose clavicle starts on the spine gets its collar halfway along it.

Matching is case-insensitive and ignores a namespace prefix (`mixamorig:`, `mixamorig1:`, any
`prefix:`). The table that fits is the one whose every name is in the skeleton (the one
naming the most joints if several fit); a user mapping overrides or completes it.
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import KeyMaskError
from ..skeleton import HUMANML3D_SKELETON

OUR_JOINTS = HUMANML3D_SKELETON.joint_names
END_SITE_SUFFIX = ".end"  # motion.py names a BVH End Site after its joint plus this


@dataclass(frozen=True)
class Between:
    """The point `fraction` of the way from source joint `start` to source joint `end`."""

    start: str
    end: str
    fraction: float


JointSource = str | Between


@dataclass(frozen=True)
class JointTable:
    name: str
    sources: dict[str, JointSource]  # our joint -> source joint (all 22)

    def source_names(self) -> set[str]:
        names = set()
        for source in self.sources.values():
            names.update((source.start, source.end) if isinstance(source, Between) else (source,))
        return names


class UnknownSkeletonError(KeyMaskError, ValueError):
    """No joint table (and no user mapping) places all 22 joints on this skeleton."""


class JointMappingError(KeyMaskError, ValueError):
    """A user joint mapping is malformed or names joints the skeleton lacks."""


def _sided(template: dict[str, JointSource], left: str, right: str) -> dict[str, JointSource]:
    """The 22-joint table from a template whose `{side}_*` entries name sources with `{side}`."""
    sources: dict[str, JointSource] = {}
    for ours, source in template.items():
        if "{side}" not in ours:
            sources[ours] = source
            continue
        for side_name, side in (("left", left), ("right", right)):
            sources[ours.format(side=side_name)] = _for_side(source, side)
    return {joint: sources[joint] for joint in OUR_JOINTS}


def _for_side(source: JointSource, side: str) -> JointSource:
    if isinstance(source, Between):
        return Between(source.start.format(side=side), source.end.format(side=side), source.fraction)
    return source.format(side=side)


BANDAI = JointTable("Bandai Namco", _sided({
    "pelvis": "Hips", "{side}_hip": "UpperLeg_{side}", "spine1": "Spine", "{side}_knee": "LowerLeg_{side}",
    "spine2": Between("Spine", "Chest", 0.5), "{side}_ankle": "Foot_{side}", "spine3": "Chest",
    "{side}_foot": "Toes_{side}", "neck": "Neck", "{side}_collar": "Shoulder_{side}", "head": "Head",
    "{side}_shoulder": "UpperArm_{side}", "{side}_elbow": "LowerArm_{side}", "{side}_wrist": "Hand_{side}",
}, "L", "R"))

CMU_ASF = JointTable("CMU/HDM05 ASF", _sided({
    "pelvis": "root", "{side}_hip": "{side}hipjoint", "spine1": "lowerback", "{side}_knee": "{side}femur",
    "spine2": "upperback", "{side}_ankle": "{side}tibia", "spine3": "thorax", "{side}_foot": "{side}foot",
    "neck": "upperneck", "{side}_collar": Between("thorax", "{side}clavicle", 0.5), "head": "head",
    "{side}_shoulder": "{side}clavicle", "{side}_elbow": "{side}humerus", "{side}_wrist": "{side}radius",
}, "l", "r"))

# CMU BVH (cgspeed and similar): a joint sits where the ASF bone of the same place starts, so
# Spine = end of lowerback, Neck = end of thorax, Head = end of upperneck, its End Site = end of head.
CMU_BVH = JointTable("CMU BVH", _sided({
    "pelvis": "Hips", "{side}_hip": "{side}UpLeg", "spine1": "Spine", "{side}_knee": "{side}Leg",
    "spine2": "Spine1", "{side}_ankle": "{side}Foot", "spine3": "Neck", "{side}_foot": "{side}ToeBase",
    "neck": "Head", "{side}_collar": Between("{side}Shoulder", "{side}Arm", 0.5), "head": "Head" + END_SITE_SUFFIX,
    "{side}_shoulder": "{side}Arm", "{side}_elbow": "{side}ForeArm", "{side}_wrist": "{side}Hand",
}, "Left", "Right"))

# The reduced CMU BVH (no LowerBack, Neck, hip joints): two spine joints, the collar bones on
# Spine1, and Head the last joint (its End Site has a zero offset).
CMU_BVH_REDUCED = JointTable("CMU BVH (reduced)", _sided({
    "pelvis": "Hips", "spine1": "Spine", "spine2": Between("Spine", "Spine1", 0.5), "spine3": "Spine1",
    "neck": "Neck1", "head": "Head",
    "{side}_hip": "{side}UpLeg", "{side}_knee": "{side}Leg", "{side}_ankle": "{side}Foot", "{side}_foot": "{side}ToeBase",
    "{side}_collar": Between("{side}Shoulder", "{side}Arm", 0.5), "{side}_shoulder": "{side}Arm",
    "{side}_elbow": "{side}ForeArm", "{side}_wrist": "{side}Hand",
}, "Left", "Right"))

# Mixamo: its LeftShoulder already sits out from the spine, where SMPL's collar is.
MIXAMO = JointTable("Mixamo", _sided({
    "pelvis": "Hips", "{side}_hip": "{side}UpLeg", "spine1": "Spine", "{side}_knee": "{side}Leg",
    "spine2": "Spine1", "{side}_ankle": "{side}Foot", "spine3": "Spine2", "{side}_foot": "{side}ToeBase",
    "neck": "Neck", "{side}_collar": "{side}Shoulder", "head": "Head",
    "{side}_shoulder": "{side}Arm", "{side}_elbow": "{side}ForeArm", "{side}_wrist": "{side}Hand",
}, "Left", "Right"))

# iClone / Character Creator: Spine02 is the upper chest, 27 cm above the waist, and the neck
# 27 cm above it; spine3 (the collar bones' start in SMPL) is a quarter of the way up.
ICLONE = JointTable("iClone / Character Creator", _sided({
    "pelvis": "CC_Base_Hip", "{side}_hip": "CC_Base_{side}_Thigh", "spine1": "CC_Base_Spine01",
    "{side}_knee": "CC_Base_{side}_Calf", "spine2": "CC_Base_Spine02", "{side}_ankle": "CC_Base_{side}_Foot",
    "spine3": Between("CC_Base_Spine02", "CC_Base_NeckTwist01", 0.25), "{side}_foot": "CC_Base_{side}_ToeBase",
    "neck": "CC_Base_NeckTwist01", "{side}_collar": "CC_Base_{side}_Clavicle", "head": "CC_Base_Head",
    "{side}_shoulder": "CC_Base_{side}_Upperarm", "{side}_elbow": "CC_Base_{side}_Forearm",
    "{side}_wrist": "CC_Base_{side}_Hand",
}, "L", "R"))

# Unreal Engine mannequin-like rigs (cm, Z up, a `root` bone on the floor above the pelvis; twist
# bones such as upperarm_twist_01_l hang beside the limb and are not needed).
UNREAL = JointTable("Unreal mannequin", _sided({
    "pelvis": "pelvis", "{side}_hip": "thigh_{side}", "spine1": "spine_01", "{side}_knee": "calf_{side}",
    "spine2": "spine_02", "{side}_ankle": "foot_{side}", "spine3": "spine_03", "{side}_foot": "ball_{side}",
    "neck": "neck_01", "{side}_collar": "clavicle_{side}", "head": "head",
    "{side}_shoulder": "upperarm_{side}", "{side}_elbow": "lowerarm_{side}", "{side}_wrist": "hand_{side}",
}, "l", "r"))

# Blender Rigify's deform bones: DEF-spine starts at the pelvis, .003 is the upper chest, .004 the
# neck and .006 the head; each limb has a second (twist) segment, e.g. DEF-upper_arm.L.001.
RIGIFY = JointTable("Rigify", _sided({
    "pelvis": "DEF-spine", "{side}_hip": "DEF-thigh.{side}", "spine1": "DEF-spine.001", "{side}_knee": "DEF-shin.{side}",
    "spine2": "DEF-spine.002", "{side}_ankle": "DEF-foot.{side}", "spine3": "DEF-spine.003", "{side}_foot": "DEF-toe.{side}",
    "neck": "DEF-spine.004", "{side}_collar": "DEF-shoulder.{side}", "head": "DEF-spine.006",
    "{side}_shoulder": "DEF-upper_arm.{side}", "{side}_elbow": "DEF-forearm.{side}", "{side}_wrist": "DEF-hand.{side}",
}, "L", "R"))

# Our own BVH export (core/bvh/from_joints.py) names its joints after ours.
KEYMASK = JointTable("KeyMask", {joint: joint for joint in OUR_JOINTS})

JOINT_TABLES = (KEYMASK, BANDAI, CMU_ASF, CMU_BVH, CMU_BVH_REDUCED, MIXAMO, ICLONE, UNREAL, RIGIFY)

_PREFIX = re.compile(r"^(?:.*:|mixamorig\d*_?)", re.IGNORECASE)


def normalised_name(name: str) -> str:
    """Lower case without a namespace prefix: 'mixamorig1:LeftArm' -> 'leftarm'."""
    return _PREFIX.sub("", name).lower()


def read_mapping(path: str | Path) -> dict[str, JointSource]:
    """A user mapping file: JSON `{"pelvis": "their_name", "spine2": ["a", "b", 0.5], ...}`."""
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise JointMappingError(f"Cannot read the joint mapping {path}: {error}.") from error
    return checked_mapping(document, str(path))


def checked_mapping(document: object, source: str = "the joint mapping") -> dict[str, JointSource]:
    """Our joint -> source joint from a JSON-like dict; names and fractions are checked."""
    if not isinstance(document, dict):
        raise JointMappingError(f"{source} must be a JSON object from our joint names to source joint names.")
    mapping: dict[str, JointSource] = {}
    for ours, value in document.items():
        if ours not in OUR_JOINTS:
            raise JointMappingError(f"{source} maps '{ours}', which is not one of our joints ({', '.join(OUR_JOINTS)}).")
        if isinstance(value, str):
            mapping[ours] = value
        elif isinstance(value, (list, tuple)) and len(value) == 3 and all(isinstance(v, str) for v in value[:2]) and isinstance(value[2], (int, float)):
            mapping[ours] = Between(value[0], value[1], float(value[2]))
        else:
            raise JointMappingError(f"{source} maps '{ours}' to {value!r}; expected a joint name or [start, end, fraction].")
    return mapping


def resolve_sources(names: tuple[str, ...], mapping: dict[str, JointSource] | None = None) -> dict[str, JointSource]:
    """Our 22 joints -> the skeleton's own joint names (exact spelling), from a table and `mapping`."""
    lookup = {}
    for name in names:
        lookup.setdefault(normalised_name(name), name)
    mapping = dict(mapping or {})
    _check_mapping_names(mapping, names, lookup)
    table, missing = _best_table(lookup)
    if table is None and not set(OUR_JOINTS) <= set(mapping):
        unplaced = [joint for joint in OUR_JOINTS if joint not in mapping]
        shown = ", ".join(missing[1][:4]) + (", ..." if len(missing[1]) > 4 else "")
        raise UnknownSkeletonError(
            f"No known rig (Bandai, CMU, HDM05, Mixamo, iClone, Unreal, Rigify, KeyMask) fits this skeleton: the closest, {missing[0]}, "
            f"lacks {len(missing[1])} of its joints ({shown}); give a joint mapping file (JSON, our joint name -> "
            f"yours) for the {len(unplaced)} joints it cannot place."
        )
    sources = {} if table is None else dict(table.sources)
    sources.update(mapping)
    return {ours: _spelled(source, lookup) for ours, source in sources.items()}


def _best_table(lookup: dict[str, str]) -> tuple[JointTable | None, tuple[str, list[str]]]:
    """The fitting table naming the most joints, else None and (closest table, its missing names)."""
    fitting, closest = [], None
    for table in JOINT_TABLES:
        missing = sorted(name for name in table.source_names() if normalised_name(name) not in lookup)
        if not missing:
            fitting.append(table)
        elif closest is None or len(missing) < len(closest[1]):
            closest = (table.name, missing)
    if fitting:
        return max(fitting, key=lambda table: len(table.source_names())), ("", [])
    return None, closest


def _check_mapping_names(mapping: dict[str, JointSource], names: tuple[str, ...], lookup: dict[str, str]) -> None:
    for ours, source in mapping.items():
        for name in (source.start, source.end) if isinstance(source, Between) else (source,):
            if normalised_name(name) not in lookup:
                raise JointMappingError(
                    f"The joint mapping places '{ours}' at '{name}', which this skeleton does not have (it has {list(names)})."
                )


def _spelled(source: JointSource, lookup: dict[str, str]) -> JointSource:
    if isinstance(source, Between):
        return Between(lookup[normalised_name(source.start)], lookup[normalised_name(source.end)], source.fraction)
    return lookup[normalised_name(source)]
