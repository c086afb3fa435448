"""Acclaim ASF/AMC reader: text -> AsfSkeleton and AmcMotion, then bone-end positions by FK.

Axes and units: kept as in the files (no conversion). Lengths and root translations are in the
ASF's length unit (the Acclaim convention: local units are inches and `:units length L` means
1 file unit = 1/L inch, so CMU's and HDM05's `length 0.45` is 2.54 / 0.45 cm); angles are
converted to degrees on reading (ASF `angle rad`, AMC `:RADIANS`). CMU and HDM05 are Y up.
Rotation convention (Acclaim): Euler angles are rotations about fixed axes applied in the
listed order, so `axis 0 0 20 XYZ` and `dof rx ry rz` both mean R = Rz @ Ry @ Rx acting on
column vectors. A bone's local frame is C = its `axis` rotation; per frame its rotation
relative to its parent is L = C @ M @ C^-1, with M built from the AMC values in `dof` order
(missing dofs 0). Global: G = G_parent @ L; the bone's end = parent's end + G @ (direction *
length), where `direction` is given in global rest coordinates. The root moves by
T = `position` + (TX, TY, TZ) and turns by O @ M, O = `orientation` in the root `axis` order,
M = (RX, RY, RZ) in the root `order`.

Grammar (`#` starts a comment; '(' ')' and ',' count as spaces; CRLF or LF; Latin-1):
    asf         := section*
    section     := ":version" word | ":name" word | ":units" unit_line* | ":documentation" text*
                 | ":root" root_line* | ":bonedata" bone* | ":hierarchy" "begin" link* "end"
    unit_line   := "mass" number | "length" number | "angle" ("deg" | "rad")
    root_line   := "order" channel+ | "axis" order | "position" number{3} | "orientation" number{3}
    bone        := "begin" bone_line* "end"
    bone_line   := "id" int | "name" word | "direction" number{3} | "length" number
                 | "axis" number{3} order | "dof" dof+ | "limits" (number number){n_dofs}
                 | "bodymass" number | "cofmass" number
    link        := parent child+
    amc         := header_line* frame*
    header_line := ":FULLY-SPECIFIED" | ":DEGREES" | ":RADIANS" | other ":" keyword
    frame       := int newline (bone number{n_dofs} newline)*
"""

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..bvh.kinematics import euler_to_matrices
from ..errors import KeyMaskError

ROOT = "root"
ROOT_CHANNELS = ("TX", "TY", "TZ", "RX", "RY", "RZ")
ROTATION_DOFS = ("rx", "ry", "rz")
METRES_PER_INCH = 0.0254


class AcclaimError(KeyMaskError, ValueError):
    """A malformed ASF or AMC file; the message names the file and the line."""

    def __init__(self, source: str, line: int | None, problem: str):
        self.source, self.line, self.problem = source, line, problem
        where = f"{source}, line {line}" if line is not None else source
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True)
class AsfBone:
    name: str
    direction: tuple[float, float, float]  # unit vector, global rest coordinates
    length: float  # file length units
    axis: tuple[float, float, float]  # degrees
    axis_order: str  # e.g. 'XYZ': fixed-axis order of `axis`
    dofs: tuple[str, ...]  # subset of ('rx', 'ry', 'rz') in AMC column order
    parent: int = -1  # index into AsfSkeleton.bones; -1 for the root


@dataclass(frozen=True)
class AsfRoot:
    order: tuple[str, ...] = ROOT_CHANNELS  # AMC column order of the root values
    axis_order: str = "XYZ"
    position: tuple[float, float, float] = (0.0, 0.0, 0.0)
    orientation: tuple[float, float, float] = (0.0, 0.0, 0.0)  # degrees


@dataclass(frozen=True)
class AsfSkeleton:
    name: str
    length_unit: float  # `:units length`: 1 file unit = 1 / length_unit inch
    root: AsfRoot
    bones: tuple[AsfBone, ...]  # parents precede children

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(bone.name for bone in self.bones)

    def index(self, name: str) -> int:
        return self.names.index(name)

    @property
    def metres_per_unit(self) -> float:
        return METRES_PER_INCH / self.length_unit


