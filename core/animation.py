"""Motion as joint rotations on a body: what a BVH stores, and how a motion changes body.

A `Body` is the 22 rest offsets of the HumanML3D skeleton (metres, each joint from its parent);
an `Animation` is a root path plus local joint rotations played on one body. `animate` solves the
rotations that reproduce every bone direction of joint positions; `Animation.joints()` is forward
kinematics; `Animation.on_body` carries a motion onto other proportions by its rotations (the
root path scales with the legs, so the feet travel as far as the new legs reach). Bone lengths of
`Animation.joints()` are the body's in every frame.

Axes: Y up, the rest pose faces +Z with its left at +X (as skeleton.py).
Rest pose: each single-child joint's child sits along its HumanML3D rest direction
(skeleton.raw_offsets, but the head above the neck). For joints with several children (pelvis:
hips + spine1; spine3: neck + collars) the children's rest offsets are their positions in a body
frame built from the joint's left-right and up children, so one rotation places all of them.
Rotations: a multi-child joint is solved by Kabsch over its children; a single-child joint takes
the shortest swing from its rest direction to the actual bone direction, relative to its
parent's global rotation, with its roll kept continuous over time.
"""

import json
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from .bvh.kinematics import forward_kinematics
from .errors import KeyMaskError
from .rotations import matrix_to_quat, quat_from_axis_angle, quat_to_matrix
from .skeleton import HUMANML3D_SKELETON, MIRROR_JOINTS, Skeleton

# HumanML3D's raw offsets point the head forward (+Z) from the neck; a real head sits above it,
# and the forward rest direction would hold the neck at a 90-degree X rotation, the gimbal lock
# of the default ZXY order, where the Euler curves jump from frame to frame.
REST_DIRECTION_OVERRIDES = {"head": (0.0, 1.0, 0.0)}
TWIST_RELAX_PER_FRAME = 0.05  # how fast a bone's carried-over roll returns to the plain swing
LEG_CHAIN = ("left_hip", "left_knee", "left_ankle")


class BodyError(KeyMaskError, ValueError):
    """Proportions that cannot make a body: a missing joint, a bone of zero length, an unknown preset."""


@dataclass(frozen=True)
class Body:
    offsets: np.ndarray = field(repr=False)  # (J, 3) rest offset of each joint from its parent, metres; pelvis 0
    name: str = "custom"

    def rest_pose(self) -> np.ndarray:
        """(J, 3) joint positions with every rotation at rest, pelvis at the origin."""
        return Animation(np.zeros((1, 3)), np.broadcast_to(np.eye(3), (1, len(self.offsets), 3, 3)), self).joints()[0]

    def bone_lengths(self) -> np.ndarray:
        """(J,) length of the bone ending at each joint (0 for the pelvis)."""
        return np.linalg.norm(self.offsets, axis=-1)

    def leg_length(self) -> float:
        """Hip to knee plus knee to ankle (m): what a stride scales with."""
        index = HUMANML3D_SKELETON.index
        return float(sum(np.linalg.norm(self.offsets[index(name)]) for name in LEG_CHAIN[1:]))

    def height(self) -> float:
        """Lowest foot joint to the head in the rest pose (m)."""
        rest = self.rest_pose()
        return float(rest[:, 1].max() - rest[:, 1].min())

    def symmetric(self) -> "Body":
        """The body with each left bone and its right twin at their mean (mirrored across X)."""
        mirrored = self.offsets[list(MIRROR_JOINTS)] * [-1.0, 1.0, 1.0]
        return Body(0.5 * (self.offsets + mirrored), self.name)

    def to_dict(self) -> dict:
        return {"name": self.name, "joints": list(HUMANML3D_SKELETON.joint_names),
                "offsets": np.round(self.offsets, 6).tolist()}

    @classmethod
    def from_dict(cls, document: dict) -> "Body":
        offsets = np.asarray(document["offsets"], dtype=np.float64)
        if offsets.shape != (HUMANML3D_SKELETON.n_joints, 3):
            raise BodyError(f"A body has {HUMANML3D_SKELETON.n_joints} offsets of 3 values; got {offsets.shape}.")
        return cls(offsets, str(document.get("name", "custom")))


