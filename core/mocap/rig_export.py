"""A motion exported onto a user's own rig: their joint names, hierarchy, rest offsets, units and axes.

The rig is a BVH file (its frames are ignored). The importer's joint-name tables (or a mapping
file) say which rig joint stands for each of our 22 joints (importer.read_rig_rest). The motion is
carried onto the rig's proportions first (`rig_body`, Animation.on_body), so the rig can show it
exactly; then, frame by frame, in the rig's file order:
- a rig joint that stands for one of ours is turned so that its bones to the next such joints
  below it (its "aims") point where the motion's do: the motion's own global rotation of that
  joint, times the fixed rotation A from the rig's rest bones to ours, then the shortest swing
  (one aim) or a Kabsch fit (several) onto the motion's bones, so its roll follows the motion's;
- a rig joint with no counterpart stays at rest relative to its parent (twist bones, extra spine
  or neck joints, end joints), except fingers, which take a hand pose (HAND_POSES);
- a rig joint that stands for one of our leaf joints (a wrist, a toe, the head) stays at rest
  relative to its parent, as our leaf joints do.
The root carries the pelvis path (its OFFSET is written as zero, so readers agree). Rotations are
written in each joint's own channel order, the root position in the rig's units and axes.
Axes: `axes` turns rig coordinates into ours (Y up); a rotation R in our axes is axes^T R axes in
the rig's.
"""

from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import numpy as np

from ..animation import Animation, Body, body_of, kabsch_rotations
from ..bvh.format import BvhMotion, BvhSkeleton, channel_axis, is_position_channel
from ..bvh.from_joints import continuous_euler
from ..bvh.kinematics import matrices_to_euler
from ..bvh.reader import read_bvh
from ..errors import KeyMaskError
from ..rotations import quat_between, quat_from_axis_angle, quat_to_matrix
from ..skeleton import HUMANML3D_SKELETON
from .importer import RigRest, read_rig_rest

FINGER_WORDS = ("thumb", "index", "middle", "ring", "pinky", "little", "finger")
# Degrees each finger joint bends towards the palm, from the knuckle outwards: (fingers, thumb).
HAND_POSES = {
    "relaxed": ((15.0, 25.0, 15.0), (8.0, 12.0, 8.0)),
    "fist": ((80.0, 95.0, 60.0), (25.0, 40.0, 30.0)),
    "open": ((0.0, 0.0, 0.0), (0.0, 0.0, 0.0)),
    "point": ((80.0, 95.0, 60.0), (25.0, 40.0, 30.0)),  # the index finger stays straight
}


class RigExportError(KeyMaskError, ValueError):
    """A rig the motion cannot be put on, in one sentence."""


@dataclass(frozen=True)
class Rig:
    skeleton: BvhSkeleton
    rest: RigRest
    name: str

    @cached_property
    def body(self) -> Body:
        """Our 22 joints at the rig's rest pose: the proportions the motion is played on."""
        return body_of(self.rest.joints(), self.name)


def read_rig(path: str | Path, *, mapping: str | Path | dict | None = None) -> Rig:
    """A rig from a BVH file, mapped onto our joints (tables, else `mapping`)."""
    from ..bvh.reader import BvhError
    from .importer import MocapImportError
    from .joint_names import JointMappingError, UnknownSkeletonError

    path = Path(path)
    try:
        skeleton = read_bvh(path).skeleton
        rest = read_rig_rest(path, mapping=mapping)
    except (BvhError, MocapImportError, UnknownSkeletonError, JointMappingError, OSError) as error:
        raise RigExportError(f"Cannot use {path} as a rig: {error}") from None
    pelvis = rest.sources[HUMANML3D_SKELETON.joint_names[0]]
    if not isinstance(pelvis, str) or pelvis not in skeleton.names:
        raise RigExportError(f"Cannot use {path} as a rig: no joint of it stands for the pelvis.")
    return Rig(skeleton, rest, path.stem)


def motion_onto_rig(animation: Animation, rig: Rig, *, fps: float = 20, hand_pose: str = "relaxed") -> BvhMotion:
    """A BVH motion of `rig` showing `animation` (carried onto the rig's body first)."""
    if hand_pose not in HAND_POSES:
        raise RigExportError(f"Unknown hand pose {hand_pose!r}: choose {', '.join(HAND_POSES)}.")
    body = rig.body
    animation = animation.on_body(body)
    skeleton, rest = rig.skeleton, rig.rest
    axes, scale = rest.axes, rest.metres_per_unit
    rest_ours = (rest.positions[:skeleton.n_joints] * scale) @ axes.T  # (R, 3) metres, our axes
    ours_of = _direct_joints(rig)  # rig joint -> our joint
    our_rest = body.rest_pose()  # (22, 3)
    positions, rotations = animation.joints(), animation.global_rotations()  # (T, 22, 3), (T, 22, 3, 3)
    n_frames = animation.n_frames
    fingers = _finger_rotations(rig, rest_ours, ours_of, hand_pose)  # rig joint -> (3, 3) local, our axes

    global_rig = np.empty((n_frames, skeleton.n_joints, 3, 3))
    for r, joint in enumerate(skeleton.joints):
        parent = global_rig[:, joint.parent] if joint.parent >= 0 else np.broadcast_to(np.eye(3), (n_frames, 3, 3))
        aims = _aims(skeleton, ours_of, r)
        if r not in ours_of or not aims:
            global_rig[:, r] = parent @ fingers.get(r, np.eye(3))
            continue
        ours = ours_of[r]
        rig_bones = np.stack([rest_ours[a] - rest_ours[r] for a in aims])  # (K, 3)
        our_bones = np.stack([our_rest[ours_of[a]] - our_rest[ours] for a in aims])  # (K, 3)
        wanted = np.stack([positions[:, ours_of[a]] - positions[:, ours] for a in aims], axis=1)  # (T, K, 3)
        if len(aims) == 1:
            alignment = quat_to_matrix(quat_between(rig_bones[0], our_bones[0]))  # rig rest -> our rest
            guess = rotations[:, ours] @ alignment  # (T, 3, 3)
            now = guess @ rig_bones[0]  # (T, 3)
            global_rig[:, r] = quat_to_matrix(quat_between(now, wanted[:, 0])) @ guess
        else:
            global_rig[:, r] = kabsch_rotations(rig_bones, wanted)

    local = global_rig.copy()
    for r, joint in enumerate(skeleton.joints):
        if joint.parent >= 0:
            local[:, r] = np.swapaxes(global_rig[:, joint.parent], -1, -2) @ global_rig[:, r]
    local_file = axes.T @ local @ axes  # (T, R, 3, 3) in the rig's axes
    root_path = _root_path(rig, ours_of, positions, rest_ours) @ axes / scale  # (T, 3) file units and axes
    return BvhMotion(skeleton=_zero_root_offset(skeleton), frame_time=1.0 / fps,
                     frames=_frames(skeleton, local_file, root_path))


