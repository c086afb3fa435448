"""Joint positions of the 22-joint HumanML3D skeleton -> a BVH motion (and back, by FK).

Axes: input and output are Y up, the rest pose faces +Z with its left at +X (as skeleton.py).
Units: input positions in metres; the BVH is written in metres or centimetres (`units`).
Rotation convention: rotation channels are intrinsic in `rotation_order` (see format.py);
only the root (pelvis) has position channels, and its OFFSET is zero so that readers that add
the OFFSET to the root position and readers that do not agree.

Rest skeleton: each single-child joint's child sits along its HumanML3D rest direction
(skeleton.raw_offsets, but the head above the neck) at the motion's median bone length. For joints with several children
(pelvis: hips + spine1; spine3: neck + collars) the children's rest offsets are their average
positions in a body frame built from the joint's left-right and up children, so one rotation
can place all of them exactly. Rotations: a multi-child joint is solved by Kabsch over its
children; a single-child joint takes the shortest swing from its rest direction to the actual
bone direction, relative to its parent's global rotation.
"""

import numpy as np

from ..rotations import matrix_to_quat, quat_from_axis_angle, quat_to_matrix
from ..skeleton import HUMANML3D_SKELETON, Skeleton
from .format import POSITION_CHANNELS, BvhJoint, BvhMotion, BvhSkeleton
from .kinematics import joint_positions, matrices_to_euler

UNIT_SCALES = {"m": 1.0, "cm": 100.0}  # file units per metre
END_SITE_FRACTION = 0.5  # a leaf's End Site continues its bone by this fraction of its length
# HumanML3D's raw offsets point the head forward (+Z) from the neck; a real head sits above it,
# and the forward rest direction would hold the neck at a 90-degree X rotation, the gimbal lock
# of the default ZXY order, where the Euler curves jump from frame to frame.
REST_DIRECTION_OVERRIDES = {"head": (0.0, 1.0, 0.0)}
TWIST_RELAX_PER_FRAME = 0.05  # how fast a bone's carried-over roll returns to the plain swing


def joints_to_bvh(
    positions: np.ndarray,
    *,
    fps: float = 20,
    units: str = "m",
    rotation_order: str = "ZXY",
    skeleton: Skeleton = HUMANML3D_SKELETON,
    reference_frames: np.ndarray | None = None,
) -> BvhMotion:
    """A BVH motion whose forward kinematics reproduces `positions` (T, J, 3) metres.

    reference_frames (T,) bool: the frames the rest skeleton is measured on (default: all), e.g.
    the frames of an edit that were kept from a real clip, so that those come back exactly.
    """
    # 1. Check the inputs.
    positions = _checked_positions(positions, skeleton)
    scale = _unit_scale(units)
    order = _checked_rotation_order(rotation_order)
    scaled = positions * scale  # (T, J, 3) file units

    # 2. Rest skeleton and global rotations that reproduce the positions.
    reference = scaled if reference_frames is None or not np.any(reference_frames) else scaled[reference_frames]
    rest_offsets = rest_offsets_from_motion(reference, skeleton)  # (J, 3)
    global_rotations = solve_global_rotations(scaled, rest_offsets, skeleton)  # (T, J, 3, 3)

    # 3. Local rotations as continuous Euler angles.
    local = local_from_global(global_rotations, skeleton.parents)  # (T, J, 3, 3)
    angles = continuous_euler(matrices_to_euler(local, order))  # (T, J, 3) degrees

    # 4. BVH joints in depth-first order, frames as raw channel values.
    order_dfs = depth_first_order(skeleton)
    bvh_skeleton = _bvh_skeleton(skeleton, rest_offsets, order, order_dfs)
    frames = _frames(scaled[:, order_dfs[0]], angles, order_dfs)  # (T, C)
    return BvhMotion(skeleton=bvh_skeleton, frame_time=1.0 / fps, frames=frames)


