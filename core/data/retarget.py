"""Bandai Namco BVH clips -> the 22 joints of the HumanML3D skeleton, resampled to 20 fps.

Input axes and units: the Bandai files are Y up, centimetres, 30 fps, rotations intrinsic in
channel order (Zrotation Xrotation Yrotation). Output: (T', 22, 3) metres, Y up, in
skeleton.py's joint order, not yet canonicalised (the clip keeps its own start and facing).
Left and right: Bandai's `_L` joints are the actor's left (checked on walking clips: the
vector from UpperLeg_R to UpperLeg_L equals up x walking direction, HumanML3D's +X when
facing +Z).

This is the general mocap importer (core/mocap/importer.py) with the Bandai joint table
(core/mocap/joint_names.py), centimetres and Y up stated rather than detected: it
interpolates each joint's local rotation (slerp) and the translations (linearly), then runs
FK, so bones keep their lengths. spine2 lies halfway from Spine to Chest, fixed in Spine's
frame (Chest is Spine's child).
"""

import numpy as np

from ..bvh.format import BvhMotion
from ..errors import KeyMaskError
from ..mocap.importer import bvh_motion_to_joints
from ..mocap.joint_names import BANDAI

BANDAI_UNITS_PER_METRE = 100.0


class NotBandaiSkeletonError(KeyMaskError, ValueError):
    """The BVH skeleton lacks joints that the Bandai -> HumanML3D mapping needs."""


def bandai_to_humanml3d(motion: BvhMotion, *, fps: float = 20) -> np.ndarray:
    """(T', 22, 3) metres: the HumanML3D joints of a Bandai clip, resampled to `fps`."""
    names = motion.skeleton.names
    missing = sorted(name for name in BANDAI.source_names() if name not in names)
    if missing:
        raise NotBandaiSkeletonError(
            f"not a Bandai-style skeleton: joints {missing} are missing (it has {list(names)})"
        )
    return bvh_motion_to_joints(motion, table=BANDAI, units=1.0 / BANDAI_UNITS_PER_METRE, up="+y", fps=fps)