def body_of(joints: np.ndarray, name: str = "custom") -> Body:
    """The body of a pose (J, 3) or a motion (T, J, 3): median bone lengths, measured child frames."""
    joints = np.asarray(joints, dtype=np.float64)
    positions = joints[None] if joints.ndim == 2 else joints
    if positions.shape[1:] != (HUMANML3D_SKELETON.n_joints, 3) or not np.isfinite(positions).all():
        raise BodyError(f"A body is measured on finite (frames, {HUMANML3D_SKELETON.n_joints}, 3) joints; got "
                        f"{joints.shape}.")
    parents = list(HUMANML3D_SKELETON.parents[1:])
    lengths = np.median(np.linalg.norm(positions[:, 1:] - positions[:, parents], axis=-1), axis=0)  # (J-1,)
    short = [HUMANML3D_SKELETON.joint_names[j + 1] for j in np.flatnonzero(lengths < 1e-4)]
    if short:
        raise BodyError(f"The pose has bones of zero length (ending at {', '.join(short)}): its joints coincide.")
    return Body(rest_offsets_from_motion(positions, HUMANML3D_SKELETON), name)


@lru_cache(maxsize=1)
def _presets() -> dict:
    from keymask.resources import resource_path

    return json.loads(resource_path("skeletons", "body_presets.json").read_text())


def body_presets() -> dict[str, str]:
    """Preset name -> one line saying whose proportions it has."""
    return {name: preset["description"] for name, preset in _presets()["bodies"].items()}


def body_preset(name: str) -> Body:
    presets = _presets()["bodies"]
    if name not in presets:
        raise BodyError(f"No body preset {name!r}: choose one of {', '.join(presets)}.")
    return Body.from_dict({**presets[name], "name": name})


def mixed_body(rng: np.random.Generator, concentration: float = 0.5) -> Body:
    """A body whose rest offsets are a random convex mix (Dirichlet weights) of the presets that are
    one body's proportions (the model's template and each source's median actor, not their average):
    for training what must not depend on proportions. Lower concentration: mixes nearer one preset."""
    names = [name for name in body_presets() if name != "average"]
    weights = rng.dirichlet(np.full(len(names), concentration))
    return Body(sum(w * body_preset(name).offsets for w, name in zip(weights, names)), name="mixed")


@dataclass(frozen=True)
class Animation:
    root: np.ndarray  # (T, 3) pelvis position, metres
    rotations: np.ndarray  # (T, J, 3, 3) each joint's rotation relative to its parent (the pelvis: to the world)
    body: Body

    @property
    def n_frames(self) -> int:
        return len(self.root)

    def global_rotations(self) -> np.ndarray:
        """(T, J, 3, 3) each joint's rotation in the world."""
        return self.kinematics()[0]

    def joints(self) -> np.ndarray:
        """(T, J, 3) joint positions, metres: forward kinematics of the rotations on the body."""
        return self.kinematics()[1]

    def kinematics(self) -> tuple[np.ndarray, np.ndarray]:
        """Global rotations (T, J, 3, 3) and joint positions (T, J, 3), in one pass."""
        translations = np.broadcast_to(self.body.offsets, self.rotations.shape[:2] + (3,)).copy()  # (T, J, 3)
        translations[:, 0] = self.root
        return forward_kinematics(HUMANML3D_SKELETON.parents, self.rotations, translations)

    def on_body(self, body: Body) -> "Animation":
        """The same rotations on `body`; the root path scaled by the ratio of leg lengths."""
        return Animation(self.root * (body.leg_length() / self.body.leg_length()), self.rotations, body)


def animate(positions: np.ndarray, reference_frames: np.ndarray | None = None) -> Animation:
    """The animation whose forward kinematics reproduces `positions` (T, J, 3) metres.

    The body is measured on `reference_frames` (T,) bool (default: all frames), e.g. the frames
    of an edit kept from a real clip, so that those come back exactly.
    """
    positions = np.asarray(positions, dtype=np.float64)
    use = positions if reference_frames is None or not np.any(reference_frames) else positions[reference_frames]
    body = Body(rest_offsets_from_motion(use, HUMANML3D_SKELETON))
    global_rotations = solve_global_rotations(positions, body.offsets, HUMANML3D_SKELETON)  # (T, J, 3, 3)
    return Animation(positions[:, 0].copy(), local_from_global(global_rotations, HUMANML3D_SKELETON.parents), body)


