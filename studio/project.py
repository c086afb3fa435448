"""A studio project: everything the animator set, saved as one JSON file (no Qt here).

A project holds the prompt and sampling settings, the key poses (each a 3D key pose, the 2D pose
it was lifted from when there is one, its time, hold and ease in seconds: the command line's
`pose.json@1.5s:hold=0.3:ease=0.5`), the spans to keep when editing, the
generated (or opened) motions and the chosen one, the export settings (with the rig of an
opened BVH to export onto), the root path drawn on the floor (conditioning/paths.py: points x, z
in metres with their times in seconds) and the limbs pinned for posing in 3D (files written before
paths and pins open with neither). `save_project` writes it atomically
(format "keymask-studio-project", version 1); `load_project` reads it back or raises
ProjectFileError with one sentence naming the file.

Motions are stored exactly: (T, 22, 3) float32 metres, Y up (the pipeline's joints), as base64 of
their little-endian bytes. Key poses use the pose-file formats of conditioning/pose_files.py.

Recovery: the studio writes the project to a recovery file after every edit
(`write_recovery`), so a killed studio loses nothing; `read_recovery` gives it back with the path
of the project it belongs to.
"""

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from keymask.conditioning.ik import LIMBS
from keymask.conditioning.paths import PathError, RootPath
from keymask.conditioning.pose_files import (
    PoseFileError,
    keypose3d_from_json,
    keypose3d_to_json,
    pose2d_from_json,
    pose2d_to_json,
)
from keymask.conditioning.poses import KeyPose3D, Pose2D
from keymask.conditioning.refine import DEFAULT_EASE
from keymask.core.errors import KeyMaskError
from keymask.core.fileio import read_json, write_text
from keymask.core.generation.sampling import SamplingSettings
from keymask.core.spec import HUMANML3D

FORMAT = "keymask-studio-project"
VERSION = 1
SUFFIX = ".keymask.json"
CONSTRAINTS = ("body", "root")
UNITS = ("m", "cm")


class ProjectFileError(KeyMaskError, ValueError):
    """A project or recovery file that cannot be read, in one sentence naming the file."""


@dataclass(frozen=True)
class KeyPose:
    time: float  # seconds from the start of the motion
    pose3d: KeyPose3D  # what generation holds the motion to
    pose2d: Pose2D | None = None  # the drawn / extracted pose it was lifted from, if any
    constrain: str = "body"  # "body": the pose only; "root": also its root position and facing
    name: str = ""
    hold: float = 0.0  # seconds the pose is held after `time`
    ease: float = DEFAULT_EASE / HUMANML3D.fps  # seconds over which the motion turns towards it and away

    def frame(self, fps: float = HUMANML3D.fps) -> int:
        return int(round(self.time * fps))

    def hold_frames(self, fps: float = HUMANML3D.fps) -> int:
        return int(round(self.hold * fps))

    def ease_frames(self, fps: float = HUMANML3D.fps) -> int:
        return int(round(self.ease * fps))


@dataclass(frozen=True)
class ExportSettings:
    fps: int = HUMANML3D.fps  # BVH frame rate; other rates resample the 20 fps motion
    units: str = "m"  # BVH units: "m" or "cm"
    rotation_order: str = "ZXY"
    rig: str = ""  # a BVH whose skeleton the motion can be exported onto (an opened motion's file), or ""
    use_rig: bool = False  # export BVH onto `rig` (its joints, units and axes) instead of our 22 joints


@dataclass
class Project:
    prompt: str = ""
    seconds: float | None = None  # motion length; None: estimated from the text
    seed: int = 0
    samples: int = 1
    guidance: float = SamplingSettings.guidance_scale  # classifier-free guidance of the masked transformer
    steps: int = SamplingSettings.steps  # masked-decoding iterations
    exemplar_share: float = SamplingSettings.exemplar_share  # share of the motion held to a real training clip
    keys: list[KeyPose] = field(default_factory=list)
    keep_spans: list[tuple[float, float]] = field(default_factory=list)  # seconds, [start, end) to keep when editing
    motions: list[np.ndarray] = field(default_factory=list)  # (T, 22, 3) float32 each, one per sample
    chosen_sample: int = 0
    export: ExportSettings = field(default_factory=ExportSettings)
    root_path: RootPath | None = None  # where the pelvis goes on the floor, with times
    pins: frozenset[str] = frozenset()  # limbs (conditioning/ik.py LIMBS) whose ends stay while posing in 3D

    @property
    def motion(self) -> np.ndarray | None:
        """The chosen motion, None before the first generation."""
        if not self.motions:
            return None
        return self.motions[min(self.chosen_sample, len(self.motions) - 1)]


