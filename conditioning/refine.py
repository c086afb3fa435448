"""Make a decoded motion pass exactly through its key poses, in joint-rotation space.

Fixed tokens bring the motion near each key pose; the decoder's output still differs by a few
centimetres. Refinement works on the motion's Animation (core/animation.py: root path + local
joint rotations on one body), so every bone keeps its length in every frame:

1. Placing (`place_key`): the key pose's bone directions become rotations on the motion's body,
   each bone turned by the shortest arc from where the motion has it at that frame (so its roll
   follows the motion's). Where it sits in the world:
   - "body" (default): only the pose counts. It is turned to the motion's own facing at that
     frame and put where the motion's pelvis is, at the height that keeps its lowest joint at
     the motion's lowest joint in that frame (a crouch sinks, it does not float);
   - "root": the key's own root position and facing (relative to the motion's start: origin, +Z).
2. Timing (`KeyTiming`): the pose is reached at its frame and held for `hold` frames; the motion
   turns towards it over `ease_in` frames before and away over `ease_out` frames after, with a
   cos^2 weight (zero slope at both ends). Eases stop at the neighbouring keys, so every key is
   hit exactly.
3. Blending: each joint's local rotation L(t) becomes L(t) @ D^w(t), where D = L(c)^-1 @ L_key
   is the rotation still missing at the nearest frame c of the key's span, in the joint's own
   frame, and D^w its fraction w (same axis, w times the angle). The root path moves by w times
   the missing offset (only in height for "body" keys on a drawn root path, which owns x and z).
All functions are pure; joint positions are (T, J, 3) metres, Y up.
"""

from dataclasses import dataclass

import numpy as np

from keymask.conditioning.poses import KeyPose3D
from keymask.core.animation import (
    Animation,
    Body,
    animate,
    depth_first_order,
    kabsch_rotations,
    local_from_global,
    swing_rotations,
)
from keymask.core.facing import body_heading, canonical_pose
from keymask.core.rotations import matrix_to_quat, quat_from_axis_angle, quat_to_matrix, rotate_about_y
from keymask.core.skeleton import HUMANML3D_SKELETON
from keymask.core.spec import HUMANML3D

CONSTRAINTS = ("body", "root")


def _subtree_sizes() -> tuple[int, ...]:
    sizes = [1] * HUMANML3D_SKELETON.n_joints
    for joint in reversed(depth_first_order(HUMANML3D_SKELETON)):
        parent = HUMANML3D_SKELETON.parents[joint]
        if parent >= 0:
            sizes[parent] += sizes[joint]
    return tuple(sizes)


SUBTREE_SIZES = _subtree_sizes()  # joints in each joint's subtree, itself included
POSED_BONES = tuple(c for c, p in enumerate(HUMANML3D_SKELETON.parents)
                    if p >= 0 and len(HUMANML3D_SKELETON.children[p]) == 1)  # bones a joint's rotation aims
DEFAULT_EASE = 15  # frames of easing on either side of a key (0.75 s at 20 fps)


@dataclass(frozen=True)
class KeyTiming:
    hold: int = 0  # frames the pose is held after its frame
    ease_in: int = DEFAULT_EASE  # frames over which the motion turns towards the pose
    ease_out: int = DEFAULT_EASE  # frames over which it turns back to its own motion


@dataclass(frozen=True)
class PoseTarget:
    root: np.ndarray  # (3,) pelvis position, metres
    rotations: np.ndarray  # (J, 3, 3) local rotations on the motion's body


@dataclass(frozen=True)
class PlacedKey:
    frame: int
    target: PoseTarget
    timing: KeyTiming = KeyTiming()
    holds_floor_position: bool = True  # False: the pelvis keeps the motion's own x, z (a root path owns them)

    @property
    def end(self) -> int:
        return self.frame + self.timing.hold


def heading(pose: np.ndarray) -> float:
    """Facing angle about +Y (radians, 0 = +Z) of one pose (J, 3), from its hips and shoulders."""
    return float(body_heading(pose))


