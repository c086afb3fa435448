"""Posing a body by hand on rigid bones: two-bone IK for the limbs, the head turned on its neck, a
joint turned with everything below it, the whole body moved, the pose mirrored, limbs pinned.

Poses are (J, 3) joint positions of the 22-joint skeleton (core/skeleton.py), metres, Y up, in any
placement. Every function is pure and returns a new pose whose bones keep the lengths of the pose
it was given (to float precision): IK moves joints only along circles and spheres about their
parents, and every other change is a rotation or a translation of whole subtrees. Joints are never
moved one at a time, so there is no forward kinematics here: core/animation.py's stays the one.
"""

import numpy as np

from keymask.conditioning.refine import with_bone_lengths
from keymask.core.facing import body_heading, mirror_in_body_frame
from keymask.core.rotations import quat_between, quat_from_axis_angle, quat_rotate, quat_slerp, rotate_about_y
from keymask.core.skeleton import HUMANML3D_SKELETON

_J = HUMANML3D_SKELETON.index
# Each limb: (root, middle, end) joints; the root stays, the middle bends, the end is the effector.
LIMBS = {
    "left_arm": (_J("left_shoulder"), _J("left_elbow"), _J("left_wrist")),
    "right_arm": (_J("right_shoulder"), _J("right_elbow"), _J("right_wrist")),
    "left_leg": (_J("left_hip"), _J("left_knee"), _J("left_ankle")),
    "right_leg": (_J("right_hip"), _J("right_knee"), _J("right_ankle")),
}
PELVIS, HEAD = _J("pelvis"), _J("head")
NECK_CHAIN = (_J("spine3"), _J("neck"), _J("head"))
NECK_SHARE = 0.5  # of a head turn, the share the neck bone takes (about the chest); the head bone takes the rest
# The joints a drag can take hold of: hands, feet (at the ankles), head and pelvis.
EFFECTORS = {LIMBS[limb][2]: limb for limb in LIMBS} | {HEAD: "head", PELVIS: "pelvis"}


def subtree(joint: int) -> list[int]:
    """`joint` and every joint that hangs from it."""
    found, stack = [], [joint]
    while stack:
        found.append(stack.pop())
        stack.extend(HUMANML3D_SKELETON.children[found[-1]])
    return found


def limb_of(joint: int) -> str | None:
    """The limb (LIMBS) a joint belongs to: its root, middle or end, or a joint below its end (a toe)."""
    for limb, (root, _, _) in LIMBS.items():
        if joint in subtree(root):
            return limb
    return None


def forward_direction(pose: np.ndarray) -> np.ndarray:
    """(3,) the horizontal unit direction the body faces (core/facing.py's heading)."""
    heading = float(body_heading(pose))
    return np.array([np.sin(heading), 0.0, np.cos(heading)])


