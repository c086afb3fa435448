"""Key pose files: OpenPose-style JSON for 2D poses, and our own JSON for 3D key poses.

2D files mirror OpenPose's JSON output (CMU openpose doc/02_output.md) and the files the
ControlNet pose editors save (sd-webui-openpose-editor, controlnet_aux `encode_poses_as_dict`):
a `people` list whose `pose_keypoints_2d` is a flat list x0, y0, c0, x1, y1, c1, ... of COCO-18
(18 keypoints) or BODY_25 (25 keypoints) joints. Axes: pixels of the canvas, x right, y down.

3D files are ours ("keymask-keypose-3d"): the 22 HumanML3D joints in metres, Y up, the body
facing +Z, pelvis at the origin.

docs/pose_formats.md describes both formats. Readers go one grammar rule per function; every
problem raises PoseFileError with one sentence naming the file. Writers check everything first
and write atomically, so a failed write leaves no file behind.
"""

import json
import math
import os
from pathlib import Path

import numpy as np

from keymask.conditioning.poses import COCO18_JOINTS, KeyPose3D, Pose2D
from keymask.core.errors import KeyMaskError
from keymask.core.fileio import read_json, write_text
from keymask.core.skeleton import HUMANML3D_SKELETON

OPENPOSE_VERSION = 1.3  # the "version" OpenPose writes in its JSON output
KEYPOSE3D_FORMAT = "keymask-keypose-3d"
KEYPOSE3D_VERSION = 1
WORLD_KEY = "keymask_world_keypoints_3d"  # our extension: Pose2D.world, flat x, y, z per joint

# BODY_25 index of each COCO-18 joint: the same body, with MidHip (8) and the six foot points
# (19-24) left out.
BODY25_TO_COCO18 = (0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18)
BODY_JOINTS = tuple(range(14))  # COCO-18 joints of the body: nose to ankles, not eyes or ears

NORMALISED_LIMIT = 1.5  # every present coordinate within +-this: the file is in [0, 1] units
CANVAS_MARGIN = 1.1  # canvas inferred from the keypoints = this times their largest x and y
MAX_JOINT_DISTANCE_M = 3.0  # a 3D joint farther than this from the pelvis: wrong units
MIN_BONE_LENGTH_M = 0.005  # a 3D bone shorter than this: joints that were never placed
DECIMALS = 6  # written precision: micro-pixels, micrometres


class PoseFileError(KeyMaskError, ValueError):
    """A pose file that cannot be read or written, explained in one sentence naming the file."""


# ---- 2D: OpenPose JSON ------------------------------------------------------------------------

def read_pose2d(path: str | os.PathLike, *, person: int | None = None, frame: int | None = None) -> Pose2D:
    """Read one person's pose from an OpenPose-style JSON file (see docs/pose_formats.md).

    `person` picks one of several people, counting from 1 (required when there are several); `frame` picks one
    document of a file that holds a JSON list of them (required when there are several).
    """
    return pose2d_from_json(_load_json(path), name=str(path), person=person, frame=frame)


def pose2d_from_json(data, *, name: str = "<data>", person: int | None = None,
                     frame: int | None = None) -> Pose2D:
    """The same as `read_pose2d`, from an already parsed JSON value; `name` names it in errors."""
    where = f"Pose file {name}"
    document, frame_index = _pick_document(data, frame, where)
    person_doc, person_index = _pick_person(document, person, where)
    values, layout = _body_keypoints(person_doc, where)  # (K, 3) with K = 18 or 25
    values = values[list(BODY25_TO_COCO18)] if layout == "BODY_25" else values  # (18, 3)
    keypoints, confidence = _clean_keypoints(values)
    canvas = _canvas(document, where)
    source = {"file": name, "format": f"OpenPose {layout}", "person": person_index}
    if frame_index is not None:
        source["frame"] = frame_index
    present = confidence > 0
    if present.any() and np.abs(keypoints[present]).max() <= NORMALISED_LIMIT:
        if canvas is None:
            raise PoseFileError(f"{where} has coordinates normalised to [0, 1] but no canvas_width and "
                                "canvas_height to scale them by.")
        keypoints = keypoints * np.asarray(canvas, dtype=np.float64)  # (18, 2) * (width, height)
        source["coordinates"] = "normalised"
    if canvas is None:
        canvas = _canvas_from_extent(keypoints, present, where)
        source["canvas"] = "inferred from the keypoints"
    world = _world(person_doc, where)
    return Pose2D(keypoints=keypoints, confidence=confidence, canvas=canvas, world=world, source=source)