def with_bone_lengths(pose: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(J, 3) `pose` with each bone's direction kept and its length taken from `reference` (J, 3)."""
    out = np.array(pose, dtype=np.float64)
    for child, parent in enumerate(HUMANML3D_SKELETON.parents):
        if parent < 0:
            continue
        bone = pose[child] - pose[parent]
        length = np.linalg.norm(reference[child] - reference[parent])
        out[child] = out[parent] + bone / max(np.linalg.norm(bone), 1e-9) * length
    return out


def pose_error(pose: np.ndarray, target: np.ndarray) -> float:
    """Mean joint distance (m) between two poses (J, 3) once both pelvises are at the origin and
    `pose` is turned about +Y to face the way that fits `target` best: the body-only error."""
    a = np.asarray(pose, dtype=np.float64) - pose[0]
    b = np.asarray(target, dtype=np.float64) - target[0]
    angle = np.arctan2((b[:, 0] * a[:, 2] - b[:, 2] * a[:, 0]).sum(), (b[:, 0] * a[:, 0] + b[:, 2] * a[:, 2]).sum())
    return float(np.linalg.norm(rotate_about_y(a, angle) - b, axis=-1).mean())


def bone_direction_error(pose: np.ndarray, target: np.ndarray) -> float:
    """Mean angle (degrees) between the limb and spine bones of two poses (J, 3), once `pose` is
    turned about +Y to fit the target's bone directions best: the key error that does not depend
    on proportions. The bones from the pelvis to the hips and spine, and from the chest to the
    neck and collars, are left out: their angles to each other are the body's build (hip width,
    shoulder height), not its pose."""
    children = np.array(POSED_BONES)
    parents = np.array([HUMANML3D_SKELETON.parents[c] for c in children])

    def unit_bones(joints):
        bones = np.asarray(joints, dtype=np.float64)[children] - np.asarray(joints, dtype=np.float64)[parents]
        return bones / np.linalg.norm(bones, axis=-1, keepdims=True)  # (B, 3)

    a, b = unit_bones(pose), unit_bones(target)
    angle = np.arctan2((b[:, 0] * a[:, 2] - b[:, 2] * a[:, 0]).sum(), (b[:, 0] * a[:, 0] + b[:, 2] * a[:, 2]).sum())
    cosine = (rotate_about_y(a, angle) * b).sum(-1)
    return float(np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))).mean())


def place_key_pose(key: KeyPose3D, motion_frame: np.ndarray, constrain: str = "body") -> np.ndarray:
    """World positions (J, 3) of `key` at a frame whose pose is `motion_frame` (J, 3), with the
    motion's bone lengths: the ghost the studio draws where refinement puts the key."""
    animation = animate(np.asarray(motion_frame, dtype=np.float64)[None])
    placed = place_key(key, animation, 0, constrain)
    return Animation(placed.root[None], placed.rotations[None], animation.body).joints()[0]


def place_key(key: KeyPose3D, animation: Animation, frame: int, constrain: str = "body") -> PoseTarget:
    """Where the motion must be at `frame` to show `key` on its body (see the module docstring, 1)."""
    if constrain not in CONSTRAINTS:
        raise ValueError(f"A key pose constrains {' or '.join(CONSTRAINTS)}, not {constrain!r}.")
    at_frame = Animation(animation.root[frame:frame + 1], animation.rotations[frame:frame + 1], animation.body)
    global_rotations, joints = (array[0] for array in at_frame.kinematics())  # (J, 3, 3), (J, 3)
    pose = canonical_pose(key.joints)
    if constrain == "root" and key.root_position is not None:
        angle = key.facing if key.facing is not None else heading(joints)
        rotations = pose_rotations(rotate_about_y(pose, angle), global_rotations, animation.body)
        return PoseTarget(np.asarray(key.root_position, dtype=np.float64), rotations)
    rotations = pose_rotations(rotate_about_y(pose, heading(joints)), global_rotations, animation.body)
    posed = Animation(np.zeros((1, 3)), rotations[None], animation.body).joints()[0]  # (J, 3), pelvis at 0
    root = joints[0].copy()
    root[1] = joints[:, 1].min() - posed[:, 1].min()  # lowest joint where the motion's is
    return PoseTarget(root, rotations)


def pose_rotations(pose: np.ndarray, reference: np.ndarray, body: Body) -> np.ndarray:
    """(J, 3, 3) local rotations pointing every bone of `body` along the bones of `pose` (J, 3).

    A joint with several children is fitted by Kabsch, each child weighted by the joints that hang
    from it (a real actor's spine base moves against the hips, which one rigid pelvis cannot
    follow; the weights put the residual where fewer joints feel it); a joint with one child turns by the
    shortest arc from its `reference` global rotation (J, 3, 3), so its roll stays the motion's.
    """
    skeleton = HUMANML3D_SKELETON
    global_rotations = np.array(reference, dtype=np.float64)  # (J, 3, 3), filled parent first
    reference_local = local_from_global(reference[None], skeleton.parents)[0]
    for joint in depth_first_order(skeleton):
        parent = skeleton.parents[joint]
        kept = reference_local[joint] if parent < 0 else global_rotations[parent] @ reference_local[joint]
        children = skeleton.children[joint]
        if not children:
            global_rotations[joint] = kept
        elif len(children) == 1:
            bone = pose[children[0]] - pose[joint]
            now = kept @ body.offsets[children[0]]
            global_rotations[joint] = swing_rotations(now, bone[None])[0] @ kept
        else:
            bones = pose[list(children)] - pose[joint]  # (K, 3)
            weights = np.array([SUBTREE_SIZES[c] for c in children], dtype=np.float64)[:, None]  # (K, 1)
            global_rotations[joint] = kabsch_rotations(body.offsets[list(children)] * weights, bones[None])[0]
    return local_from_global(global_rotations[None], skeleton.parents)[0]


