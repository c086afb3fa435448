"""BVH files <-> (T, 22, 3) joint positions, for the skeletons we know.

Reading accepts a KeyMask BVH (our 22 HumanML3D joint names; metres or centimetres, told apart
by the leg length) or a Bandai Namco clip (retargeted). Output joints are metres, Y up.
"""

from pathlib import Path

import numpy as np

from keymask.core.bvh.format import BvhMotion
from keymask.core.bvh.from_joints import bvh_to_joints, joints_to_bvh
from keymask.core.bvh.reader import read_bvh
from keymask.core.bvh.writer import write_bvh
from keymask.core.errors import KeyMaskError
from keymask.core.skeleton import HUMANML3D_SKELETON
from keymask.core.spec import HUMANML3D


class JointsFormatError(KeyMaskError, ValueError):
    """Joint positions that cannot be a motion of our skeleton."""


def check_joints(joints: np.ndarray, source: str = "the joints") -> np.ndarray:
    """(T, 22, 3) finite float64 positions, or a JointsFormatError naming what is wrong."""
    joints = np.asarray(joints)
    expected = (HUMANML3D_SKELETON.n_joints, 3)
    if joints.ndim != 3 or joints.shape[1:] != expected:
        raise JointsFormatError(f"{source} has shape {joints.shape}; expected (frames, 22, 3) joint positions in metres.")
    if len(joints) < 1:
        raise JointsFormatError(f"{source} has no frames.")
    if not np.issubdtype(joints.dtype, np.number) or not np.isfinite(joints).all():
        raise JointsFormatError(f"{source} contains non-numeric, NaN or infinite values.")
    return joints.astype(np.float64)


def _guess_units(motion: BvhMotion) -> str:
    """'cm' when the left leg (hip to ankle) is longer than 5 file units, else 'm'."""
    names = motion.skeleton.names
    offsets = motion.skeleton.offsets_array()
    leg = sum(np.linalg.norm(offsets[names.index(n)]) for n in ("left_knee", "left_ankle"))
    return "cm" if leg > 5.0 else "m"


def motion_to_joints(motion: BvhMotion, fps: float = HUMANML3D.fps) -> np.ndarray:
    """(T, 22, 3) metres from a BVH motion: a KeyMask export, or any rig the mocap importer maps by
    joint names (Bandai, CMU, Mixamo, iClone; see core/mocap/joint_names.py)."""
    names = set(motion.skeleton.names)
    if set(HUMANML3D_SKELETON.joint_names) <= names:
        joints = bvh_to_joints(motion, units=_guess_units(motion))
        if abs(motion.fps - fps) > 1e-3:
            joints = resample_positions(joints, motion.fps, fps)
        return joints
    from keymask.core.mocap.importer import bvh_motion_to_joints  # SciPy, slow to load: only here
    from keymask.core.mocap.joint_names import UnknownSkeletonError

    try:
        return bvh_motion_to_joints(motion, fps=fps)
    except UnknownSkeletonError as error:
        raise JointsFormatError(str(error)) from None


def resample_positions(joints: np.ndarray, source_fps: float, target_fps: float) -> np.ndarray:
    """(T, J, 3) at source_fps -> (T', J, 3) at target_fps, linear in time, same duration."""
    duration = (len(joints) - 1) / source_fps
    times = np.arange(0.0, duration + 1e-9, 1.0 / target_fps) * source_fps  # (T',) in source frames
    low = np.floor(times).astype(int).clip(0, len(joints) - 1)
    high = (low + 1).clip(0, len(joints) - 1)
    weight = (times - low)[:, None, None]
    return joints[low] * (1.0 - weight) + joints[high] * weight


def bvh_file_to_joints(path: str | Path, fps: float = HUMANML3D.fps) -> np.ndarray:
    return motion_to_joints(read_bvh(path), fps=fps)


def joints_to_bvh_file(joints: np.ndarray, path: str | Path, *, fps: float = HUMANML3D.fps, units: str = "m",
                       rotation_order: str = "ZXY") -> None:
    """Write (T, 22, 3) metres as a BVH, atomically."""
    motion = joints_to_bvh(check_joints(joints, str(path)), fps=fps, units=units, rotation_order=rotation_order)
    write_bvh(path, motion)
