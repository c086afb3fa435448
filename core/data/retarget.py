"""Bandai Namco BVH clips -> the 22 joints of the HumanML3D skeleton, resampled to 20 fps.

Input axes and units: the Bandai files are Y up, centimetres, 30 fps, rotations intrinsic in
channel order (Zrotation Xrotation Yrotation). Output: (T', 22, 3) metres, Y up, in
skeleton.py's joint order, not yet canonicalised (the clip keeps its own start and facing).
Left and right: Bandai's `_L` joints are the actor's left (checked on walking clips: the
vector from UpperLeg_R to UpperLeg_L equals up x walking direction, HumanML3D's +X when
facing +Z).

Resampling interpolates each joint's local rotation (slerp) and the translations that carry
the motion (linearly), then runs FK, so bones keep their lengths; every other joint uses its
OFFSET (equal to its position channels in these files).
"""

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from ..bvh.format import BvhMotion
from ..bvh.kinematics import forward_kinematics, local_rotations, local_translations
from ..skeleton import HUMANML3D_SKELETON

BANDAI_UNITS_PER_METRE = 100.0
TRANSLATING_JOINTS = ("joint_Root", "Hips")  # their position channels carry the motion

# HumanML3D joint -> Bandai joint; spine2 is virtual (see VIRTUAL_SPINE2).
BANDAI_JOINT_FOR = {
    "pelvis": "Hips",
    "left_hip": "UpperLeg_L",
    "right_hip": "UpperLeg_R",
    "spine1": "Spine",
    "left_knee": "LowerLeg_L",
    "right_knee": "LowerLeg_R",
    "left_ankle": "Foot_L",
    "right_ankle": "Foot_R",
    "spine3": "Chest",
    "left_foot": "Toes_L",
    "right_foot": "Toes_R",
    "neck": "Neck",
    "left_collar": "Shoulder_L",
    "right_collar": "Shoulder_R",
    "head": "Head",
    "left_shoulder": "UpperArm_L",
    "right_shoulder": "UpperArm_R",
    "left_elbow": "LowerArm_L",
    "right_elbow": "LowerArm_R",
    "left_wrist": "Hand_L",
    "right_wrist": "Hand_R",
}
# spine2 is fixed in Spine's frame halfway along the Spine -> Chest offset, so it stays rigid.
VIRTUAL_SPINE2 = ("spine2", "Spine", "Chest", 0.5)


class NotBandaiSkeletonError(ValueError):
    """The BVH skeleton lacks joints that the Bandai -> HumanML3D mapping needs."""


def bandai_to_humanml3d(motion: BvhMotion, *, fps: float = 20) -> np.ndarray:
    """(T', 22, 3) metres: the HumanML3D joints of a Bandai clip, resampled to `fps`."""
    indices = bandai_joint_indices(motion)  # Bandai name -> index
    rotations = local_rotations(motion)  # (T, J, 3, 3)
    translations = rigid_local_translations(motion)  # (T, J, 3) cm
    times = resample_times(motion.n_frames, motion.frame_time, fps)  # (T',)
    rotations, translations = resample_locals(rotations, translations, motion.frame_time, times)
    global_rotations, positions = forward_kinematics(motion.skeleton.parents, rotations, translations)
    joints = humanml3d_joints(global_rotations, positions, translations, indices)  # (T', 22, 3) cm
    return joints / BANDAI_UNITS_PER_METRE


def bandai_joint_indices(motion: BvhMotion) -> dict[str, int]:
    """Index of every Bandai joint the mapping uses (the mapped ones and spine2's Spine and Chest)."""
    names = motion.skeleton.names
    needed = sorted(set(BANDAI_JOINT_FOR.values()) | {VIRTUAL_SPINE2[1], VIRTUAL_SPINE2[2]})
    missing = [name for name in needed if name not in names]
    if missing:
        raise NotBandaiSkeletonError(
            f"not a Bandai-style skeleton: joints {missing} are missing (it has {list(names)})"
        )
    return {name: names.index(name) for name in needed}


def rigid_local_translations(motion: BvhMotion) -> np.ndarray:
    """(T, J, 3) local translations: position channels for the translating joints, OFFSET elsewhere."""
    skeleton = motion.skeleton
    translations = np.broadcast_to(skeleton.offsets_array(), (motion.n_frames, skeleton.n_joints, 3)).copy()
    from_channels = local_translations(motion)  # (T, J, 3)
    for name in TRANSLATING_JOINTS:
        if name in skeleton.names:
            joint = skeleton.index(name)
            translations[:, joint] = from_channels[:, joint]
    return translations


def resample_times(n_frames: int, frame_time: float, fps: float) -> np.ndarray:
    """(T',) sample times in seconds at `fps` that stay within the clip."""
    duration = (n_frames - 1) * frame_time
    n_samples = int(np.floor(duration * fps + 1e-2)) + 1  # frame times are rounded in the files
    return np.arange(n_samples) / fps


def resample_locals(
    rotations: np.ndarray, translations: np.ndarray, frame_time: float, times: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Local (T', J, 3, 3) rotations by slerp and (T', J, 3) translations linearly, at `times`."""
    n_frames, n_joints = rotations.shape[:2]
    source_times = np.arange(n_frames) * frame_time
    times = np.clip(times, 0.0, source_times[-1])  # guard against rounding past the last frame
    if n_frames == 1:
        return np.repeat(rotations, len(times), axis=0), np.repeat(translations, len(times), axis=0)
    new_rotations = np.empty((len(times), n_joints, 3, 3))
    for joint in range(n_joints):
        slerp = Slerp(source_times, Rotation.from_matrix(rotations[:, joint]))
        new_rotations[:, joint] = slerp(times).as_matrix()
    new_translations = np.empty((len(times), n_joints, 3))
    for joint in range(n_joints):
        for axis in range(3):
            new_translations[:, joint, axis] = np.interp(times, source_times, translations[:, joint, axis])
    return new_rotations, new_translations


def humanml3d_joints(
    global_rotations: np.ndarray, positions: np.ndarray, translations: np.ndarray, indices: dict[str, int]
) -> np.ndarray:
    """(T, 22, 3) HumanML3D joints from Bandai global rotations (T, J, 3, 3) and positions (T, J, 3)."""
    joints = np.empty((positions.shape[0], HUMANML3D_SKELETON.n_joints, 3))
    for ours, theirs in BANDAI_JOINT_FOR.items():
        joints[:, HUMANML3D_SKELETON.index(ours)] = positions[:, indices[theirs]]
    name, base, tip, fraction = VIRTUAL_SPINE2
    spine, chest = indices[base], indices[tip]
    offset = fraction * translations[:, chest]  # (T, 3) in the Spine's frame
    joints[:, HUMANML3D_SKELETON.index(name)] = positions[:, spine] + np.einsum("tab,tb->ta", global_rotations[:, spine], offset)
    return joints
