"""The 263-d HumanML3D motion features: joint positions to features and back.

Per frame, in this order (J = 22, D = 263):
    root angular velocity about Y (1)   half-angle per frame, radians
    root linear velocity on XZ (2)      in the root's facing frame, metres per frame
    root height (1)                     metres above the floor
    ric (J-1)*3                         joints relative to the root, root facing +Z
    rotations (J-1)*6                   local joint rotations, continuous 6D
    local velocities J*3                joint velocities in the root's facing frame
    foot contacts 4                     left ankle, left toe, right ankle, right toe (0 or 1)

`joints_to_features` reproduces the official `process_file` (quirks included) and
`recover_from_ric` the official `recover_from_ric`. A clip of T frames gives T-1 feature rows.
"""

from dataclasses import dataclass

import numpy as np
from keymask.core import skeleton as skel
from keymask.core.arrays import concat as _concat
from keymask.core.arrays import stack_last as _stack_last_axis
from keymask.core.kinematics import forward_kinematics, inverse_kinematics, offsets_from_joints
from keymask.core.rotations import (
    quat_between,
    quat_inverse,
    quat_multiply,
    quat_rotate,
    quat_to_cont6d,
    rotate_about_y,
)
from keymask.core.spec import HUMANML3D, MotionSpec


@dataclass(frozen=True)
class FeatureLayout:
    """Where each part of the feature vector lives, as slices of the last axis."""

    n_joints: int = HUMANML3D.n_joints

    @classmethod
    def from_spec(cls, spec: MotionSpec) -> "FeatureLayout":
        return cls(n_joints=spec.n_joints)

    @classmethod
    def from_size(cls, n_features: int) -> "FeatureLayout":
        n_joints, rest = divmod(n_features + 1, 12)  # D = 12 J - 1
        if rest or n_joints < 2:
            raise ValueError(f"{n_features} is not a HumanML3D feature size (12 J - 1)")
        return cls(n_joints=n_joints)

    def _span(self, start: int, length: int) -> slice:
        return slice(start, start + length)

    @property
    def root_angular_velocity(self) -> slice:
        return slice(0, 1)

    @property
    def root_linear_velocity(self) -> slice:
        return slice(1, 3)

    @property
    def root_height(self) -> slice:
        return slice(3, 4)

    @property
    def ric(self) -> slice:
        return self._span(self.root_height.stop, (self.n_joints - 1) * 3)

    @property
    def rotations(self) -> slice:
        return self._span(self.ric.stop, (self.n_joints - 1) * 6)

    @property
    def local_velocities(self) -> slice:
        return self._span(self.rotations.stop, self.n_joints * 3)

    @property
    def foot_contacts(self) -> slice:
        return self._span(self.local_velocities.stop, 4)

    @property
    def size(self) -> int:
        return self.foot_contacts.stop

    def groups(self) -> tuple[slice, ...]:
        """The parts in order: each is one group for normalisation statistics."""
        return (self.root_angular_velocity, self.root_linear_velocity, self.root_height, self.ric,
                self.rotations, self.local_velocities, self.foot_contacts)


HUMANML3D_LAYOUT = FeatureLayout.from_spec(HUMANML3D)

_UP = np.array([0.0, 1.0, 0.0])
_FORWARD = np.array([0.0, 0.0, 1.0])


def leg_length(offsets: np.ndarray) -> float:
    """Thigh + shin length from (J, 3) offsets that lie along unit axes (largest component = length)."""
    knee, ankle = skel.LOWER_LEG_JOINTS
    return float(np.abs(offsets[knee]).max() + np.abs(offsets[ankle]).max())


def uniform_skeleton(positions: np.ndarray, target_offsets: np.ndarray) -> np.ndarray:
    """(T, J, 3) the motion on the target skeleton: same bone directions, target bone lengths.

    The root trajectory is scaled by the ratio of leg lengths (thigh + shin) measured on frame 0.
    """
    scale = leg_length(target_offsets) / leg_length(offsets_from_joints(positions[0]))
    local_quats = inverse_kinematics(positions)  # (T, J, 4)
    return forward_kinematics(local_quats, positions[:, 0] * scale, target_offsets)