def two_bone_ik(root: np.ndarray, middle: np.ndarray, end: np.ndarray, target: np.ndarray,
                bend: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(middle, end) of a two-bone chain from `root` (which stays) with its end at `target`.

    Both bone lengths are kept. The chain bends towards `bend` (3,), a direction whose part across
    the root-target line says which way the middle joint goes. A target beyond reach gets the chain
    straight towards it; one nearer than the difference of the bone lengths gets the chain folded
    towards it, its end as near as the bones allow.
    """
    root, middle, end, target, bend = (np.asarray(v, dtype=np.float64) for v in (root, middle, end, target, bend))
    upper, lower = np.linalg.norm(middle - root), np.linalg.norm(end - middle)
    reach = target - root
    distance = np.linalg.norm(reach)
    if distance > 1e-12:
        along = reach / distance
    else:  # the target on the root: keep the chain's own direction
        along = _unit(end - root, fallback=middle - root)
    distance = float(np.clip(distance, abs(upper - lower), upper + lower))
    distance = max(distance, 1e-9)
    foot = (upper ** 2 - lower ** 2 + distance ** 2) / (2.0 * distance)  # the middle's distance along the line
    height = np.sqrt(max(upper ** 2 - foot ** 2, 0.0))  # and its distance from the line
    across = _unit(bend - (bend @ along) * along, fallback=_perpendicular(along))
    return root + foot * along + height * across, root + distance * along


def solve_limb(pose: np.ndarray, limb: str, target: np.ndarray, *, bend: np.ndarray | None = None) -> np.ndarray:
    """(J, 3) the pose with `limb`'s end moved to `target` by two-bone IK; what hangs below the end
    (the foot's toe) moves with it, unturned. `bend` (default: how the limb bends now, or where a
    straight limb bends: knees forward, elbows back) says which way the middle joint goes."""
    pose = np.array(pose, dtype=np.float64)
    root, middle, end = LIMBS[limb]
    if bend is None:
        bend = limb_bend(pose, limb)
    new_middle, new_end = two_bone_ik(pose[root], pose[middle], pose[end], target, bend)
    below = subtree(end)
    pose[below] += new_end - pose[end]
    pose[middle] = new_middle
    return pose


def limb_bend(pose: np.ndarray, limb: str) -> np.ndarray:
    """(3,) which way `limb`'s middle joint stands off the root-end line; for a straight limb, the
    way it would bend: a knee forward, an elbow back (a little outwards, as a relaxed arm does)."""
    root, middle, end = (np.asarray(pose[j], dtype=np.float64) for j in LIMBS[limb])
    line = _unit(end - root, fallback=middle - root)
    off = (middle - root) - ((middle - root) @ line) * line
    if np.linalg.norm(off) > 1e-4 * max(np.linalg.norm(middle - root), 1e-9):
        return off
    forward = forward_direction(pose)
    return forward if limb.endswith("leg") else -forward


def move_body(pose: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """(J, 3) the whole pose moved by `offset` (3,)."""
    return np.asarray(pose, dtype=np.float64) + np.asarray(offset, dtype=np.float64)


def turn_head(pose: np.ndarray, target: np.ndarray, *, neck_share: float = NECK_SHARE) -> np.ndarray:
    """(J, 3) the pose with the head turned towards `target`: the neck bone (about the chest) takes
    `neck_share` of the turn, then the head bone points at the target from where the neck is now."""
    pose = np.array(pose, dtype=np.float64)
    chest, neck, head = NECK_CHAIN
    aim = np.asarray(target, dtype=np.float64) - pose[neck]
    if np.linalg.norm(aim) < 1e-9:
        return pose
    turn = quat_slerp(np.array([1.0, 0.0, 0.0, 0.0]), quat_between(pose[head] - pose[neck], aim), neck_share)
    below_neck = subtree(neck)
    pose[below_neck] = pose[chest] + quat_rotate(turn, pose[below_neck] - pose[chest])
    aim = np.asarray(target, dtype=np.float64) - pose[neck]
    if np.linalg.norm(aim) < 1e-9:
        return pose
    head_turn = quat_between(pose[head] - pose[neck], aim)
    below_head = subtree(head)
    pose[below_head] = pose[neck] + quat_rotate(head_turn, pose[below_head] - pose[neck])
    return pose


def rotate_joint(pose: np.ndarray, joint: int, axis: np.ndarray, angle: float) -> np.ndarray:
    """(J, 3) everything that hangs from `joint` turned by `angle` radians about `axis` (3,) through
    the joint (the pelvis turns the whole body about itself); a joint with nothing below it (a wrist,
    a toe, the head) turns its own bone about its parent instead."""
    pose = np.array(pose, dtype=np.float64)
    pivot = joint if HUMANML3D_SKELETON.children[joint] else HUMANML3D_SKELETON.parents[joint]
    moving = subtree(joint)  # the pivot itself, when it is in there, stays where it is
    turn = quat_from_axis_angle(np.asarray(axis, dtype=np.float64), float(angle))
    pose[moving] = pose[pivot] + quat_rotate(turn, pose[moving] - pose[pivot])
    return pose


def hold_limbs(before: np.ndarray, after: np.ndarray, limbs) -> np.ndarray:
    """(J, 3) `after` with each of `limbs` (pinned) reaching back to where its end is in `before`:
    two-bone IK from the limb's root as `after` has it, bending the way it bends in `after`; what
    hangs below the end stays as `before` has it when the end gets there."""
    pose = np.array(after, dtype=np.float64)
    for limb in limbs:
        end = LIMBS[limb][2]
        pose = solve_limb(pose, limb, before[end])
        if np.allclose(pose[end], before[end], atol=1e-9):
            pose[subtree(end)] = before[subtree(end)]
    return pose


def mirror_pose(pose: np.ndarray) -> np.ndarray:
    """(J, 3) the pose mirrored left for right in the body's own frame (about the plane through the
    pelvis along its facing), standing where it stands, facing where it faces, each bone at its own
    length (so an asymmetric body keeps its build)."""
    pose = np.asarray(pose, dtype=np.float64)
    return with_bone_lengths(mirror_in_body_frame(pose), pose)


def bone_lengths(pose: np.ndarray) -> np.ndarray:
    """(J - 1,) the length of the bone ending at each joint but the pelvis."""
    pose = np.asarray(pose, dtype=np.float64)
    parents = list(HUMANML3D_SKELETON.parents[1:])
    return np.linalg.norm(pose[1:] - pose[parents], axis=-1)


def _unit(vector: np.ndarray, *, fallback: np.ndarray) -> np.ndarray:
    """(3,) `vector` made unit; `fallback` where it has no length (and +Z where neither has)."""
    for candidate in (vector, fallback, np.array([0.0, 0.0, 1.0])):
        length = np.linalg.norm(candidate)
        if length > 1e-12:
            return np.asarray(candidate, dtype=np.float64) / length


def _perpendicular(direction: np.ndarray) -> np.ndarray:
    """(3,) a unit vector across `direction` (3,)."""
    helper = np.eye(3)[np.argmin(np.abs(direction))]
    return _unit(np.cross(direction, helper), fallback=np.array([1.0, 0.0, 0.0]))