@dataclass(frozen=True)
class AmcMotion:
    root: np.ndarray = field(repr=False)  # (T, 6) root values in the root order, degrees
    bones: dict[str, np.ndarray] = field(repr=False)  # bone name -> (T, K) dof values, degrees

    @property
    def n_frames(self) -> int:
        return self.root.shape[0]


@dataclass
class _Line:
    words: list[str]
    number: int  # 1-based line number in the file


# ---------------------------------------------------------------------------------------------
# Reading


def read_asf(path: str | Path) -> AsfSkeleton:
    """Read an Acclaim skeleton file."""
    path = Path(path)
    return parse_asf(path.read_bytes().decode("latin-1"), source_name=str(path))


def read_amc(path: str | Path, skeleton: AsfSkeleton) -> AmcMotion:
    """Read an Acclaim motion file for `skeleton`."""
    path = Path(path)
    return parse_amc(path.read_bytes().decode("latin-1"), skeleton, source_name=str(path))


def _lines(text: str) -> list[_Line]:
    """Non-empty lines as words, comments dropped, '(' ')' ',' read as spaces."""
    lines = []
    for number, raw in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), start=1):
        words = raw.split("#", 1)[0].replace("(", " ").replace(")", " ").replace(",", " ").split()
        if words:
            lines.append(_Line(words, number))
    return lines


def _number(line: _Line, index: int, what: str, source: str) -> float:
    if index >= len(line.words):
        raise AcclaimError(source, line.number, f"expected {what} but the line ends")
    try:
        return float(line.words[index])
    except ValueError:
        raise AcclaimError(source, line.number, f"expected {what} (a number) but found '{line.words[index]}'") from None


def _triple(line: _Line, what: str, source: str) -> tuple[float, float, float]:
    return tuple(_number(line, k, f"{what}'s {axis}", source) for k, axis in enumerate("xyz", start=1))


def _order(line: _Line, index: int, source: str) -> str:
    word = line.words[index].upper() if index < len(line.words) else ""
    if len(word) != 3 or sorted(word) != ["X", "Y", "Z"]:
        raise AcclaimError(source, line.number, f"expected a rotation order such as XYZ but found '{word}'")
    return word


def parse_asf(text: str, source_name: str = "<asf>") -> AsfSkeleton:
    lines = _lines(text)
    sections = _split_sections(lines, source_name)
    name = sections.get(":name", (None, []))[0]
    length_unit, degrees_per_angle = _parse_units(sections.get(":units", (None, []))[1], source_name)
    root = _parse_root(sections.get(":root", (None, []))[1], source_name)
    root = replace(root, orientation=tuple(degrees_per_angle * np.asarray(root.orientation)))
    if ":bonedata" not in sections:
        raise AcclaimError(source_name, None, "expected a :bonedata section but found none")
    bones = [replace(bone, axis=tuple(degrees_per_angle * np.asarray(bone.axis))) for bone in _parse_bonedata(sections[":bonedata"][1], source_name)]
    if ":hierarchy" not in sections:
        raise AcclaimError(source_name, None, "expected a :hierarchy section but found none")
    links = _parse_hierarchy(sections[":hierarchy"][1], {bone.name for bone in bones}, source_name)
    return AsfSkeleton(name=name or "", length_unit=length_unit, root=root, bones=_ordered_bones(bones, links, source_name))


def _split_sections(lines: list[_Line], source: str) -> dict[str, tuple[str | None, list[_Line]]]:
    """Keyword -> (the keyword's argument, the lines up to the next keyword)."""
    sections: dict[str, tuple[str | None, list[_Line]]] = {}
    current: list[_Line] | None = None
    for line in lines:
        if line.words[0].startswith(":"):
            keyword = line.words[0].lower()
            current = []
            sections[keyword] = (" ".join(line.words[1:]) or None, current)
        elif current is None:
            raise AcclaimError(source, line.number, f"expected a ':keyword' line but found '{line.words[0]}'")
        else:
            current.append(line)
    return sections