def _direct_joints(rig: Rig) -> dict[int, int]:
    """Rig joint index -> our joint index, for our joints a rig joint stands for directly."""
    names = rig.skeleton.names
    return {names.index(source): HUMANML3D_SKELETON.index(ours) for ours, source in rig.rest.sources.items()
            if isinstance(source, str) and source in names}


def _aims(skeleton: BvhSkeleton, ours_of: dict[int, int], joint: int) -> list[int]:
    """The mapped rig joints first reached below `joint` on each branch."""
    found, stack = [], list(skeleton.children(joint))
    while stack:
        child = stack.pop(0)
        if child in ours_of:
            found.append(child)
        else:
            stack.extend(skeleton.children(child))
    return found


def _root_path(rig: Rig, ours_of: dict[int, int], positions: np.ndarray, rest_ours: np.ndarray) -> np.ndarray:
    """(T, 3) root position, our axes: the pelvis path, less the rest offsets of any joints above the pelvis."""
    pelvis = next(r for r, ours in ours_of.items() if ours == 0)
    return positions[:, 0] - (rest_ours[pelvis] - rest_ours[0])


def _finger_rotations(rig: Rig, rest_ours: np.ndarray, ours_of: dict[int, int], hand_pose: str) -> dict[int, np.ndarray]:
    """Rig finger joint -> its local rotation (our axes) curling it towards the palm by HAND_POSES."""
    skeleton = rig.skeleton
    names = [name.lower() for name in skeleton.names]
    finger_angles, thumb_angles = HAND_POSES[hand_pose]
    rotations = {}
    for side, wrist_name in (("left", "left_wrist"), ("right", "right_wrist")):
        wrist = next((r for r, ours in ours_of.items() if ours == HUMANML3D_SKELETON.index(wrist_name)), None)
        if wrist is None:
            continue
        roots = [c for c in skeleton.children(wrist) if any(word in names[c] for word in FINGER_WORDS)]
        index = next((c for c in roots if "index" in names[c]), None)
        pinky = next((c for c in roots if "pinky" in names[c] or "little" in names[c]), None)
        if not roots or index is None or pinky is None:
            continue
        along = np.mean([rest_ours[c] for c in roots], axis=0) - rest_ours[wrist]  # wrist to knuckles
        spread = rest_ours[index] - rest_ours[pinky]
        palm = np.cross(along, spread) if side == "left" else np.cross(spread, along)  # out of the palm
        palm /= np.linalg.norm(palm)
        for root in roots:
            angles = thumb_angles if "thumb" in names[root] else finger_angles
            if hand_pose == "point" and root == index:
                angles = (0.0, 0.0, 0.0)
            chain, joint = [], root
            while True:
                chain.append(joint)
                children = skeleton.children(joint)
                if len(children) != 1:
                    break
                joint = children[0]
            for depth, joint in enumerate(chain):
                children = skeleton.children(joint)
                if not children or depth >= len(angles):
                    continue
                direction = rest_ours[children[0]] - rest_ours[joint]
                axis = np.cross(direction, palm)
                if np.linalg.norm(axis) < 1e-9:
                    continue
                rotations[joint] = quat_to_matrix(quat_from_axis_angle(axis, np.radians(angles[depth])))
    return rotations


def _zero_root_offset(skeleton: BvhSkeleton) -> BvhSkeleton:
    joints = list(skeleton.joints)
    joints[0] = replace(joints[0], offset=(0.0, 0.0, 0.0))
    return BvhSkeleton(tuple(joints))


def _frames(skeleton: BvhSkeleton, local: np.ndarray, root_path: np.ndarray) -> np.ndarray:
    """(T, C) channel values in file order: positions from the root path (or the joint's OFFSET),
    rotations as continuous Euler angles in each joint's own order."""
    columns = []
    for r, joint in enumerate(skeleton.joints):
        order = joint.rotation_order
        angles = continuous_euler(matrices_to_euler(local[:, r], order)) if len(order) == 3 else None  # (T, 3)
        rotation_index = 0
        for channel in joint.channels:
            if is_position_channel(channel):
                source = root_path if joint.parent < 0 else np.broadcast_to(joint.offset, root_path.shape)
                columns.append(source[:, channel_axis(channel)])
            else:
                if angles is None:
                    raise RigExportError(f"The rig joint {joint.name} has {len(order)} rotation channels; "
                                         "a rig needs 3 per rotating joint.")
                columns.append(angles[:, rotation_index])
                rotation_index += 1
    return np.stack(columns, axis=1)