def rigid_joints(positions: np.ndarray) -> np.ndarray:
    """(T, J, 3) the motion on one body: every bone at its median length, every direction kept."""
    return animate(positions).joints()


def rest_offsets_from_motion(positions: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """(J, 3) rest offsets of each joint relative to its parent (see the module docstring)."""
    directions = rest_directions(skeleton)  # (J, 3)
    offsets = np.zeros((skeleton.n_joints, 3))
    for joint, children in enumerate(skeleton.children):
        bones = positions[:, children] - positions[:, joint, None]  # (T, K, 3)
        if len(children) == 1:
            length = np.median(np.linalg.norm(bones[:, 0], axis=-1))
            offsets[children[0]] = directions[children[0]] / np.linalg.norm(directions[children[0]]) * length
        elif len(children) > 1:
            frames = _body_frames(bones, [directions[c] for c in children])  # (T, 3, 3)
            local = np.einsum("tba,tkb->tka", frames, bones)  # (T, K, 3) bones in the body frame
            offsets[list(children)] = local.mean(axis=0)
    return offsets


def rest_directions(skeleton: Skeleton) -> np.ndarray:
    """(J, 3) rest direction of each bone: HumanML3D's raw offsets with REST_DIRECTION_OVERRIDES."""
    directions = skeleton.raw_offsets_array()  # (J, 3)
    for name, direction in REST_DIRECTION_OVERRIDES.items():
        if name in skeleton.joint_names:
            directions[skeleton.index(name)] = direction
    return directions


def solve_global_rotations(positions: np.ndarray, rest_offsets: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """(T, J, 3, 3) global rotations placing every child at its position from its rest offset."""
    n_frames = positions.shape[0]
    rotations = np.broadcast_to(np.eye(3), (n_frames, skeleton.n_joints, 3, 3)).copy()
    for joint in depth_first_order(skeleton):
        parent = skeleton.parents[joint]
        parent_rotation = rotations[:, parent] if parent >= 0 else np.broadcast_to(np.eye(3), (n_frames, 3, 3))
        children = skeleton.children[joint]
        bones = positions[:, children] - positions[:, joint, None]  # (T, K, 3)
        if len(children) == 0:
            rotations[:, joint] = parent_rotation
        elif len(children) == 1:
            in_parent = np.einsum("tba,tb->ta", parent_rotation, bones[:, 0])  # (T, 3)
            swing = swing_rotations(rest_offsets[children[0]], in_parent)  # (T, 3, 3)
            rotations[:, joint] = parent_rotation @ continuous_twist(swing, rest_offsets[children[0]])
        else:
            rotations[:, joint] = kabsch_rotations(rest_offsets[list(children)], bones)
    return rotations


def local_from_global(global_rotations: np.ndarray, parents: tuple[int, ...]) -> np.ndarray:
    """(T, J, 3, 3) rotations relative to the parent: L_j = R_parent^T @ R_j."""
    local = global_rotations.copy()
    for joint, parent in enumerate(parents):
        if parent >= 0:
            local[:, joint] = np.swapaxes(global_rotations[:, parent], -1, -2) @ global_rotations[:, joint]
    return local


def swing_rotations(rest: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(T, 3, 3) shortest rotations turning the direction `rest` (3,) onto each of `targets` (T, 3)."""
    a = rest / np.linalg.norm(rest)
    b = targets / np.maximum(np.linalg.norm(targets, axis=-1, keepdims=True), 1e-12)  # (T, 3)
    axis = np.cross(a, b)  # (T, 3), |axis| = sin(angle)
    cosine = b @ a  # (T,)
    cross_matrix = _cross_matrices(axis)  # (T, 3, 3)
    opposite = cosine < -1 + 1e-9
    denominator = np.where(opposite, 1.0, 1.0 + cosine)[:, None, None]
    rotations = np.eye(3) + cross_matrix + cross_matrix @ cross_matrix / denominator
    if opposite.any():
        # Half turn about any axis perpendicular to `rest`: the direction is all that is defined.
        helper = np.eye(3)[np.argmin(np.abs(a))]
        perpendicular = np.cross(a, helper)
        perpendicular /= np.linalg.norm(perpendicular)
        rotations[opposite] = 2 * np.outer(perpendicular, perpendicular) - np.eye(3)
    return rotations


def continuous_twist(swings: np.ndarray, axis: np.ndarray, relax: float = TWIST_RELAX_PER_FRAME) -> np.ndarray:
    """(T, 3, 3) local rotations: each swing (T, 3, 3) turned about the bone's rest `axis` (3,) so
    that it stays close to the previous frame's rotation.

    A pure swing from the rest direction is undefined where the bone points opposite to its
    rest direction (an arm raised straight up) and rolls by up to 180 degrees in one frame
    there. A twist about the rest axis moves no joint, so it is free to choose: each frame
    keeps the previous frame's roll and lets it relax back to the plain swing by `relax`:
    roll_t = (1 - relax) * (roll_{t-1} + step_t), where step_t is the roll of swing_{t-1}
    seen from swing_t. That recurrence is a first-order filter, run without a Python loop.
    """
    axis = axis / np.linalg.norm(axis)
    between = matrix_to_quat(np.swapaxes(swings[1:], -1, -2) @ swings[:-1])  # (T-1, 4), w >= 0
    step = 2.0 * np.arctan2(between[:, 1:] @ axis, between[:, 0])  # (T-1,) radians
    keep = 1.0 - relax
    roll = np.concatenate([[0.0], _leaky_sum(step, keep)])  # (T,)
    return swings @ quat_to_matrix(quat_from_axis_angle(axis, roll))


def _leaky_sum(values: np.ndarray, keep: float) -> np.ndarray:
    """y[n] = keep * (x[n] + y[n-1]): a running sum that forgets (1 - keep) per step."""
    out, total = np.empty_like(values), 0.0
    for n, value in enumerate(values):
        total = keep * (value + total)
        out[n] = total
    return out


def kabsch_rotations(rest: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(T, 3, 3) rotations R minimising sum_k |R @ rest_k - target_k|^2; rest (K, 3), targets (T, K, 3)."""
    covariance = np.einsum("ka,tkb->tab", rest, targets)  # (T, 3, 3)
    u, _, vt = np.linalg.svd(covariance)
    v = np.swapaxes(vt, -1, -2)
    sign = np.sign(np.linalg.det(v @ np.swapaxes(u, -1, -2)))  # (T,) -1 where a reflection fits better
    correction = np.broadcast_to(np.eye(3), covariance.shape).copy()
    correction[:, 2, 2] = np.where(sign == 0, 1.0, sign)
    return v @ correction @ np.swapaxes(u, -1, -2)


def depth_first_order(skeleton: Skeleton) -> list[int]:
    """Joint indices in BVH order: depth first from the root, children by index."""
    order, stack = [], [skeleton.parents.index(-1)]
    while stack:
        joint = stack.pop()
        order.append(joint)
        stack.extend(reversed(skeleton.children[joint]))
    return order


def _body_frames(bones: np.ndarray, child_directions: list[np.ndarray]) -> np.ndarray:
    """(T, 3, 3) frames with columns (left, up, forward) from the children's bones (T, K, 3).

    Left-right runs from the child whose rest direction is -X to the one at +X; up is the
    child at +Y, made orthogonal to left-right.
    """
    def child_along(direction) -> int:
        matches = [k for k, d in enumerate(child_directions) if np.allclose(d / np.linalg.norm(d), direction)]
        if not matches:
            raise ValueError(f"a joint with several children needs children with rest directions +X, -X and +Y; got {child_directions}")
        return matches[0]

    left = bones[:, child_along((1, 0, 0))] - bones[:, child_along((-1, 0, 0))]  # (T, 3)
    up = bones[:, child_along((0, 1, 0))]  # (T, 3)
    x = left / np.linalg.norm(left, axis=-1, keepdims=True)
    z = np.cross(x, up)
    z /= np.linalg.norm(z, axis=-1, keepdims=True)
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=-1)  # (T, 3, 3)


def _cross_matrices(vectors: np.ndarray) -> np.ndarray:
    """(T, 3, 3) matrices [v]x with [v]x @ w = v x w, from (T, 3)."""
    x, y, z = vectors[:, 0], vectors[:, 1], vectors[:, 2]
    zero = np.zeros_like(x)
    return np.stack([np.stack([zero, -z, y], -1), np.stack([z, zero, -x], -1), np.stack([-y, x, zero], -1)], axis=-2)