def key_weights(keys: list[PlacedKey], n_frames: int) -> np.ndarray:
    """(T, K) weight of each key at each frame: 1 over its span, cos^2 eases clipped at the neighbours."""
    t = np.arange(n_frames)
    weights = np.zeros((n_frames, len(keys)))
    for k, key in enumerate(keys):
        before = key.frame - (keys[k - 1].end if k > 0 else -10**9)
        after = (keys[k + 1].frame if k + 1 < len(keys) else 10**9) - key.end
        ease_in, ease_out = min(key.timing.ease_in, before), min(key.timing.ease_out, after)
        distance = np.where(t < key.frame, (key.frame - t) / max(ease_in, 1e-9),
                            np.where(t > key.end, (t - key.end) / max(ease_out, 1e-9), 0.0))
        weights[:, k] = np.where(distance < 1.0, np.cos(0.5 * np.pi * np.clip(distance, 0.0, 1.0)) ** 2, 0.0)
    return weights


def refine_animation(animation: Animation, keys: list[PlacedKey]) -> Animation:
    """The animation changed so that it shows every key's target over the key's span, exactly."""
    if not keys:
        return animation
    keys = sorted(keys, key=lambda k: k.frame)
    n_frames = animation.n_frames
    weights = key_weights(keys, n_frames)  # (T, K)
    rotations = animation.rotations.copy()  # (T, J, 3, 3)
    root = animation.root.copy()  # (T, 3)
    t = np.arange(n_frames)
    for k, key in enumerate(keys):
        nearest = np.clip(t, key.frame, min(key.end, n_frames - 1))  # (T,) frame of the span each frame eases from
        missing = np.swapaxes(animation.rotations[nearest], -1, -2) @ key.target.rotations  # (T, J, 3, 3)
        rotations = rotations @ rotation_power(missing, weights[:, k, None])
        missing_root = key.target.root - animation.root[nearest]  # (T, 3)
        if not key.holds_floor_position:
            missing_root[:, [0, 2]] = 0.0
        root = root + weights[:, k, None] * missing_root
    return Animation(root, rotations, animation.body)


def rotation_power(rotations: np.ndarray, fraction: np.ndarray) -> np.ndarray:
    """(..., 3, 3) each rotation's `fraction` (broadcast to (...)): same axis, that share of its angle."""
    quats = matrix_to_quat(rotations)  # (..., 4), w >= 0
    sine = np.linalg.norm(quats[..., 1:], axis=-1)  # (...)
    angle = 2.0 * np.arctan2(sine, quats[..., 0])
    axis = quats[..., 1:] / np.maximum(sine, 1e-12)[..., None]
    axis = np.where(sine[..., None] > 1e-12, axis, [1.0, 0.0, 0.0])
    return quat_to_matrix(quat_from_axis_angle(axis, angle * np.broadcast_to(fraction, angle.shape)))


def refine_to_keys(joints: np.ndarray, keys: list[tuple[int, KeyPose3D, str, KeyTiming]],
                   body: Body | None = None, path=None, fps: float = HUMANML3D.fps) -> np.ndarray:
    """(T, J, 3) the motion through its keys (frame, pose, constrain, timing), rigid on `body`
    (default: the motion's own median bone lengths), its pelvis on `path` (paths.RootPath) first."""
    animation = animate(joints)
    if body is not None:
        animation = animation.on_body(body)
    if path is not None:
        from keymask.conditioning.paths import follow_path

        animation = animate(follow_path(animation, path, fps))
    placed = [PlacedKey(frame, place_key(pose, animation, frame, constrain), timing,
                        holds_floor_position=path is None or constrain == "root")
              for frame, pose, constrain, timing in keys]
    return refine_animation(animation, placed).joints()