def _parse_units(lines: list[_Line], source: str) -> tuple[float, float]:
    """The length unit and degrees per file angle unit."""
    length_unit, degrees_per_angle = 1.0, 1.0
    for line in lines:
        key = line.words[0].lower()
        if key == "length":
            length_unit = _number(line, 1, "the length unit", source)
            if not length_unit > 0:
                raise AcclaimError(source, line.number, f"expected a positive length unit but found {length_unit}")
        elif key == "angle":
            unit = line.words[1].lower() if len(line.words) > 1 else ""
            if unit not in ("deg", "rad"):
                raise AcclaimError(source, line.number, f"expected 'angle deg' or 'angle rad' but found '{unit}'")
            degrees_per_angle = float(np.rad2deg(1.0)) if unit == "rad" else 1.0
        elif key != "mass":
            raise AcclaimError(source, line.number, f"expected mass, length or angle in :units but found '{line.words[0]}'")
    return length_unit, degrees_per_angle


def _parse_root(lines: list[_Line], source: str) -> AsfRoot:
    values = {}
    for line in lines:
        key = line.words[0].lower()
        if key == "order":
            order = tuple(word.upper() for word in line.words[1:])
            if sorted(order) != sorted(ROOT_CHANNELS):
                raise AcclaimError(source, line.number, f"expected the root order to list {' '.join(ROOT_CHANNELS)} once each but found {' '.join(order)}")
            values["order"] = order
        elif key == "axis":
            values["axis_order"] = _order(line, 1, source)
        elif key in ("position", "orientation"):
            values[key] = _triple(line, f"the root {key}", source)
        else:
            raise AcclaimError(source, line.number, f"expected order, axis, position or orientation in :root but found '{line.words[0]}'")
    return AsfRoot(**values)


def _parse_bonedata(lines: list[_Line], source: str) -> list[AsfBone]:
    bones: list[AsfBone] = []
    position = 0
    while position < len(lines):
        line = lines[position]
        if line.words[0].lower() != "begin":
            raise AcclaimError(source, line.number, f"expected 'begin' to open a bone but found '{line.words[0]}'")
        end = next((k for k in range(position + 1, len(lines)) if lines[k].words[0].lower() == "end"), None)
        if end is None:
            raise AcclaimError(source, line.number, "this bone's 'begin' has no matching 'end'")
        bones.append(_parse_bone(lines[position + 1 : end], line.number, source))
        position = end + 1
    return bones


def _parse_bone(lines: list[_Line], begin_line: int, source: str) -> AsfBone:
    values: dict = {"axis": (0.0, 0.0, 0.0), "axis_order": "XYZ", "dofs": ()}
    for line in lines:
        key = line.words[0].lower()
        if key == "name":
            values["name"] = line.words[1] if len(line.words) > 1 else _number(line, 1, "a bone name", source)
        elif key == "direction":
            direction = np.asarray(_triple(line, "the direction", source))
            norm = np.linalg.norm(direction)
            if not norm > 0:
                raise AcclaimError(source, line.number, "expected a non-zero bone direction")
            values["direction"] = tuple(direction / norm)
        elif key == "length":
            values["length"] = _number(line, 1, "the bone length", source)
        elif key == "axis":
            values["axis"] = _triple(line, "the axis", source)
            values["axis_order"] = _order(line, 4, source)
        elif key == "dof":
            values["dofs"] = _parse_dofs(line, source)
        elif key not in ("id", "limits", "bodymass", "cofmass") and line.words[0][0] not in "-+.0123456789":
            raise AcclaimError(source, line.number, f"expected a bone field (id, name, direction, length, axis, dof, limits) but found '{line.words[0]}'")
    for required in ("name", "direction", "length"):
        if required not in values:
            raise AcclaimError(source, begin_line, f"this bone has no '{required}' line")
    return AsfBone(**values)


