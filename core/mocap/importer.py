"""Motion capture files (BVH, ASF/AMC) -> the 22 HumanML3D joints: metres, Y up, resampled.

Output: (T', 22, 3) float64 metres, Y up, in skeleton.py's joint order, at `fps`; the clip
keeps its own start and facing (no canonicalisation), and the actor's left stays the actor's
left (only proper rotations are applied: the up axis is turned onto +Y, never mirrored).

Steps: read the file into local rotations and translations (motion.py), find which source
joint stands for each of ours (joint_names.py), keep only the joints needed, resample
(slerp of local rotations, linear translations), run FK, place our joints, then scale to
metres and turn the up axis onto +Y.

Units, unless given: the leg length (hip to knee plus knee to ankle, constant over the clip)
measured in file units is compared with an adult's 0.85 m for each candidate unit (metre,
centimetre, millimetre, inch, and for ASF/AMC the Acclaim unit 1/L inch of `:units length L`,
e.g. 5.644 cm for L = 0.45); the candidate whose implied leg length is nearest 0.85 m in
ratio wins. Up axis, unless given: the signed coordinate axis nearest the median direction
from the ankles to the head over the clip, which stays upward when the body bends over or
crouches (a clip that mostly lies on the floor needs `up`).
Source frame rate: a BVH's Frame Time; for AMC (which does not state it) `source_fps`, else a
`_<fps>` suffix of the file name (HDM05: `..._120.amc`), else 120 (CMU).
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..bvh.format import BvhMotion
from ..bvh.reader import read_bvh
from ..errors import KeyMaskError
from ..skeleton import HUMANML3D_SKELETON
from .asf_amc import read_amc, read_asf
from .joint_names import Between, JointSource, JointTable, checked_mapping, read_mapping, resolve_sources
from .motion import TreeMotion, global_positions, keep_joints, resample, tree_from_amc, tree_from_bvh

METRES_PER_UNIT = {"m": 1.0, "cm": 0.01, "mm": 0.001, "inch": 0.0254}
TYPICAL_LEG_LENGTH = 0.85  # metres, hip to ankle of an adult
DEFAULT_AMC_FPS = 120.0  # CMU and HDM05 capture rate
KNOWN_CAPTURE_RATES = ("30", "60", "100", "120", "240")
# Proper rotations taking each signed up axis onto +Y (rows: new x, y, z in old coordinates).
UP_ROTATIONS = {
    "+y": np.eye(3),
    "-y": np.array([[1.0, 0, 0], [0, -1, 0], [0, 0, -1]]),
    "+z": np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]]),
    "-z": np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]]),
    "+x": np.array([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]]),
    "-x": np.array([[0.0, 1, 0], [-1, 0, 0], [0, 0, 1]]),
}


class MocapImportError(KeyMaskError, ValueError):
    """A motion file or option the importer cannot use."""


def import_joints(
    path: str | Path,
    *,
    asf: str | Path | None = None,
    mapping: str | Path | dict | None = None,
    units: str | float | None = None,
    up: str | None = None,
    source_fps: float | None = None,
    fps: float = 20,
) -> np.ndarray:
    """(T', 22, 3) float64 metres, Y up, at `fps`, from a `.bvh` or `.amc` file.

    asf: the skeleton of an `.amc` (default: the only `.asf` beside it, or `<subject>.asf` for
    `<subject>_<trial>.amc`). mapping: a JSON file or dict, our joint -> source joint name (or
    [start, end, fraction]), overriding the detected rig table. units: 'm', 'cm', 'mm', 'inch',
    'acclaim' or metres per file unit. up: '+y', 'y', '+z', 'z', '-y', ... (the file's up axis).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    acclaim_metres = None
    if suffix == ".bvh":
        tree = tree_from_bvh(read_bvh(path))
    elif suffix == ".amc":
        skeleton = read_asf(_find_asf(path) if asf is None else asf)
        frame_time = 1.0 / (source_fps or _fps_from_name(path) or DEFAULT_AMC_FPS)
        tree = tree_from_amc(skeleton, read_amc(path, skeleton), frame_time)
        acclaim_metres = skeleton.metres_per_unit
    else:
        raise MocapImportError(f"Cannot import {path}: expected a .bvh or .amc file.")
    if source_fps is not None and suffix == ".bvh":
        tree = TreeMotion(tree.names, tree.parents, tree.rotations, tree.translations, 1.0 / source_fps)
    if isinstance(mapping, (str, Path)):
        mapping = read_mapping(mapping)
    elif mapping is not None:
        mapping = checked_mapping(mapping)
    return tree_to_joints(tree, mapping=mapping, units=units, up=up, fps=fps, acclaim_metres=acclaim_metres)


@dataclass(frozen=True)
class RigRest:
    """A BVH rig at rest (every rotation zero, root at the origin) and how it maps onto our joints."""

    names: tuple[str, ...]  # the rig's joints (file order), then one `<joint>.end` per End Site
    positions: np.ndarray  # (J, 3) rest positions, file units and axes
    sources: dict[str, JointSource]  # our joint -> rig joint (or a point between two)
    metres_per_unit: float
    axes: np.ndarray  # (3, 3) ours = axes @ file: turns the file's up axis onto +Y

    def joints(self) -> np.ndarray:
        """(22, 3) our joints at the rig's rest pose, metres, Y up."""
        return self.metres_per_unit * place_joints(self.positions[None], self.names, self.sources)[0] @ self.axes.T


def read_rig_rest(
    path: str | Path, *, mapping: str | Path | dict | None = None, units: str | float | None = None, up: str | None = None
) -> RigRest:
    """The rest pose of a BVH rig of any skeleton the joint-name tables (or `mapping`) place."""
    path = Path(path)
    if path.suffix.lower() != ".bvh":
        raise MocapImportError(f"Cannot read a rig from {path}: expected a .bvh file.")
    tree = tree_from_bvh(read_bvh(path))
    if isinstance(mapping, (str, Path)):
        mapping = read_mapping(mapping)
    elif mapping is not None:
        mapping = checked_mapping(mapping)
    sources = resolve_sources(tree.names, mapping)
    translations = tree.translations[:1].copy()  # (1, J, 3)
    translations[:, 0] = 0.0
    rotations = np.broadcast_to(np.eye(3), (1,) + tree.rotations.shape[1:])
    positions = global_positions(TreeMotion(tree.names, tree.parents, rotations, translations, tree.frame_time))[0]
    joints = place_joints(positions[None], tree.names, sources)  # (1, 22, 3) file units
    axes = UP_ROTATIONS[_up_axis(up, joints)]
    return RigRest(tree.names, positions, sources, _metres_per_unit(units, joints, None), axes)


def import_rest_joints(
    path: str | Path, *, mapping: str | Path | dict | None = None, units: str | float | None = None, up: str | None = None
) -> np.ndarray:
    """(22, 3) metres, Y up: a BVH rig's rest pose (every rotation zero, root at the origin) on our joints."""
    return read_rig_rest(path, mapping=mapping, units=units, up=up).joints()


def bvh_motion_to_joints(
    motion: BvhMotion,
    *,
    table: JointTable | None = None,
    mapping: dict | None = None,
    units: str | float | None = None,
    up: str | None = None,
    fps: float = 20,
) -> np.ndarray:
    """(T', 22, 3) metres, Y up, at `fps`, from a BVH motion in memory (`table` forces a rig)."""
    if table is not None:
        mapping = {**table.sources, **(mapping or {})}
    return tree_to_joints(tree_from_bvh(motion), mapping=mapping, units=units, up=up, fps=fps)


def tree_to_joints(
    tree: TreeMotion,
    *,
    mapping: dict[str, JointSource] | None = None,
    units: str | float | None = None,
    up: str | None = None,
    fps: float = 20,
    acclaim_metres: float | None = None,
) -> np.ndarray:
    """(T', 22, 3) metres, Y up, at `fps`, from a joint tree's motion (see the module docstring)."""
    # 1. Which source joint stands for each of ours; only those and their ancestors are kept.
    sources = resolve_sources(tree.names, mapping)  # our joint -> source joint or Between
    tree = keep_joints(tree, _source_names(sources))

    # 2. Resample the local motion, then FK.
    tree = resample(tree, fps)
    positions = global_positions(tree)  # (T', J, 3) file units
    joints = place_joints(positions, tree.names, sources)  # (T', 22, 3) file units

    # 3. Metres, Y up.
    scale = _metres_per_unit(units, joints, acclaim_metres)
    rotation = UP_ROTATIONS[_up_axis(up, joints)]  # (3, 3)
    return scale * joints @ rotation.T


def place_joints(positions: np.ndarray, names: tuple[str, ...], sources: dict[str, JointSource]) -> np.ndarray:
    """(T, 22, 3) our joints from source positions (T, J, 3) named `names`."""
    joints = np.empty((positions.shape[0], HUMANML3D_SKELETON.n_joints, 3))
    for j, ours in enumerate(HUMANML3D_SKELETON.joint_names):
        source = sources[ours]
        if isinstance(source, Between):
            start, end = positions[:, names.index(source.start)], positions[:, names.index(source.end)]
            joints[:, j] = start + source.fraction * (end - start)
        else:
            joints[:, j] = positions[:, names.index(source)]
    return joints


def leg_length(joints: np.ndarray) -> float:
    """Hip to knee plus knee to ankle of our joints (T, 22, 3), the median over both legs and frames."""
    index = HUMANML3D_SKELETON.index
    lengths = [
        np.linalg.norm(joints[:, index(f"{side}_knee")] - joints[:, index(f"{side}_hip")], axis=-1)
        + np.linalg.norm(joints[:, index(f"{side}_ankle")] - joints[:, index(f"{side}_knee")], axis=-1)
        for side in ("left", "right")
    ]
    return float(np.median(np.concatenate(lengths)))


def _source_names(sources: dict[str, JointSource]) -> set[str]:
    names = set()
    for source in sources.values():
        names.update((source.start, source.end) if isinstance(source, Between) else (source,))
    return names


def _metres_per_unit(units: str | float | None, joints: np.ndarray, acclaim_metres: float | None) -> float:
    if isinstance(units, (int, float)):
        return float(units)
    candidates = dict(METRES_PER_UNIT)
    candidates["acclaim"] = acclaim_metres if acclaim_metres is not None else METRES_PER_UNIT["inch"] / 0.45
    if units is not None:
        if units not in candidates:
            raise MocapImportError(f"Unknown units '{units}': expected one of {', '.join(candidates)} or metres per unit.")
        return candidates[units]
    if acclaim_metres is None:
        del candidates["acclaim"]
    leg = leg_length(joints)
    if not leg > 0:
        raise MocapImportError("Cannot detect the units: the legs have zero length.")
    return min(candidates.values(), key=lambda metres: abs(np.log(leg * metres / TYPICAL_LEG_LENGTH)))


def _up_axis(up: str | None, joints: np.ndarray) -> str:
    if up is not None:
        key = up.lower() if up[:1] in "+-" else "+" + up.lower()
        if key not in UP_ROTATIONS:
            raise MocapImportError(f"Unknown up axis '{up}': expected one of {', '.join(UP_ROTATIONS)}.")
        return key
    index = HUMANML3D_SKELETON.index
    ankles = 0.5 * (joints[:, index("left_ankle")] + joints[:, index("right_ankle")])
    direction = np.median(joints[:, index("head")] - ankles, axis=0)  # (3,) feet to head
    axis = int(np.argmax(np.abs(direction)))
    return ("+" if direction[axis] > 0 else "-") + "xyz"[axis]


def _find_asf(amc_path: Path) -> Path:
    subject = amc_path.stem.split("_")[0]
    candidates = [amc_path.with_name(subject + ".asf")]
    beside = sorted(amc_path.parent.glob("*.asf")) + sorted(amc_path.parent.glob("*.ASF"))
    for candidate in candidates + (beside if len(beside) == 1 else []):
        if candidate.exists():
            return candidate
    raise MocapImportError(f"Cannot find the ASF skeleton of {amc_path}: pass asf= (looked for {candidates[0].name} or a single .asf beside it).")


def _fps_from_name(path: Path) -> float | None:
    """HDM05's `HDM_<actor>_<class>_<index>_<fps>` names end in the frame rate."""
    parts = path.stem.split("_")
    return float(parts[-1]) if len(parts) >= 4 and parts[-1] in KNOWN_CAPTURE_RATES else None