def write_pose2d(path: str | os.PathLike, pose: Pose2D) -> None:
    """Write `pose` as an OpenPose JSON file with its canvas size, atomically."""
    document = pose2d_to_json(pose, name=str(path))
    write_text(path, _dumps(document) + "\n")


def pose2d_to_json(pose: Pose2D, *, name: str = "<data>") -> dict:
    """`pose` as an OpenPose JSON document: pixels, missing joints as 0, 0, 0."""
    where = f"Pose file {name}"
    width, height = pose.canvas
    if width <= 0 or height <= 0:
        raise PoseFileError(f"{where} cannot be written: the canvas size {width} x {height} is not positive.")
    present = pose.present
    if not np.isfinite(pose.confidence).all() or (pose.confidence < 0).any() or (pose.confidence > 1).any():
        raise PoseFileError(f"{where} cannot be written: confidences must be numbers from 0 to 1.")
    if not np.isfinite(pose.keypoints[present]).all():
        raise PoseFileError(f"{where} cannot be written: a present joint has a NaN or infinite coordinate.")
    values = np.zeros((len(COCO18_JOINTS), 3))  # (18, 3): x, y, c
    values[present, :2] = pose.keypoints[present]
    values[present, 2] = pose.confidence[present]
    person = {"person_id": [-1], "pose_keypoints_2d": _rounded(values.reshape(-1)),  # (54,) flat
              "face_keypoints_2d": [], "hand_left_keypoints_2d": [], "hand_right_keypoints_2d": []}
    if pose.world is not None:
        world = np.asarray(pose.world, dtype=np.float64).reshape(len(COCO18_JOINTS), 3)
        if np.isinf(world).any():
            raise PoseFileError(f"{where} cannot be written: its world keypoints hold an infinite value.")
        person[WORLD_KEY] = _rounded(world.reshape(-1))  # NaN (unknown) is written as null
    return {"version": OPENPOSE_VERSION, "canvas_width": width, "canvas_height": height, "people": [person]}


def check_enough_joints(pose: Pose2D, minimum: int = 8) -> None:
    """Raise PoseFileError when fewer than `minimum` of the 14 body joints (not eyes or ears) are present."""
    present = [j for j in BODY_JOINTS if pose.present[j]]
    if len(present) >= minimum:
        return
    missing = ", ".join(COCO18_JOINTS[j] for j in BODY_JOINTS if not pose.present[j])
    where = f"Pose file {pose.source['file']}" if "file" in pose.source else "The pose"
    raise PoseFileError(f"{where} has only {len(present)} of the {len(BODY_JOINTS)} body joints "
                        f"(at least {minimum} are needed); missing: {missing}.")


def _pick_document(data, frame: int | None, where: str) -> tuple[dict, int | None]:
    """A JSON object is the document; a JSON list holds several, one of which `frame` picks."""
    if isinstance(data, dict):
        if frame not in (None, 0):
            raise PoseFileError(f"{where} holds a single pose, so there is no frame {frame}.")
        return data, None
    if not isinstance(data, list):
        raise PoseFileError(f"{where} holds a JSON {type(data).__name__}, not an object or a list of poses.")
    if not data:
        raise PoseFileError(f"{where} holds an empty list, with no pose in it.")
    if frame is None:
        if len(data) > 1:
            raise PoseFileError(f"{where} holds a list of {len(data)} poses; choose one with --frame "
                                f"(0 to {len(data) - 1}).")
        frame = 0
    if not 0 <= frame < len(data):
        raise PoseFileError(f"{where} holds {len(data)} poses, so there is no frame {frame} "
                            f"(choose 0 to {len(data) - 1}).")
    if not isinstance(data[frame], dict):
        raise PoseFileError(f"{where} has a {type(data[frame]).__name__} at list position {frame}, "
                            "not a pose object.")
    return data[frame], frame


