"""The 22-joint HumanML3D skeleton: joint names, parents, kinematic chains and rest offsets.

Axes and units: metres, Y up, the body faces +Z in the rest pose, its left is +X.
Raw offsets are unit directions of each bone in the rest pose; `target_offsets()` gives the
HumanML3D target skeleton (directions times bone lengths) that every motion is uniformised to.
"""

import json
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from keymask.resources import resource_path


@dataclass(frozen=True)
class Skeleton:
    joint_names: tuple[str, ...]
    kinematic_chains: tuple[tuple[int, ...], ...]  # each chain starts at an already-placed joint
    raw_offsets: tuple[tuple[float, float, float], ...]  # (J, 3) unit rest directions

    @property
    def n_joints(self) -> int:
        return len(self.joint_names)

    @cached_property
    def parents(self) -> tuple[int, ...]:
        parents = [-1] * self.n_joints
        for chain in self.kinematic_chains:
            for parent, child in zip(chain[:-1], chain[1:]):
                parents[child] = parent
        return tuple(parents)

    @cached_property
    def children(self) -> tuple[tuple[int, ...], ...]:
        return tuple(tuple(c for c, p in enumerate(self.parents) if p == j) for j in range(self.n_joints))

    def index(self, name: str) -> int:
        return self.joint_names.index(name)

    def raw_offsets_array(self) -> np.ndarray:
        return np.asarray(self.raw_offsets, dtype=np.float64)  # (J, 3)


HUMANML3D_SKELETON = Skeleton(
    joint_names=(
        "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
        "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
        "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
        "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    ),
    kinematic_chains=(
        (0, 2, 5, 8, 11),  # right leg
        (0, 1, 4, 7, 10),  # left leg
        (0, 3, 6, 9, 12, 15),  # spine to head
        (9, 14, 17, 19, 21),  # right arm
        (9, 13, 16, 18, 20),  # left arm
    ),
    raw_offsets=(
        (0, 0, 0), (1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, -1, 0), (0, 1, 0),
        (0, -1, 0), (0, -1, 0), (0, 1, 0), (0, 0, 1), (0, 0, 1), (0, 1, 0), (1, 0, 0),
        (-1, 0, 0), (0, 0, 1), (0, -1, 0), (0, -1, 0), (0, -1, 0), (0, -1, 0), (0, -1, 0),
        (0, -1, 0),
    ),
)

# Indices the HumanML3D feature extraction relies on.
LOWER_LEG_JOINTS = (5, 8)  # right knee and ankle: their offsets (thigh + shin) give the leg length
RIGHT_FOOT_JOINTS = (8, 11)  # right ankle, right foot
LEFT_FOOT_JOINTS = (7, 10)  # left ankle, left foot
FACE_JOINTS = (2, 1, 17, 16)  # right hip, left hip, right shoulder, left shoulder
# Mirror image of each joint (left <-> right), for augmentation.
MIRROR_JOINTS = (0, 2, 1, 3, 5, 4, 6, 8, 7, 9, 11, 10, 12, 14, 13, 15, 17, 16, 19, 18, 21, 20)


def target_offsets() -> np.ndarray:
    """(J, 3) rest offsets of the HumanML3D target skeleton, metres."""
    doc = json.loads(resource_path("skeletons", "humanml3d_target.json").read_text())
    return np.asarray([joint["offset"] for joint in doc["joints"]], dtype=np.float64)
