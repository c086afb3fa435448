"""A root path drawn on the floor: the pelvis follows it while the body does what the text says.

A path is points (x, z) on the floor in metres, in the motion's frame (it starts at the origin
facing +Z, X to its left), with optional times in seconds. Without times the points are spread
over the motion at a constant speed along the path. File format ("keymask-path", JSON):

    {"format": "keymask-path", "points": [[0, 0], [0, 2], [1.5, 3]], "times": [0, 1.5, 3]}

Following (`follow_path`), on the motion's Animation (rigid bones throughout):
1. the pelvis is put on the path at every frame (its height is the motion's own);
2. the body turns about the vertical by how far the path's direction differs from the way the
   motion itself travels (smoothed; where the motion stands still, the turn is carried over from
   where it last moved), so a walk faces along the path;
3. the legs bend to keep planted feet near where they landed (cleanup.lock_feet, half way:
   PATH_LOCK_STRENGTH), since the path may ask for another pace than the steps cover; held
   all the way, the legs stretch and fold to reach where a real stride would have stepped.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from keymask.core.animation import Animation
from keymask.core.errors import KeyMaskError
from keymask.core.generation.cleanup import CleanupSettings, lock_feet, smooth_positions
from keymask.core.rotations import quat_from_axis_angle, quat_to_matrix
from keymask.core.spec import HUMANML3D

PATH_FORMAT = "keymask-path"
MAX_SPEED = 9.0  # m/s: faster than a sprinter, no body can follow
TURN_SMOOTHING = 10.0  # frames, Gaussian sigma of the turn (FID 0.220 against 0.227 with 4, on 96 test clips)
MOVING_SPEED = 0.3  # m/s: slower than this the motion counts as standing, its travel direction unknown
# Planted feet are pulled half way back to where they landed. Chosen on 256 validation clips following their own
# paths: FID against text-only motions 1.33x -> 1.15x, foot skating 0.084 -> 0.082 (real 0.071; model card).
PATH_LOCK_STRENGTH = 0.5


class PathError(KeyMaskError, ValueError):
    """A path that cannot be read or followed, in one sentence."""


@dataclass(frozen=True)
class RootPath:
    points: np.ndarray  # (P, 2) x, z metres on the floor
    times: np.ndarray | None = None  # (P,) seconds, increasing; None: constant speed over the motion

    def __post_init__(self) -> None:
        points = np.asarray(self.points, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 2 or len(points) < 2 or not np.isfinite(points).all():
            raise PathError("A path needs at least two finite floor points [x, z] in metres.")
        object.__setattr__(self, "points", points)
        if self.times is not None:
            times = np.asarray(self.times, dtype=np.float64)
            if times.shape != (len(points),) or not np.isfinite(times).all():
                raise PathError(f"A path with {len(points)} points needs {len(points)} times, one per point.")
            if np.any(np.diff(times) <= 0) or times[0] < 0:
                raise PathError("A path's times must start at 0 s or later and increase from point to point.")
            object.__setattr__(self, "times", times)

    def end_time(self) -> float | None:
        return None if self.times is None else float(self.times[-1])

    def frames_needed(self, fps: float, multiple: int = 1) -> int:
        """The fewest frames (a multiple of `multiple`) that reach the path's last time; 0 without times."""
        if self.times is None:
            return 0
        return -(-(int(np.ceil(self.times[-1] * fps)) + 1) // multiple) * multiple

    def positions(self, n_frames: int, fps: float) -> np.ndarray:
        """(T, 2) where the pelvis should be at each frame (held at the ends outside the times)."""
        t = np.arange(n_frames) / fps
        if self.times is None:
            along = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(self.points, axis=0), axis=-1))])
            times = along / max(along[-1], 1e-9) * (n_frames - 1) / fps
        else:
            times = self.times
        return np.stack([np.interp(t, times, self.points[:, 0]), np.interp(t, times, self.points[:, 1])], axis=-1)


def read_path(path: str | Path) -> RootPath:
    """A path file (module docstring), or PathError naming the file."""
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise PathError(f"Cannot read the path {path}: {error}.") from None
    if not isinstance(document, dict) or document.get("format") != PATH_FORMAT or "points" not in document:
        raise PathError(f"{path} is not a path file: expected {{\"format\": \"{PATH_FORMAT}\", \"points\": [[x, z], ...]}}.")
    try:
        return RootPath(document["points"], document.get("times"))
    except (PathError, TypeError, ValueError) as error:
        raise PathError(f"{path}: {error}") from None


def check_path(path: RootPath, n_frames: int, fps: float) -> None:
    """PathError when the path asks for more speed than a body has, or ends after the motion."""
    if path.times is not None and path.times[-1] > (n_frames - 1) / fps + 1e-6:
        raise PathError(f"The path runs until {path.times[-1]:.2f} s but the motion lasts {n_frames / fps:.2f} s: "
                        "lengthen the motion or end the path sooner.")
    positions = path.positions(n_frames, fps)
    speed = np.linalg.norm(np.diff(positions, axis=0), axis=-1) * fps  # (T-1,)
    if len(speed) and speed.max() > MAX_SPEED:
        frame = int(speed.argmax())
        raise PathError(f"The path needs {speed.max():.1f} m/s around {frame / fps:.1f} s, faster than a body can run "
                        f"({MAX_SPEED:.0f} m/s): give it more time or shorten it.")


def follow_path(animation: Animation, path: RootPath, fps: float = HUMANML3D.fps) -> np.ndarray:
    """(T, J, 3) joints of the motion with its pelvis on `path` (module docstring)."""
    n_frames = animation.n_frames
    check_path(path, n_frames, fps)
    target = path.positions(n_frames, fps)  # (T, 2)
    turn = _turn(animation.root[:, [0, 2]], target, fps)  # (T,) radians about +Y
    spin = quat_to_matrix(quat_from_axis_angle(np.tile([0.0, 1.0, 0.0], (n_frames, 1)), turn))  # (T, 3, 3)
    rotations = animation.rotations.copy()
    rotations[:, 0] = spin @ rotations[:, 0]
    root = animation.root.copy()
    root[:, 0], root[:, 2] = target[:, 0], target[:, 1]
    followed = Animation(root, rotations, animation.body).joints()
    return lock_feet(followed, CleanupSettings(fps=int(fps), lock_strength=PATH_LOCK_STRENGTH))


def _turn(own: np.ndarray, target: np.ndarray, fps: float) -> np.ndarray:
    """(T,) how far to turn each frame: the path's heading minus the motion's own travel heading."""
    def headings(xz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        step = np.gradient(xz, axis=0) * fps  # (T, 2) m/s
        return np.arctan2(step[:, 0], step[:, 1]), np.linalg.norm(step, axis=-1)

    own_heading, own_speed = headings(own)
    path_heading, path_speed = headings(target)
    difference = np.angle(np.exp(1j * (path_heading - own_heading)))  # wrapped to (-pi, pi]
    valid = (own_speed > MOVING_SPEED) & (path_speed > MOVING_SPEED)
    if not valid.any():
        return np.zeros(len(own))
    frames = np.arange(len(own))
    unwrapped = np.unwrap(difference[valid])
    turn = np.interp(frames, frames[valid], unwrapped)  # held at the ends, bridged across standing
    return smooth_positions(turn, TURN_SMOOTHING)