def summary(project: Project, fps: float = HUMANML3D.fps) -> str:
    """What a project holds, in a short line: its prompt, key poses, length and generated motions."""
    prompt = project.prompt.strip()
    said = f'"{prompt if len(prompt) <= 60 else prompt[:57] + "..."}"' if prompt else "no prompt"
    keys = len(project.keys)
    if project.motion is not None:
        length = f"{len(project.motion) / fps:.1f} s"
    elif project.seconds is not None:
        length = f"{project.seconds:.1f} s"
    else:
        length = "length from the text"
    motions = len(project.motions)
    made = f"{motions} generated motion{'s' if motions != 1 else ''}" if motions else "not generated yet"
    return f"{said}, {keys} key pose{'s' if keys != 1 else ''}, {length}, {made}"


# ---- JSON ----------------------------------------------------------------------------------------

def project_to_json(project: Project) -> dict:
    """The project as a JSON document (what save_project writes)."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "prompt": project.prompt,
        "seconds": project.seconds,
        "seed": int(project.seed),
        "samples": int(project.samples),
        "guidance": float(project.guidance),
        "steps": int(project.steps),
        "exemplar_share": float(project.exemplar_share),
        "keys": [_key_to_json(key) for key in project.keys],
        "keep_spans": [[float(a), float(b)] for a, b in project.keep_spans],
        "chosen_sample": int(project.chosen_sample),
        "export": {"fps": project.export.fps, "units": project.export.units,
                   "rotation_order": project.export.rotation_order, "rig": project.export.rig,
                   "use_rig": project.export.use_rig},
        "motions": [_array_to_json(motion) for motion in project.motions],
        "root_path": None if project.root_path is None else {
            "points": project.root_path.points.tolist(), "times": project.root_path.times.tolist()},
        "pins": sorted(project.pins),
    }


def project_from_json(data, name: str = "<data>") -> Project:
    """The project in a parsed JSON document; ProjectFileError naming `name` when it is not one."""
    where = f"Project file {name}"
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ProjectFileError(f"{where} is not a KeyMask Studio project (no \"format\": \"{FORMAT}\").")
    if data.get("version") != VERSION:
        raise ProjectFileError(f"{where} has version {json.dumps(data.get('version'))}; this studio reads "
                               f"version {VERSION}.")
    read = _Reader(data, where)
    seconds = read.number("seconds", None, optional=True)
    project = Project(
        prompt=read.typed("prompt", str, ""),
        seconds=seconds,
        seed=read.integer("seed", 0),
        samples=read.integer("samples", 1, minimum=1),
        guidance=read.number("guidance", SamplingSettings.guidance_scale, minimum=0),
        steps=read.integer("steps", SamplingSettings.steps, minimum=1),
        exemplar_share=read.number("exemplar_share", SamplingSettings.exemplar_share, minimum=0, maximum=1),
        keys=[_key_from_json(item, f"{where} (key {i + 1})") for i, item in enumerate(read.typed("keys", list, []))],
        keep_spans=[_span_from_json(item, where) for item in read.typed("keep_spans", list, [])],
        motions=[_array_from_json(item, f"{where} (motion {i + 1})")
                 for i, item in enumerate(read.typed("motions", list, []))],
        chosen_sample=read.integer("chosen_sample", 0, minimum=0),
        export=_export_from_json(read.typed("export", dict, {}), where),
        root_path=_root_path_from_json(data.get("root_path"), where),
        pins=_pins_from_json(read.typed("pins", list, []), where),
    )
    if seconds is not None and seconds <= 0:
        raise ProjectFileError(f"{where} has a length of {seconds} seconds; it must be positive (or null to estimate).")
    if project.motions and project.chosen_sample >= len(project.motions):
        raise ProjectFileError(f"{where} chooses sample {project.chosen_sample + 1} of only "
                               f"{len(project.motions)} motions.")
    return project


def _key_to_json(key: KeyPose) -> dict:
    return {"name": key.name, "time": float(key.time), "hold": float(key.hold), "ease": float(key.ease),
            "constrain": key.constrain,
            "pose3d": keypose3d_to_json(key.pose3d),
            "pose2d": None if key.pose2d is None else pose2d_to_json(key.pose2d)}


def _key_from_json(data, where: str) -> KeyPose:
    if not isinstance(data, dict):
        raise ProjectFileError(f"{where} is not a JSON object.")
    read = _Reader(data, where)
    constrain = read.typed("constrain", str, "body")
    if constrain not in CONSTRAINTS:
        raise ProjectFileError(f"{where} constrains {json.dumps(constrain)}, not {' or '.join(CONSTRAINTS)}.")
    time = read.number("time", None)
    if time < 0:
        raise ProjectFileError(f"{where} is at {time} s, before the motion starts.")
    hold, ease = read.number("hold", 0.0), read.number("ease", DEFAULT_EASE / HUMANML3D.fps)
    if hold < 0 or ease < 0:
        raise ProjectFileError(f"{where} has a negative hold or ease ({hold} s, {ease} s).")
    try:
        pose3d = keypose3d_from_json(data.get("pose3d"), name=where)
        pose2d = None if data.get("pose2d") is None else pose2d_from_json(data["pose2d"], name=where)
    except PoseFileError as error:
        raise ProjectFileError(str(error).replace("Pose file ", "", 1)) from None
    if pose3d.source.get("file") == where:  # the reader names the project here; not part of the pose
        del pose3d.source["file"]
    return KeyPose(time=time, pose3d=pose3d, pose2d=pose2d, constrain=constrain, name=read.typed("name", str, ""),
                   hold=hold, ease=ease)


def _span_from_json(item, where: str) -> tuple[float, float]:
    ok = (isinstance(item, list) and len(item) == 2
          and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in item))
    if not ok or not 0 <= item[0] < item[1]:
        raise ProjectFileError(f"{where} has a keep span {json.dumps(item)} that is not [start, end] seconds "
                               "with 0 <= start < end.")
    return float(item[0]), float(item[1])


def _root_path_from_json(data, where: str) -> RootPath | None:
    if data is None:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("times"), list):
        raise ProjectFileError(f"{where} has a root path that is not {{\"points\": [[x, z], ...], \"times\": [...]}}.")
    try:
        return RootPath(data.get("points"), data["times"])
    except (PathError, TypeError, ValueError) as error:
        raise ProjectFileError(f"{where} has a root path that cannot be followed: {error}") from None


def _pins_from_json(items: list, where: str) -> frozenset[str]:
    unknown = [item for item in items if item not in LIMBS]
    if unknown:
        raise ProjectFileError(f"{where} pins {_short(unknown[0])}, which is not a limb: pin "
                               f"{', '.join(LIMBS)}.")
    return frozenset(items)


def _export_from_json(data: dict, where: str) -> ExportSettings:
    read = _Reader(data, f"{where} (export)")
    units = read.typed("units", str, "m")
    if units not in UNITS:
        raise ProjectFileError(f"{where} exports in {json.dumps(units)}, not {' or '.join(UNITS)}.")
    order = read.typed("rotation_order", str, "ZXY").upper()
    if sorted(order) != ["X", "Y", "Z"]:
        raise ProjectFileError(f"{where} has a rotation order {json.dumps(order)}; use an order of X, Y and Z.")
    rig, use_rig = read.typed("rig", str, ""), read.typed("use_rig", bool, False)
    return ExportSettings(fps=read.integer("fps", HUMANML3D.fps, minimum=1), units=units, rotation_order=order,
                          rig=rig, use_rig=use_rig and bool(rig))


def _array_to_json(array: np.ndarray) -> dict:
    array = np.ascontiguousarray(array, dtype="<f4")
    return {"shape": list(array.shape), "dtype": "float32", "base64": base64.b64encode(array.tobytes()).decode()}


def _array_from_json(data, where: str) -> np.ndarray:
    if not isinstance(data, dict) or data.get("dtype") != "float32" or not isinstance(data.get("base64"), str):
        raise ProjectFileError(f"{where} is not a float32 array (shape, dtype, base64).")
    shape = data.get("shape")
    if not (isinstance(shape, list) and len(shape) == 3 and shape[1:] == [HUMANML3D.n_joints, 3]
            and isinstance(shape[0], int) and shape[0] > 0):
        raise ProjectFileError(f"{where} has the shape {json.dumps(shape)}, not [frames, 22, 3].")
    try:
        raw = base64.b64decode(data["base64"], validate=True)
    except ValueError:
        raise ProjectFileError(f"{where} holds data that is not base64.") from None
    if len(raw) != 4 * int(np.prod(shape)):
        raise ProjectFileError(f"{where} holds {len(raw)} bytes, not the {4 * int(np.prod(shape))} of its shape.")
    return np.frombuffer(raw, dtype="<f4").reshape(shape).astype(np.float32)


class _Reader:
    """Typed fields of a JSON object, with one-sentence errors naming where they are."""

    def __init__(self, data: dict, where: str):
        self.data, self.where = data, where

    def typed(self, name: str, kind: type, default):
        value = self.data.get(name, default)
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            raise ProjectFileError(f"{self.where} has a \"{name}\" of {_short(value)}, which is not "
                                   f"{_KIND_WORDS[kind]}.")
        return value

    def number(self, name: str, default, optional: bool = False, minimum: float | None = None,
               maximum: float | None = None) -> float | None:
        value = self.data.get(name, default)
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
            raise ProjectFileError(f"{self.where} has a \"{name}\" of {_short(value)}, which is not a number.")
        if minimum is not None and value < minimum:
            raise ProjectFileError(f"{self.where} has a \"{name}\" of {value}; it must be at least {minimum:g}.")
        if maximum is not None and value > maximum:
            raise ProjectFileError(f"{self.where} has a \"{name}\" of {value}; it must be at most {maximum:g}.")
        return float(value)

    def integer(self, name: str, default: int, minimum: int | None = None) -> int:
        value = self.typed(name, int, default)
        if minimum is not None and value < minimum:
            raise ProjectFileError(f"{self.where} has a \"{name}\" of {value}; it must be at least {minimum}.")
        return value


_KIND_WORDS = {str: "text", int: "a whole number", list: "a list", dict: "an object", bool: "true or false"}


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


# ---- files ---------------------------------------------------------------------------------------

def save_project(path: str | os.PathLike, project: Project) -> Path:
    """Write the project atomically (a failed write leaves the old file as it was)."""
    write_text(path, json.dumps(project_to_json(project), indent=1) + "\n")
    return Path(path)


def load_project(path: str | os.PathLike) -> Project:
    """The project in `path`; ProjectFileError with one sentence naming the file otherwise."""
    return project_from_json(_read_json(path), name=str(path))


def _read_json(path: str | os.PathLike):
    return read_json(path, f"Project file {path}", ProjectFileError, kind="project")


# ---- recovery ------------------------------------------------------------------------------------

def recovery_dir() -> Path:
    """Where recovery files live: $KEYMASK_STUDIO_RECOVERY_DIR, else ~/.cache/keymask/studio-recovery."""
    if os.environ.get("KEYMASK_STUDIO_RECOVERY_DIR"):
        return Path(os.environ["KEYMASK_STUDIO_RECOVERY_DIR"])
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "keymask" / "studio-recovery"


def recovery_path(project_path: str | os.PathLike | None, folder: Path | None = None) -> Path:
    """The recovery file of a project file (one per absolute path), or of the untitled project."""
    folder = recovery_dir() if folder is None else Path(folder)
    if project_path is None:
        return folder / "untitled.recovery.json"
    absolute = str(Path(project_path).resolve())
    digest = hashlib.sha1(absolute.encode()).hexdigest()[:10]
    return folder / f"{Path(project_path).name}.{digest}.recovery.json"


def write_recovery(path: Path, project: Project, project_path: str | os.PathLike | None) -> None:
    """The project and the file it belongs to (None: untitled), atomically."""
    document = project_to_json(project)
    document["recovery_for"] = None if project_path is None else str(Path(project_path).resolve())
    write_text(path, json.dumps(document) + "\n")


def read_recovery(path: Path) -> tuple[Project, Path | None]:
    """(project, the project file it belongs to or None) from a recovery file."""
    data = _read_json(path)
    belongs = data.get("recovery_for") if isinstance(data, dict) else None
    return project_from_json(data, name=str(path)), None if belongs is None else Path(belongs)


def recovery_is_newer(recovery: Path, project_path: str | os.PathLike | None) -> bool:
    """True when `recovery` exists and holds edits the project file does not (it is newer, or there is no file)."""
    if not recovery.exists():
        return False
    if project_path is None or not Path(project_path).exists():
        return True
    return recovery.stat().st_mtime_ns > Path(project_path).stat().st_mtime_ns