@dataclass(frozen=True)
class CanonicalFrame:
    """How `canonicalize` moved a motion: root scale, floor height, start position and turn.

    canonical = rotate(facing_to_z, uniform(positions) - floor - origin), where uniform() puts the
    motion on the target skeleton and scales the root path by `root_scale`.
    """

    root_scale: float
    floor: float  # metres, on the uniformised motion
    origin_xz: np.ndarray  # (3,) with y = 0
    facing_to_z: np.ndarray  # (4,) quaternion

    def to_world(self, canonical: np.ndarray, source_offsets: np.ndarray) -> np.ndarray:
        """(T, J, 3) canonical positions back in the source's place, on the source's skeleton
        (offsets (J, 3) as offsets_from_joints gives them)."""
        uniform = quat_rotate(quat_inverse(self.facing_to_z), np.asarray(canonical, dtype=np.float64))
        uniform = uniform + self.origin_xz + np.array([0.0, self.floor, 0.0])
        return forward_kinematics(inverse_kinematics(uniform), uniform[:, 0] / self.root_scale, source_offsets)


def canonical_frame(positions: np.ndarray, target_offsets: np.ndarray | None = None) -> tuple[CanonicalFrame, np.ndarray]:
    """The canonical frame of a motion (T, J, 3) and its canonical positions (T, J, 3): target
    skeleton, on the floor, frame 0's root above the origin and frame 0 facing +Z. The first half
    of the official `process_file`."""
    positions = np.asarray(positions, dtype=np.float64)
    target_offsets = skel.target_offsets() if target_offsets is None else np.asarray(target_offsets, dtype=np.float64)
    root_scale = leg_length(target_offsets) / leg_length(offsets_from_joints(positions[0]))
    uniform = uniform_skeleton(positions, target_offsets)
    floor = float(uniform[..., 1].min())
    origin_xz = uniform[0, 0] * np.array([1.0, 0.0, 1.0])
    moved = uniform - origin_xz - np.array([0.0, floor, 0.0])
    # Here the face joints are read as (right hip, left hip, right shoulder, left shoulder),
    # unlike inside the IK: this is how process_file does it.
    right_hip, left_hip, right_shoulder, left_shoulder = skel.FACE_JOINTS
    first = moved[0]
    across = (first[right_hip] - first[left_hip]) + (first[right_shoulder] - first[left_shoulder])
    forward = np.cross(_UP, across / np.linalg.norm(across))
    facing_to_z = quat_between(forward / np.linalg.norm(forward), _FORWARD)  # (4,)
    return CanonicalFrame(root_scale, floor, origin_xz, facing_to_z), quat_rotate(facing_to_z, moved)


def canonicalize(positions: np.ndarray, target_offsets: np.ndarray | None = None) -> np.ndarray:
    """(T, J, 3) canonical positions (see canonical_frame)."""
    return canonical_frame(positions, target_offsets)[1]


def foot_contacts(positions: np.ndarray, threshold: float) -> np.ndarray:
    """(T-1, 4) 1.0 where a foot joint moves less than sqrt(threshold) metres to the next frame.

    Columns: left ankle, left toe, right ankle, right toe. The official code squares float32
    position differences; so do we, so that a frame near the threshold falls the same way.
    """
    feet = list(skel.LEFT_FOOT_JOINTS) + list(skel.RIGHT_FOOT_JOINTS)
    feet_positions = positions[:, feet].astype(np.float32)  # (T, 4, 3)
    squared_speed = ((feet_positions[1:] - feet_positions[:-1]) ** 2).sum(-1)  # (T-1, 4)
    return (squared_speed < threshold).astype(np.float64)