def _parse_dofs(line: _Line, source: str) -> tuple[str, ...]:
    dofs = tuple(word.lower() for word in line.words[1:])
    for dof in dofs:
        if dof not in ROTATION_DOFS:
            raise AcclaimError(source, line.number, f"expected rotation dofs ({' '.join(ROTATION_DOFS)}) but found '{dof}' (translation and length dofs are not supported)")
    if len(set(dofs)) != len(dofs):
        raise AcclaimError(source, line.number, f"a dof is listed twice: {' '.join(dofs)}")
    return dofs


def _parse_hierarchy(lines: list[_Line], bone_names: set[str], source: str) -> list[tuple[str, str, int]]:
    """(parent, child, line) links between 'begin' and 'end'."""
    if not lines or lines[0].words[0].lower() != "begin":
        raise AcclaimError(source, lines[0].number if lines else None, "expected 'begin' to open :hierarchy")
    links = []
    for line in lines[1:]:
        if line.words[0].lower() == "end":
            return links
        for name in line.words:
            if name != ROOT and name not in bone_names:
                raise AcclaimError(source, line.number, f"bone '{name}' in :hierarchy is not defined in :bonedata")
        links.extend((line.words[0], child, line.number) for child in line.words[1:])
    raise AcclaimError(source, lines[-1].number, "expected 'end' to close :hierarchy but the file ends")


def _ordered_bones(bones: list[AsfBone], links: list[tuple[str, str, int]], source: str) -> tuple[AsfBone, ...]:
    """Bones in depth-first order from the root, each with its parent's index."""
    by_name = {bone.name: bone for bone in bones}
    children: dict[str, list[str]] = {}
    seen: set[str] = set()
    for parent, child, line in links:
        if child in seen or child == ROOT:
            raise AcclaimError(source, line, f"bone '{child}' has a second parent in :hierarchy")
        seen.add(child)
        children.setdefault(parent, []).append(child)
    ordered: list[AsfBone] = []
    stack = [(child, -1) for child in reversed(children.get(ROOT, []))]
    while stack:
        name, parent = stack.pop()
        ordered.append(replace(by_name[name], parent=parent))
        stack.extend((child, len(ordered) - 1) for child in reversed(children.get(name, [])))
    unreached = [bone.name for bone in bones if bone.name not in {b.name for b in ordered}]
    if unreached:
        raise AcclaimError(source, None, f"bones {unreached} are not connected to the root in :hierarchy")
    return tuple(ordered)


def parse_amc(text: str, skeleton: AsfSkeleton, source_name: str = "<amc>") -> AmcMotion:
    lines = _lines(text)
    scale = 1.0
    position = 0
    while position < len(lines) and lines[position].words[0].startswith(":"):
        if lines[position].words[0].upper() == ":RADIANS":
            scale = np.rad2deg(1.0)
        position += 1
    dof_counts = {ROOT: 6, **{bone.name: len(bone.dofs) for bone in skeleton.bones}}
    frames = _parse_frames(lines[position:], dof_counts, source_name)
    root = np.array([frame[ROOT] for frame in frames], dtype=np.float64).reshape(len(frames), 6)  # (T, 6)
    rotation_columns = [k for k, channel in enumerate(skeleton.root.order) if channel.startswith("R")]
    root[:, rotation_columns] *= scale
    bones = {
        name: np.array([frame.get(name, [0.0] * count) for frame in frames], dtype=np.float64).reshape(len(frames), count) * scale
        for name, count in dof_counts.items()
        if name != ROOT and count
    }
    return AmcMotion(root=root, bones=bones)


