"""Physical plausibility metrics on joint positions: the flaws an animator sees at a glance.

Input convention (HumanML3D): ``joints`` is a (T, J, 3) array of world positions in metres,
Y up, the floor is the plane y = 0, sampled at ``fps`` frames per second (20 for HumanML3D).
The height of a joint is its y coordinate; "horizontal" means the xz plane. A frame's
*lowest height* is min over all joints of y. A *foot* is the pair (ankle, toe) of joints:
left = (7, 10), right = (8, 11), as given by ``keymask.core.skeleton``.

Metrics of one clip:

* ``foot_skating_ratio``: the fraction of the T - 1 frame transitions (t -> t+1) in which at
  least one foot skates. A foot skates in a transition when
  (a) it is in contact in both frames: the lower of its two joints is below
      ``contact_height`` in frame t and in frame t+1, and
  (b) its joint that is lowest in frame t moves horizontally faster than ``skate_speed``:
      |xz(t+1) - xz(t)| * fps > skate_distance * reference_fps (0.025 m * 20 = 0.5 m/s),
      so the threshold is a speed and does not depend on the clip's frame rate.
* ``penetration``: mean over frames of max(0, -lowest height), metres: how deep the body
  sinks below the floor.
* ``floating``: mean over frames of max(0, lowest height - float_height), metres: how far the
  body hovers with no joint near the floor.
* ``jitter``: mean jerk, the mean over the T - 3 frames and all joints of
  |third finite difference of the positions| * fps**3, in m/s^3. Needs T >= 4.
* ``bone_length_drift``: for each bone (child, parent) of the kinematic tree, the standard
  deviation of its length over frames divided by its mean length; the mean of these ratios
  over bones. Unitless, 0 for a rigid skeleton.

``physical_report`` averages over a set of clips: the skating ratio is pooled (all skating
transitions over all transitions), the others are plain means over clips. The report gives
penetration and floating in centimetres.
"""

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from keymask.core.skeleton import HUMANML3D_SKELETON, LEFT_FOOT_JOINTS, RIGHT_FOOT_JOINTS, Skeleton
from keymask.core.spec import HUMANML3D

FOOT_JOINT_PAIRS = (LEFT_FOOT_JOINTS, RIGHT_FOOT_JOINTS)  # ((ankle, toe), (ankle, toe))
UP_AXIS = 1  # y
HORIZONTAL_AXES = [0, 2]  # x, z
MIN_FRAMES_FOR_JERK = 4


@dataclass(frozen=True)
class PhysicalThresholds:
    """Thresholds of the contact, skating and floating tests, metres unless stated."""

    contact_height: float = 0.05  # a foot joint below this height touches the ground
    skate_distance: float = 0.025  # horizontal travel per frame, at reference_fps, that is a skate
    reference_fps: float = HUMANML3D.fps  # frame rate at which skate_distance is stated
    float_height: float = 0.05  # a lowest joint above this height is floating

    @property
    def skate_speed(self) -> float:
        """Horizontal foot speed above which a foot in contact skates, m/s."""
        return self.skate_distance * self.reference_fps