def features_from_canonical(
    canonical: np.ndarray, *, foot_contact_threshold: float = HUMANML3D.foot_contact_threshold
) -> np.ndarray:
    """(T-1, D) features of canonical positions (T, J, 3), the second half of `process_file`."""
    canonical = np.asarray(canonical, dtype=np.float64)
    n_frames = canonical.shape[0]
    local_quats = inverse_kinematics(canonical, smooth_forward=True)  # (T, J, 4)
    root_rot = local_quats[:, 0]  # (T, 4), turns each frame's facing onto +Z

    root_step = canonical[1:, 0] - canonical[:-1, 0]  # (T-1, 3)
    root_velocity = quat_rotate(root_rot[1:], root_step)  # (T-1, 3)
    root_turn = quat_multiply(root_rot[1:], quat_inverse(root_rot[:-1]))  # (T-1, 4)
    # The official code stops here, so when the facing crosses +-180 degrees the turn comes out
    # as the long way round (w < 0) and its arcsin below has the wrong sign, bending the whole
    # recovered trajectory. Choosing w >= 0 changes nothing on clips that never cross.
    root_turn = np.where(root_turn[:, :1] < 0, -root_turn, root_turn)
    root_angular_velocity = np.arcsin(root_turn[:, 2:3])  # (T-1, 1), y of a turn about Y

    centred = canonical - canonical[:, :1] * np.array([1.0, 0.0, 1.0])  # (T, J, 3)
    ric = quat_rotate(root_rot[:, None], centred)  # (T, J, 3)
    rotations = quat_to_cont6d(local_quats[:, 1:])  # (T, J-1, 6)
    # The velocity into frame t+1 is seen from frame t's facing (the root velocity above uses
    # frame t+1's): kept for parity.
    local_velocities = quat_rotate(root_rot[:-1, None], canonical[1:] - canonical[:-1])  # (T-1, J, 3)

    rows = n_frames - 1
    return np.concatenate(
        [
            root_angular_velocity,
            root_velocity[:, [0, 2]],
            ric[:-1, 0, 1:2],
            ric[:-1, 1:].reshape(rows, -1),
            rotations[:-1].reshape(rows, -1),
            local_velocities.reshape(rows, -1),
            foot_contacts(canonical, foot_contact_threshold),
        ],
        axis=-1,
    )


def joints_to_features(
    positions: np.ndarray,
    *,
    target_offsets: np.ndarray | None = None,
    foot_contact_threshold: float = HUMANML3D.foot_contact_threshold,
) -> np.ndarray:
    """(T-1, D) HumanML3D features (un-normalised) of joint positions (T, J, 3), metres, Y up."""
    canonical = canonicalize(positions, target_offsets)
    return features_from_canonical(canonical, foot_contact_threshold=foot_contact_threshold)


def recover_root(features):
    """Root yaw half-angles (..., T) and root positions (..., T, 3) from features (..., T, D).

    numpy or torch in, the same out. Frame t's root rotation is the quaternion
    (cos a, 0, sin a, 0) with a = the sum of the angular velocities of frames before t.
    """
    features = _as_float(features)
    angular_velocity = features[..., 0]  # (..., T)
    half_angle = _concat([angular_velocity[..., :1] * 0, angular_velocity[..., :-1].cumsum(-1)], axis=-1)
    velocity_x, velocity_z = features[..., :-1, 1], features[..., :-1, 2]  # (..., T-1)
    zero = features[..., :1, 1] * 0  # (..., 1)
    step_x, step_z = _concat([zero, velocity_x], -1), _concat([zero, velocity_z], -1)  # (..., T)
    # Frame t moves by the velocity stored at frame t-1, given in frame t's facing.
    step = _stack_last_axis([step_x, step_x * 0, step_z])  # (..., T, 3)
    step = rotate_about_y(step, -2.0 * half_angle)  # back to world axes
    root = step.cumsum(-2)  # (..., T, 3)
    root = _stack_last_axis([root[..., 0], features[..., 3], root[..., 2]])
    return half_angle, root


def recover_from_ric(features):
    """(..., T, J, 3) joint positions from HumanML3D features (..., T, D), numpy or torch.

    numpy in gives float64 numpy out; a tensor gives a tensor of its dtype and device.
    """
    features = _as_float(features)
    layout = FeatureLayout.from_size(features.shape[-1])
    half_angle, root = recover_root(features)
    ric = features[..., layout.ric]
    ric = ric.reshape(ric.shape[:-1] + (layout.n_joints - 1, 3))  # (..., T, J-1, 3)
    joints = rotate_about_y(ric, -2.0 * half_angle[..., None])
    joints = joints + _stack_last_axis([root[..., 0], root[..., 0] * 0, root[..., 2]])[..., None, :]
    return _concat([root[..., None, :], joints], axis=-2)


def _as_float(x):
    if isinstance(x, np.ndarray) or not hasattr(x, "cumsum"):
        return np.asarray(x, dtype=np.float64)
    return x if x.is_floating_point() else x.float()