def _parse_frames(lines: list[_Line], dof_counts: dict[str, int], source: str) -> list[dict[str, list[float]]]:
    """One dict per frame: bone name -> its values; frames must be numbered consecutively."""
    frames: list[dict[str, list[float]]] = []
    first_number = None
    for line in lines:
        word = line.words[0]
        if len(line.words) == 1 and word.isdigit():
            first_number = int(word) if first_number is None else first_number
            if int(word) != first_number + len(frames):
                raise AcclaimError(source, line.number, f"expected frame number {first_number + len(frames)} but found {word}")
            if frames and ROOT not in frames[-1]:
                raise AcclaimError(source, line.number, f"frame {int(word) - 1} has no root line")
            frames.append({})
            continue
        if not frames:
            raise AcclaimError(source, line.number, f"expected a frame number but found '{word}'")
        if word not in dof_counts:
            raise AcclaimError(source, line.number, f"bone '{word}' is not in the ASF skeleton")
        if len(line.words) - 1 != dof_counts[word]:
            raise AcclaimError(source, line.number, f"expected {dof_counts[word]} values for '{word}' (its dofs in the ASF) but found {len(line.words) - 1}")
        frames[-1][word] = [_number(line, k, f"value {k} of '{word}'", source) for k in range(1, len(line.words))]
    if not frames:
        raise AcclaimError(source, None, "expected at least one frame but found none")
    if ROOT not in frames[-1]:
        raise AcclaimError(source, None, "the last frame has no root line")
    return frames


# ---------------------------------------------------------------------------------------------
# Kinematics


def acclaim_rotation(angles_deg: np.ndarray, order: str) -> np.ndarray:
    """(..., 3, 3) from (..., K) angles about fixed axes applied in `order` (R = R_last ... R_first)."""
    angles_deg = np.asarray(angles_deg, dtype=np.float64)
    return euler_to_matrices(angles_deg[..., ::-1], order[::-1].upper())


def bone_local_rotations(skeleton: AsfSkeleton, motion: AmcMotion) -> np.ndarray:
    """(T, B, 3, 3) each bone's rotation relative to its parent, L = C @ M @ C^-1."""
    rotations = np.empty((motion.n_frames, len(skeleton.bones), 3, 3))
    for b, bone in enumerate(skeleton.bones):
        frame = acclaim_rotation(np.asarray(bone.axis), bone.axis_order)  # (3, 3) C
        values = motion.bones.get(bone.name, np.zeros((motion.n_frames, 0)))  # (T, K)
        moving = acclaim_rotation(values, "".join(dof[1] for dof in bone.dofs)) if bone.dofs else np.eye(3)
        rotations[:, b] = frame @ moving @ frame.T
    return rotations


def root_transforms(skeleton: AsfSkeleton, motion: AmcMotion) -> tuple[np.ndarray, np.ndarray]:
    """The root's (T, 3, 3) rotations and (T, 3) positions (file units)."""
    order = skeleton.root.order
    translation = motion.root[:, [order.index(axis) for axis in ("TX", "TY", "TZ")]]  # (T, 3)
    rotation_channels = [channel for channel in order if channel.startswith("R")]
    angles = motion.root[:, [order.index(channel) for channel in rotation_channels]]  # (T, 3)
    preset = acclaim_rotation(np.asarray(skeleton.root.orientation), skeleton.root.axis_order)  # (3, 3)
    rotations = preset @ acclaim_rotation(angles, "".join(channel[1] for channel in rotation_channels))
    return rotations, translation + np.asarray(skeleton.root.position)


def bone_end_positions(skeleton: AsfSkeleton, motion: AmcMotion) -> np.ndarray:
    """(T, 1 + B, 3) the root's position, then every bone's end, in file units."""
    root_rotations, root_positions = root_transforms(skeleton, motion)
    local = bone_local_rotations(skeleton, motion)  # (T, B, 3, 3)
    n_bones = len(skeleton.bones)
    global_rotations = np.empty_like(local)
    ends = np.empty((motion.n_frames, 1 + n_bones, 3))
    ends[:, 0] = root_positions
    for b, bone in enumerate(skeleton.bones):
        parent_rotation = root_rotations if bone.parent < 0 else global_rotations[:, bone.parent]
        global_rotations[:, b] = parent_rotation @ local[:, b]
        vector = np.asarray(bone.direction) * bone.length  # (3,)
        ends[:, 1 + b] = ends[:, 1 + bone.parent] + global_rotations[:, b] @ vector
    return ends
