"""In-memory BVH: a skeleton (joints, offsets, channels) and its motion (raw channel values).

Axes and units: whatever the file uses; nothing here converts them. Offsets and position
channels share the file's length unit, rotation channels are in degrees.
Rotation convention: a joint's rotation channels are intrinsic rotations applied in the order
they are listed, so `Zrotation Xrotation Yrotation` means R = Rz @ Rx @ Ry (column vectors).
Joints are stored in the file's depth-first order, so frame columns follow joint order.
"""

from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

POSITION_CHANNELS = ("Xposition", "Yposition", "Zposition")
ROTATION_CHANNELS = ("Xrotation", "Yrotation", "Zrotation")
CHANNEL_NAMES = POSITION_CHANNELS + ROTATION_CHANNELS


def channel_axis(channel: str) -> int:
    """0, 1 or 2 for the X, Y or Z channel of either kind."""
    return "XYZ".index(channel[0])


def is_position_channel(channel: str) -> bool:
    return channel in POSITION_CHANNELS


@dataclass(frozen=True)
class BvhJoint:
    name: str
    parent: int  # index into the skeleton's joints; -1 for the root
    offset: tuple[float, float, float]
    channels: tuple[str, ...]
    end_site: tuple[float, float, float] | None = None  # offset of the End Site, if any

    def __post_init__(self) -> None:
        unknown = [c for c in self.channels if c not in CHANNEL_NAMES]
        if unknown:
            raise ValueError(f"joint {self.name!r} has unknown channels {unknown}; expected some of {CHANNEL_NAMES}")
        if len(set(self.channels)) != len(self.channels):
            raise ValueError(f"joint {self.name!r} lists a channel twice: {self.channels}")

    @property
    def rotation_order(self) -> str:
        """Axes of the rotation channels in their listed order, e.g. 'ZXY' ('' if none)."""
        return "".join(c[0] for c in self.channels if not is_position_channel(c))

    @property
    def has_position(self) -> bool:
        return any(is_position_channel(c) for c in self.channels)


@dataclass(frozen=True)
class BvhSkeleton:
    joints: tuple[BvhJoint, ...]

    def __post_init__(self) -> None:
        if not self.joints:
            raise ValueError("a BVH skeleton needs at least one joint")
        check_depth_first(tuple(j.parent for j in self.joints))
        names = [j.name for j in self.joints]
        if len(set(names)) != len(names):
            duplicates = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"joint names must be unique; repeated: {duplicates}")

    @property
    def n_joints(self) -> int:
        return len(self.joints)

    @cached_property
    def names(self) -> tuple[str, ...]:
        return tuple(j.name for j in self.joints)

    @cached_property
    def parents(self) -> tuple[int, ...]:
        return tuple(j.parent for j in self.joints)

    @cached_property
    def n_channels(self) -> int:
        return sum(len(j.channels) for j in self.joints)

    @cached_property
    def channel_starts(self) -> tuple[int, ...]:
        """Column of each joint's first channel in a frame."""
        starts, column = [], 0
        for joint in self.joints:
            starts.append(column)
            column += len(joint.channels)
        return tuple(starts)

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"no joint named {name!r}; the skeleton has {list(self.names)}") from None

    def offsets_array(self) -> np.ndarray:
        return np.asarray([j.offset for j in self.joints], dtype=np.float64)  # (J, 3)

    def children(self, index: int) -> tuple[int, ...]:
        return tuple(i for i, p in enumerate(self.parents) if p == index)


@dataclass(frozen=True)
class BvhMotion:
    skeleton: BvhSkeleton
    frame_time: float  # seconds per frame
    frames: np.ndarray = field(repr=False)  # (T, C) raw channel values, file units and degrees

    def __post_init__(self) -> None:
        frames = np.asarray(self.frames, dtype=np.float64)
        if frames.ndim != 2 or frames.shape[1] != self.skeleton.n_channels:
            raise ValueError(f"frames must have shape (T, {self.skeleton.n_channels}), got {frames.shape}")
        if not self.frame_time > 0:
            raise ValueError(f"frame time must be positive, got {self.frame_time}")
        object.__setattr__(self, "frames", frames)

    @property
    def n_frames(self) -> int:
        return self.frames.shape[0]

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time

    def joint_channels(self, index: int) -> np.ndarray:
        """(T, K) the values of one joint's K channels."""
        start = self.skeleton.channel_starts[index]
        return self.frames[:, start : start + len(self.skeleton.joints[index].channels)]

    def with_frames(self, frames: np.ndarray) -> "BvhMotion":
        return replace(self, frames=frames)


def check_depth_first(parents: tuple[int, ...]) -> None:
    """Raise unless `parents` lists one tree in depth-first (pre-)order, as a BVH file does."""
    if parents[0] != -1:
        raise ValueError("the first joint must be the root (parent -1)")
    path = [0]  # joints from the root to the previous joint
    for index, parent in enumerate(parents[1:], start=1):
        if parent not in path:
            raise ValueError(f"joint {index} (parent {parent}) breaks depth-first order; its parent must be an ancestor of the previous joint")
        del path[path.index(parent) + 1 :]
        path.append(index)