@dataclass
class PhysicalReport:
    """Physical metrics averaged over clips (see the module docstring for the definitions)."""

    skating_ratio: float  # fraction of transitions, pooled over clips
    penetration_cm: float
    floating_cm: float
    jitter: float  # m/s^3
    bone_drift: float  # unitless

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def _checked_joints(joints: np.ndarray, min_frames: int = 1, min_joints: int = 1) -> np.ndarray:
    """(T, J, 3) float64 copy of ``joints`` after checking its shape and values."""
    array = np.asarray(joints, dtype=np.float64)
    if array.ndim != 3 or array.shape[-1] != 3:
        raise ValueError(f"joints must have shape (T, J, 3) (HumanML3D: (T, 22, 3)), got {array.shape}")
    n_frames, n_joints, _ = array.shape
    if n_frames < min_frames:
        raise ValueError(f"this metric needs at least {min_frames} frames, got joints of shape {array.shape}")
    if n_joints < min_joints:
        raise ValueError(f"this metric needs at least {min_joints} joints, got joints of shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError("joints contains NaN or infinite values")
    return array


def _checked_fps(fps: float) -> float:
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    return float(fps)


def lowest_heights(joints: np.ndarray) -> np.ndarray:
    """(T,) height of the lowest joint in each frame, metres."""
    return _checked_joints(joints)[:, :, UP_AXIS].min(axis=1)


def _foot_skating_flags(joints: np.ndarray, foot: tuple[int, int], fps: float,
                        thresholds: PhysicalThresholds) -> np.ndarray:
    """(T-1,) True where this foot (ankle, toe) skates during the transition t -> t+1."""
    foot_positions = joints[:, list(foot), :]  # (T, 2, 3)
    heights = foot_positions[:, :, UP_AXIS]  # (T, 2)
    foot_height = heights.min(axis=1)  # (T,)
    grounded = foot_height < thresholds.contact_height  # (T,)
    in_contact = grounded[:-1] & grounded[1:]  # (T-1,)
    lowest_joint = heights[:-1].argmin(axis=1)  # (T-1,) 0 = ankle, 1 = toe, lowest in frame t
    transitions = np.arange(len(lowest_joint))
    horizontal = foot_positions[:, :, HORIZONTAL_AXES]  # (T, 2, 2)
    step = horizontal[transitions + 1, lowest_joint] - horizontal[transitions, lowest_joint]  # (T-1, 2)
    speed = np.linalg.norm(step, axis=-1) * fps  # (T-1,) m/s
    return in_contact & (speed > thresholds.skate_speed)


def skating_transitions(joints: np.ndarray, fps: float = HUMANML3D.fps,
                        thresholds: PhysicalThresholds = PhysicalThresholds()) -> np.ndarray:
    """(T-1,) True where either foot skates during the transition t -> t+1."""
    needed_joints = max(max(foot) for foot in FOOT_JOINT_PAIRS) + 1
    array = _checked_joints(joints, min_frames=2, min_joints=needed_joints)
    fps = _checked_fps(fps)
    flags = np.zeros(array.shape[0] - 1, dtype=bool)  # (T-1,)
    for foot in FOOT_JOINT_PAIRS:
        flags |= _foot_skating_flags(array, foot, fps, thresholds)
    return flags


def foot_skating_ratio(joints: np.ndarray, fps: float = HUMANML3D.fps,
                       thresholds: PhysicalThresholds = PhysicalThresholds()) -> float:
    """Fraction of the T - 1 transitions in which a foot in contact slides faster than skate_speed.

    A foot (ankle, toe) is in contact during t -> t+1 when its lower joint is below
    ``contact_height`` in both frames; it skates when, in addition, its joint lowest in frame t
    moves horizontally (xz) faster than ``thresholds.skate_speed`` (0.5 m/s by default).
    joints: (T, J, 3) with T >= 2, HumanML3D joint order for the feet.
    """
    return float(skating_transitions(joints, fps, thresholds).mean())


def penetration(joints: np.ndarray) -> float:
    """Mean over frames of max(0, -lowest joint height), metres; joints: (T, J, 3)."""
    return float(np.maximum(0.0, -lowest_heights(joints)).mean())


def floating(joints: np.ndarray, thresholds: PhysicalThresholds = PhysicalThresholds()) -> float:
    """Mean over frames of max(0, lowest joint height - float_height), metres; joints: (T, J, 3)."""
    return float(np.maximum(0.0, lowest_heights(joints) - thresholds.float_height).mean())


def jitter(joints: np.ndarray, fps: float = HUMANML3D.fps) -> float:
    """Mean jerk magnitude, m/s^3: mean over frames and joints of |third difference| * fps**3.

    joints: (T, J, 3) with T >= 4 (a third difference needs four frames).
    """
    array = _checked_joints(joints)
    if array.shape[0] < MIN_FRAMES_FOR_JERK:
        raise ValueError(f"jitter needs at least {MIN_FRAMES_FOR_JERK} frames for a third difference, "
                         f"got {array.shape[0]}")
    fps = _checked_fps(fps)
    jerk = np.diff(array, n=3, axis=0) * fps**3  # (T-3, J, 3)
    return float(np.linalg.norm(jerk, axis=-1).mean())


def bone_lengths(joints: np.ndarray, skeleton: Skeleton = HUMANML3D_SKELETON) -> np.ndarray:
    """(T, B) length of every bone (child, parent), children in increasing joint order."""
    array = _checked_joints(joints)
    if array.shape[1] != skeleton.n_joints:
        raise ValueError(f"joints must have shape (T, {skeleton.n_joints}, 3) for this skeleton, "
                         f"got {array.shape}")
    children = [child for child, parent in enumerate(skeleton.parents) if parent >= 0]  # (B,)
    parents = [skeleton.parents[child] for child in children]  # (B,)
    return np.linalg.norm(array[:, children] - array[:, parents], axis=-1)


def bone_length_drift(joints: np.ndarray, skeleton: Skeleton = HUMANML3D_SKELETON) -> float:
    """Mean over bones of std(length over frames) / mean(length over frames); joints: (T, J, 3)."""
    lengths = bone_lengths(joints, skeleton)  # (T, B)
    mean_lengths = lengths.mean(axis=0)  # (B,)
    if np.any(mean_lengths <= 0.0):
        collapsed = [int(b) for b in np.flatnonzero(mean_lengths <= 0.0)]
        raise ValueError(f"bones {collapsed} have zero length in every frame; their drift is undefined")
    return float((lengths.std(axis=0) / mean_lengths).mean())


def physical_report(motions: Sequence[np.ndarray], fps: float = HUMANML3D.fps,
                    thresholds: PhysicalThresholds = PhysicalThresholds(),
                    skeleton: Skeleton = HUMANML3D_SKELETON) -> PhysicalReport:
    """All metrics over clips, each (T_i, J, 3) with T_i >= 4.

    skating_ratio = total skating transitions / total transitions; the other fields are plain
    means over clips, penetration and floating converted to centimetres.
    """
    if len(motions) == 0:
        raise ValueError("physical_report needs at least one motion")
    skating_count = 0
    transition_count = 0
    penetrations, floatings, jitters, drifts = [], [], [], []
    for joints in motions:
        flags = skating_transitions(joints, fps, thresholds)  # (T-1,)
        skating_count += int(flags.sum())
        transition_count += len(flags)
        penetrations.append(penetration(joints))
        floatings.append(floating(joints, thresholds))
        jitters.append(jitter(joints, fps))
        drifts.append(bone_length_drift(joints, skeleton))
    return PhysicalReport(
        skating_ratio=skating_count / transition_count,
        penetration_cm=100.0 * float(np.mean(penetrations)),
        floating_cm=100.0 * float(np.mean(floatings)),
        jitter=float(np.mean(jitters)),
        bone_drift=float(np.mean(drifts)),
    )