def bvh_to_joints(motion: BvhMotion, *, units: str = "m", skeleton: Skeleton = HUMANML3D_SKELETON) -> np.ndarray:
    """(T, J, 3) metres in `skeleton` joint order, by FK of a BVH with the same joint names."""
    positions = joint_positions(motion)  # (T, J_bvh, 3) file units
    columns = [motion.skeleton.index(name) for name in skeleton.joint_names]
    return positions[:, columns] / _unit_scale(units)


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


def continuous_euler(angles: np.ndarray) -> np.ndarray:
    """(T, ..., 3) Euler angles (3 distinct axes) made continuous over time.

    Each frame takes whichever of its two equivalent solutions, (a, b, c) or
    (a + 180, 180 - b, c + 180), lies closest to the solution taken at the previous frame, then
    every angle is shifted by whole turns towards its previous value. The closeness of every
    pair of solutions is computed at once; only the walk through the chosen states is a loop.
    """
    candidates = np.stack([angles, angles * np.array([1.0, -1.0, 1.0]) + 180.0], axis=1)  # (T, 2, ..., 3)
    step = candidates[1:, :, None] - candidates[:-1, None, :]  # (T-1, 2 now, 2 before, ..., 3)
    distance = np.abs((step + 180.0) % 360.0 - 180.0).sum(-1)  # (T-1, 2, 2, ...)
    best_now = distance.argmin(axis=1)  # (T-1, 2 before, ...): the closer solution after each state
    state = np.zeros(angles.shape[1:-1], dtype=int)  # (...)
    states = [state]
    for choices in best_now:
        state = np.take_along_axis(choices, state[None], axis=0)[0]
        states.append(state)
    chosen = np.take_along_axis(candidates, np.stack(states)[:, None, ..., None], axis=1)[:, 0]  # (T, ..., 3)
    return np.unwrap(chosen, period=360.0, axis=0)


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


def _bvh_skeleton(skeleton: Skeleton, rest_offsets: np.ndarray, order: str, order_dfs: list[int]) -> BvhSkeleton:
    rotation_channels = tuple(f"{axis}rotation" for axis in order)
    position_in_file = {joint: i for i, joint in enumerate(order_dfs)}
    joints = []
    for joint in order_dfs:
        parent = skeleton.parents[joint]
        is_root = parent < 0
        end_site = None
        if not skeleton.children[joint]:
            end_site = tuple(float(v) for v in rest_offsets[joint] * END_SITE_FRACTION)
        joints.append(
            BvhJoint(
                name=skeleton.joint_names[joint],
                parent=-1 if is_root else position_in_file[parent],
                offset=(0.0, 0.0, 0.0) if is_root else tuple(float(v) for v in rest_offsets[joint]),
                channels=(POSITION_CHANNELS + rotation_channels) if is_root else rotation_channels,
                end_site=end_site,
            )
        )
    return BvhSkeleton(tuple(joints))


def _frames(root_positions: np.ndarray, angles: np.ndarray, order_dfs: list[int]) -> np.ndarray:
    """(T, 3 + 3J) root position then each joint's angles, joints in file order."""
    return np.concatenate([root_positions, angles[:, order_dfs].reshape(len(angles), -1)], axis=1)


def _checked_positions(positions: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    positions = np.asarray(positions, dtype=np.float64)
    if positions.ndim != 3 or positions.shape[1:] != (skeleton.n_joints, 3) or positions.shape[0] == 0:
        raise ValueError(f"positions must have shape (T, {skeleton.n_joints}, 3) with T >= 1, got {positions.shape}")
    if not np.isfinite(positions).all():
        raise ValueError("positions contain NaN or infinite values")
    return positions


def _unit_scale(units: str) -> float:
    if units not in UNIT_SCALES:
        raise ValueError(f"units must be one of {sorted(UNIT_SCALES)}, got {units!r}")
    return UNIT_SCALES[units]


def _checked_rotation_order(rotation_order: str) -> str:
    order = rotation_order.upper()
    if sorted(order) != ["X", "Y", "Z"]:
        raise ValueError(f"rotation_order must be a permutation of XYZ such as 'ZXY', got {rotation_order!r}")
    return order