def _pick_person(document: dict, person: int | None, where: str) -> tuple[dict, int]:
    if document.get("format") == KEYPOSE3D_FORMAT:
        raise PoseFileError(f"{where} is a 3D key pose file, not a 2D OpenPose file.")
    people = document.get("people")
    if people is None:
        raise PoseFileError(f"{where} has no \"people\" list, so it holds no pose.")
    if not isinstance(people, list):
        raise PoseFileError(f"{where} has a \"people\" entry that is not a list.")
    if not people:
        raise PoseFileError(f"{where} has no people in it.")
    if person is None:
        if len(people) > 1:
            raise PoseFileError(f"{where} holds {len(people)} people; choose one with --person "
                                f"(1 to {len(people)}).")
        person = 1
    if not 1 <= person <= len(people):
        count = f"{len(people)} people" if len(people) > 1 else "1 person"
        raise PoseFileError(f"{where} holds {count}, so there is no person {person} "
                            f"(choose 1 to {len(people)}).")
    if not isinstance(people[person - 1], dict):
        raise PoseFileError(f"{where} has a person {person} that is not a JSON object.")
    return people[person - 1], person


def _body_keypoints(person: dict, where: str) -> tuple[np.ndarray, str]:
    """(K, 3) x, y, c of person's body keypoints and its layout, "COCO-18" or "BODY_25"."""
    key = "pose_keypoints_2d" if "pose_keypoints_2d" in person else "pose_keypoints"  # the latter: OpenPose < 1.2
    values = _numbers(person.get(key), f"{where} ({key})")
    if len(values) == 3 * 18:
        return values.reshape(18, 3), "COCO-18"
    if len(values) == 3 * 25:
        return values.reshape(25, 3), "BODY_25"
    raise PoseFileError(f"{where} has {len(values)} numbers in {key}, which is not 18 (COCO-18) or 25 (BODY_25) "
                        "keypoints of x, y, confidence.")


def _numbers(value, what: str) -> np.ndarray:
    """A JSON list of finite numbers as a float array; PoseFileError naming `what` otherwise."""
    if value is None:
        value = []
    if not isinstance(value, list):
        raise PoseFileError(f"{what} is not a list of numbers.")
    for i, v in enumerate(value):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise PoseFileError(f"{what} has a non-numeric value {json.dumps(v)} at position {i}.")
        if not _finite(v):
            raise PoseFileError(f"{what} has a NaN or infinite value at position {i}.")
    return np.asarray(value, dtype=np.float64)


def _finite(number: int | float) -> bool:
    try:
        return math.isfinite(number)
    except OverflowError:  # an integer too large for a float
        return False


