"""The side a prompt names for a hand or a leg, the side a motion moves, and the mirror that makes
them agree.

The sentence encoder hears "left" and "right" as almost the same word, so the model moves the
named hand or leg only most of the time (bench/text.py: 0.94). The training data holds every clip
and its mirror image, so the mirror image of a motion that moved the other side is as likely a
motion as the one generated: `composition.on_named_side` returns it instead. Which side moves is
the one whose wrist (hand) or ankle (leg) travels further in the world; on the 2,540 real clips of
one sided action in the dataset it names the labelled side every time (`python bench/text.py`
prints that check), where travel against the chest called 44 of 48 real put-down clips the wrong
side.
"""

import re

import numpy as np

from keymask.core.features import joints_to_features, recover_from_ric
from keymask.core.generation.known_actions import named_side
from keymask.core.kinematics import mirror_joints
from keymask.core.skeleton import HUMANML3D_SKELETON

LIMB_ENDS = {"hand": ("left_wrist", "right_wrist"), "leg": ("left_ankle", "right_ankle")}
_LIMB_WORDS = {
    "hand": r"hands?|arms?|wrists?|fists?|palms?|elbows?|fingers?",
    "leg": r"legs?|feet|foot|knees?|ankles?|heels?|toes?|shins?|thighs?",
}
# A side, up to two words, then a limb: "left hand", "right front foot", "left outstretched arm".
_SIDE_THEN_LIMB = {limb: re.compile(rf"\b(?:left|right)\s+(?:[a-z'-]+\s+){{0,2}}?(?:{words})\b", re.IGNORECASE)
                   for limb, words in _LIMB_WORDS.items()}


def named_limb(prompt: str) -> tuple[str, str] | None:
    """('left' or 'right', 'hand' or 'leg') when the prompt names one side, for a hand (arm) or a
    leg (foot); None otherwise ("turns left", both sides, no side, both a hand and a leg)."""
    side = named_side(prompt)
    if side is None:
        return None
    limbs = [limb for limb, pattern in _SIDE_THEN_LIMB.items() if pattern.search(prompt)]
    return (side, limbs[0]) if len(limbs) == 1 else None


def side_that_moves(joints: np.ndarray, limb: str) -> str:
    """'left' or 'right': the side whose wrist (limb 'hand') or ankle ('leg') travels further in
    the world over joints (T, 22, 3)."""
    left, right = (HUMANML3D_SKELETON.index(name) for name in LIMB_ENDS[limb])
    travel = np.linalg.norm(np.diff(joints[:, [left, right]], axis=0), axis=-1).sum(axis=0)  # (2,) metres
    return "left" if travel[0] > travel[1] else "right"


def mirrored_features(features: np.ndarray) -> np.ndarray:
    """(T, D) un-normalised features of the left-right mirror image of the motion they describe, as
    the dataset computes them from joints (fitted to the skeleton's bone lengths, so the decoder's
    per-joint wobble is not kept)."""
    joints = mirror_joints(recover_from_ric(features))  # (T, 22, 3)
    mirrored = joints_to_features(joints)  # (T - 1, D): the last frame has no velocity of its own
    return np.concatenate([mirrored, mirrored[-1:]]).astype(features.dtype)


def needs_mirror(prompt: str, joints: np.ndarray) -> bool:
    """True when the prompt names a side for a hand or a leg and the motion moves the other side's."""
    named = named_limb(prompt)
    return named is not None and len(joints) > 1 and side_that_moves(joints, named[1]) != named[0]
