"""Two-action training motions made by joining real clips, so the model learns order and composition.

- In sequence: the second clip continues from where the first ends (turned about Y to the first's
  final facing, its pelvis moved onto the first's in the floor plane) with a short cross-fade.
- At once: the arms and head of a gesture clip ride on the body of a locomotion clip, each held in
  its own clip's body frame (pelvis and facing), so "walks forward and waves the right hand" walks.

Joints are (T, 22, 3) metres, Y up, as the build writes them; features are computed afterwards,
which puts every bone on the template skeleton again.
"""

import numpy as np

from keymask.core.kinematics import facing_angles
from keymask.core.rotations import rotate_about_y
from keymask.core.skeleton import HUMANML3D_SKELETON

# Joints taken from the gesture clip in a simultaneous composite: neck, head, collars and arms.
UPPER_BODY = tuple(HUMANML3D_SKELETON.index(n) for n in (
    "neck", "head", "left_collar", "right_collar", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist"))
SPINE_TOP = HUMANML3D_SKELETON.index("spine3")

LOCOMOTION = ("walk", "run", "walk-back", "walk-turn-left", "walk-turn-right", "walk-left", "walk-right", "sneak")
ARM_GESTURES = ("wave-left-hand", "wave-right-hand", "wave-both-hands", "raise-up-left-hand", "raise-up-right-hand",
                "raise-up-both-hands", "bye", "byebye", "call", "punch")


def _turned(joints: np.ndarray, angle: float, pivot: np.ndarray) -> np.ndarray:
    """joints (T, J, 3) turned by `angle` about the vertical line through pivot (3,)."""
    return rotate_about_y(joints - pivot, angle) + pivot


def join_in_sequence(first: np.ndarray, second: np.ndarray, blend: int = 6) -> np.ndarray:
    """(T1, J, 3), (T2, J, 3) -> (T1 + T2 - blend, J, 3): `second` carried on from `first`'s end."""
    blend = min(blend, len(first) - 1, len(second) - 1)
    start = len(first) - blend  # the overlap begins here in `first` and at frame 0 in `second`
    turn = facing_angles(first[start: start + 1])[0] - facing_angles(second[:1])[0]
    pelvis = second[0, 0] * np.array([1.0, 0.0, 1.0])
    moved = _turned(second, turn, pelvis)
    moved += (first[start, 0] - moved[0, 0]) * np.array([1.0, 0.0, 1.0])
    weights = (np.arange(1, blend + 1) / (blend + 1))[:, None, None]  # (blend, 1, 1)
    overlap = (1 - weights) * first[start:] + weights * moved[:blend]
    return np.concatenate([first[:start], overlap, moved[blend:]])


def join_at_once(body: np.ndarray, gesture: np.ndarray) -> np.ndarray:
    """(T, J, 3) `body` with the upper body of `gesture` (T', J, 3), for min(T, T') frames."""
    frames = min(len(body), len(gesture))
    body, gesture = body[:frames], gesture[:frames]
    body_heading, gesture_heading = facing_angles(body), facing_angles(gesture)  # (T,)
    out = body.copy()
    for t in range(frames):
        relative = gesture[t, UPPER_BODY] - gesture[t, SPINE_TOP]  # (U, 3) in the gesture's world frame
        out[t, UPPER_BODY] = rotate_about_y(relative, body_heading[t] - gesture_heading[t]) + body[t, SPINE_TOP]
    return out