def _clean_keypoints(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(18, 3) x, y, c -> (18, 2) keypoints, (18,) confidence in [0, 1]; missing joints all zero."""
    keypoints, confidence = values[:, :2].copy(), np.clip(values[:, 2], 0.0, 1.0)
    missing = (confidence == 0) | ((keypoints[:, 0] == 0) & (keypoints[:, 1] == 0))
    keypoints[missing] = 0.0
    confidence[missing] = 0.0
    return keypoints, confidence


def _canvas(document: dict, where: str) -> tuple[int, int] | None:
    """(width, height) from canvas_width/canvas_height (or width/height), None when absent."""
    keys = ("canvas_width", "canvas_height")
    if not any(k in document for k in keys):
        keys = ("width", "height")  # the 3D openpose editor's name for them
    values = [document.get(k) for k in keys]
    if values == [None, None]:
        return None
    size = []
    for key, other, value in zip(keys, keys[::-1], values):
        if value is None:
            raise PoseFileError(f"{where} gives {other} but no {key}.")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not _finite(value):
            raise PoseFileError(f"{where} has a {key} of {json.dumps(value)}, which is not a number.")
        if round(value) <= 0:
            raise PoseFileError(f"{where} has a {key} of {value}; the canvas size must be positive.")
        size.append(int(round(value)))
    return size[0], size[1]


def _canvas_from_extent(keypoints: np.ndarray, present: np.ndarray, where: str) -> tuple[int, int]:
    """A canvas holding every present keypoint with a margin: CANVAS_MARGIN times the largest x and y."""
    if not present.any():
        raise PoseFileError(f"{where} gives no canvas size and has no keypoints to infer one from.")
    largest = keypoints[present].max(axis=0)  # (2,): largest x, largest y
    width, height = (max(1, math.ceil(CANVAS_MARGIN * v)) for v in largest)
    return width, height


def _world(person: dict, where: str) -> np.ndarray | None:
    """Our extension: the optional (18, 3) world keypoints in metres, null = unknown (NaN)."""
    raw = person.get(WORLD_KEY)
    if raw is None:
        return None
    count = 3 * len(COCO18_JOINTS)
    if not isinstance(raw, list) or len(raw) != count:
        raise PoseFileError(f"{where} has a {WORLD_KEY} entry that is not a list of {count} numbers.")
    known = [i for i, v in enumerate(raw) if v is not None]
    values = np.full(count, np.nan)  # (54,) flat x, y, z
    values[known] = _numbers([raw[i] for i in known], f"{where} ({WORLD_KEY}, nulls left out)")
    return values.reshape(len(COCO18_JOINTS), 3)  # (18, 3)


# ---- 3D: our key pose JSON --------------------------------------------------------------------

def read_pose_file(path: str | os.PathLike, *, person: int | None = None) -> Pose2D | KeyPose3D:
    """A 3D key pose file as a KeyPose3D, anything else as a 2D OpenPose pose."""
    data = _load_json(path)
    if isinstance(data, dict) and data.get("format") == KEYPOSE3D_FORMAT:
        return keypose3d_from_json(data, name=str(path))
    return pose2d_from_json(data, name=str(path), person=person)


def read_keypose3d(path: str | os.PathLike) -> KeyPose3D:
    """Read a "keymask-keypose-3d" file (see docs/pose_formats.md)."""
    return keypose3d_from_json(_load_json(path), name=str(path))


def keypose3d_from_json(data, *, name: str = "<data>") -> KeyPose3D:
    """The same as `read_keypose3d`, from an already parsed JSON value; `name` names it in errors."""
    where = f"Pose file {name}"
    if not isinstance(data, dict):
        raise PoseFileError(f"{where} holds a JSON {type(data).__name__}, not a 3D key pose object.")
    _check_header(data, where)
    order = _joint_order(data.get("joint_names"), where)
    joints = _joints(data.get("joints"), where)[order]  # (22, 3) in our joint order
    if not np.allclose(joints[0], 0.0, atol=1e-4):
        raise PoseFileError(f"{where} has its pelvis at {np.round(joints[0], 3).tolist()}; 3D key poses are "
                            "relative to the pelvis, which must be at the origin.")
    reach = float(np.linalg.norm(joints, axis=1).max())
    if reach > MAX_JOINT_DISTANCE_M:
        raise PoseFileError(f"{where} has a joint {reach:.1f} m from the pelvis, too far for a body in metres "
                            "(are the values in centimetres?).")
    parents = list(HUMANML3D_SKELETON.parents[1:])
    collapsed = [HUMANML3D_SKELETON.joint_names[j + 1] for j in
                 np.flatnonzero(np.linalg.norm(joints[1:] - joints[parents], axis=1) < MIN_BONE_LENGTH_M)]
    if collapsed:
        raise PoseFileError(f"{where} has {len(collapsed)} joints on top of their parents ({', '.join(collapsed[:3])}"
                            f"{', ...' if len(collapsed) > 3 else ''}): a 3D key pose needs every bone.")
    root = data.get("root_position")
    if root is not None:
        root = _numbers(root, f"{where} (root_position)")
        if root.shape != (3,):
            raise PoseFileError(f"{where} has a root_position of {len(root)} numbers instead of 3.")
    facing = data.get("facing")
    if facing == "+z":  # an axis declaration like "forward" (older drafts of the format), not a heading
        facing = None
    if facing is not None:
        facing = float(_numbers([facing], f"{where} (facing)")[0])
    source = data.get("source", {})
    if not isinstance(source, dict):
        raise PoseFileError(f"{where} has a \"source\" entry that is not a JSON object.")
    source = dict(source)
    source.setdefault("file", name)
    return KeyPose3D(joints=joints, root_position=root, facing=facing, source=source)


def write_keypose3d(path: str | os.PathLike, pose: KeyPose3D) -> None:
    """Write `pose` as a "keymask-keypose-3d" file, atomically."""
    document = keypose3d_to_json(pose, name=str(path))
    write_text(path, _dumps(document) + "\n")


def keypose3d_to_json(pose: KeyPose3D, *, name: str = "<data>") -> dict:
    """`pose` as a "keymask-keypose-3d" JSON document."""
    where = f"Pose file {name}"
    if not np.isfinite(pose.joints).all():
        raise PoseFileError(f"{where} cannot be written: a joint has a NaN or infinite coordinate.")
    document = {
        "format": KEYPOSE3D_FORMAT, "version": KEYPOSE3D_VERSION, "units": "m", "up": "+y", "forward": "+z",
        "joint_names": list(HUMANML3D_SKELETON.joint_names),
        "joints": [_rounded(joint) for joint in pose.joints],
    }
    if pose.root_position is not None:
        root = np.asarray(pose.root_position, dtype=np.float64).reshape(-1)
        if root.shape != (3,) or not np.isfinite(root).all():
            raise PoseFileError(f"{where} cannot be written: root_position must be 3 finite numbers.")
        document["root_position"] = _rounded(root)
    if pose.facing is not None:
        if not math.isfinite(pose.facing):
            raise PoseFileError(f"{where} cannot be written: facing must be a finite angle in radians.")
        document["facing"] = round(float(pose.facing), DECIMALS)
    try:
        json.dumps(pose.source, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise PoseFileError(f"{where} cannot be written: its source holds a value JSON cannot store "
                            f"({error}).") from error
    document["source"] = pose.source
    return document


def _check_header(data: dict, where: str) -> None:
    if data.get("format") != KEYPOSE3D_FORMAT:
        if "people" in data:
            raise PoseFileError(f"{where} is a 2D OpenPose file, not a 3D key pose file.")
        raise PoseFileError(f"{where} is not a 3D key pose file (its \"format\" is {json.dumps(data.get('format'))}, "
                            f"not \"{KEYPOSE3D_FORMAT}\").")
    version = data.get("version")
    if version != KEYPOSE3D_VERSION:
        raise PoseFileError(f"{where} has format version {json.dumps(version)}; this program reads version "
                            f"{KEYPOSE3D_VERSION}.")
    if data.get("units") != "m":
        raise PoseFileError(f"{where} gives units {json.dumps(data.get('units'))}; 3D key poses must be in "
                            "metres (\"units\": \"m\").")
    for key, expected in (("up", "+y"), ("forward", "+z")):
        if key in data and data[key] != expected:
            raise PoseFileError(f"{where} gives \"{key}\": {json.dumps(data[key])}; 3D key poses have "
                                f"\"{key}\": \"{expected}\".")


def _joint_order(names, where: str) -> list[int]:
    """Index into the file's joints of each of our 22 joints, from its joint_names (if any)."""
    ours = HUMANML3D_SKELETON.joint_names
    if names is None:
        return list(range(len(ours)))
    if not isinstance(names, list) or sorted(map(str, names)) != sorted(ours):
        unknown = sorted(set(map(str, names)) - set(ours)) if isinstance(names, list) else []
        detail = f" (unknown: {', '.join(unknown)})" if unknown else ""
        raise PoseFileError(f"{where} has joint_names that are not the {len(ours)} HumanML3D joints{detail}.")
    return [names.index(name) for name in ours]


def _joints(value, where: str) -> np.ndarray:
    """(22, 3) joints from a JSON list of [x, y, z] triples."""
    if not isinstance(value, list):
        raise PoseFileError(f"{where} has no \"joints\" list.")
    count = HUMANML3D_SKELETON.n_joints
    if len(value) != count:
        raise PoseFileError(f"{where} has {len(value)} joints; a 3D key pose has the {count} HumanML3D joints.")
    rows = []
    for i, joint in enumerate(value):
        row = _numbers(joint, f"{where} (joint {i})")
        if row.shape != (3,):
            raise PoseFileError(f"{where} has joint {i} with {len(row)} numbers instead of x, y, z.")
        rows.append(row)
    return np.stack(rows)  # (22, 3)


# ---- shared helpers ---------------------------------------------------------------------------

def _load_json(path: str | os.PathLike):
    """Parse the JSON file at `path`; PoseFileError for a missing, empty or malformed file."""
    return read_json(path, f"Pose file {Path(path)}", PoseFileError, kind="pose file")


def _rounded(values: np.ndarray) -> list:
    """Numbers rounded to DECIMALS for writing; NaN becomes null."""
    return [None if math.isnan(v) else round(float(v), DECIMALS) for v in np.asarray(values, dtype=np.float64)]


def _dumps(value, indent: str = "") -> str:
    """JSON with objects and lists of lists spread over lines, and lists of numbers kept on one line."""
    inner = indent + " "
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {_dumps(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, list) and value and any(isinstance(v, (dict, list)) for v in value):
        return "[\n" + ",\n".join(inner + _dumps(v, inner) for v in value) + "\n" + indent + "]"
    return json.dumps(value, ensure_ascii=False, allow_nan=False)
