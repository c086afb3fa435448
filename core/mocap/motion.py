"""A joint tree's motion as local rotations and translations: built from a BVH or an ASF/AMC pair,
resampled in time, and turned into global joint positions by FK.

Axes and units: the source file's own (no conversion here). Shapes: T frames, J joints.
FK (as core/bvh/kinematics.py): R_j = R_parent @ L_j and p_j = p_parent + R_parent @ t_j.
An ASF bone becomes two joints: `<bone>.start` at its parent's end, carrying the bone's
rotation C @ M @ C^-1 (zero translation), and `<bone>` at the bone's end (identity rotation,
translation direction * length), so each source joint named by a bone is that bone's end.
A BVH End Site becomes a joint `<joint>.end` (appended after the file's joints).
Resampling (as the Bandai retargeting always did): slerp of every local rotation, linear
interpolation of translations, then FK, so bones keep their lengths.
"""

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from ..bvh.format import BvhMotion
from ..bvh.kinematics import forward_kinematics, local_rotations, local_translations
from .asf_amc import ROOT, AmcMotion, AsfSkeleton, bone_local_rotations, root_transforms
from .joint_names import END_SITE_SUFFIX

BONE_START_SUFFIX = ".start"


@dataclass(frozen=True)
class TreeMotion:
    names: tuple[str, ...]
    parents: tuple[int, ...]  # parents precede children; -1 for the root
    rotations: np.ndarray = field(repr=False)  # (T, J, 3, 3) local
    translations: np.ndarray = field(repr=False)  # (T, J, 3) local, file units
    frame_time: float  # seconds per frame

    @property
    def n_frames(self) -> int:
        return self.rotations.shape[0]

    def index(self, name: str) -> int:
        return self.names.index(name)


def tree_from_bvh(motion: BvhMotion) -> TreeMotion:
    """Local transforms of a BVH: rotation channels, OFFSET or position channels (see below).

    A joint's position channels give its translation. They are absolute (replace the OFFSET,
    as in the Bandai files, whose every joint repeats its OFFSET in them) unless they are
    relative: the OFFSET is non-zero and the channels' median lies nearer zero than the
    OFFSET (the iClone files: root OFFSET (0, 105.2, 0) and channels near 0); then the OFFSET
    is added.
    """
    skeleton = motion.skeleton
    offsets = skeleton.offsets_array()  # (J, 3)
    translations = np.broadcast_to(offsets, (motion.n_frames, skeleton.n_joints, 3)).copy()
    from_channels = local_translations(motion)  # (T, J, 3): channels where present, else OFFSET
    for j, joint in enumerate(skeleton.joints):
        if not joint.has_position:
            continue
        median = np.median(from_channels[:, j], axis=0)  # (3,)
        relative = np.linalg.norm(offsets[j]) > 0 and np.linalg.norm(median) < np.linalg.norm(median - offsets[j])
        translations[:, j] = from_channels[:, j] + offsets[j] if relative else from_channels[:, j]
    tree = TreeMotion(skeleton.names, skeleton.parents, local_rotations(motion), translations, motion.frame_time)
    return _with_end_sites(tree, motion)


def _with_end_sites(tree: TreeMotion, motion: BvhMotion) -> TreeMotion:
    """The tree plus one joint `<joint>.end` per End Site (identity rotation, its OFFSET)."""
    ends = [(j, joint) for j, joint in enumerate(motion.skeleton.joints) if joint.end_site is not None]
    if not ends:
        return tree
    n_frames = tree.n_frames
    rotations = np.broadcast_to(np.eye(3), (n_frames, len(ends), 3, 3))
    translations = np.broadcast_to(np.asarray([joint.end_site for _, joint in ends]), (n_frames, len(ends), 3))
    return TreeMotion(
        tree.names + tuple(joint.name + END_SITE_SUFFIX for _, joint in ends),
        tree.parents + tuple(j for j, _ in ends),
        np.concatenate([tree.rotations, rotations], axis=1),
        np.concatenate([tree.translations, translations], axis=1),
        tree.frame_time,
    )


def tree_from_amc(skeleton: AsfSkeleton, motion: AmcMotion, frame_time: float) -> TreeMotion:
    """Local transforms of an ASF/AMC pair: the root, then two joints per bone (module docstring)."""
    n_frames = motion.n_frames
    names, parents = [ROOT], [-1]
    end_joint = {-1: 0}  # bone index -> joint index of its end (-1: the root)
    for b, bone in enumerate(skeleton.bones):
        names.append(bone.name + BONE_START_SUFFIX)
        parents.append(end_joint[bone.parent])
        names.append(bone.name)
        parents.append(len(names) - 2)
        end_joint[b] = len(names) - 1
    rotations = np.broadcast_to(np.eye(3), (n_frames, len(names), 3, 3)).copy()
    translations = np.zeros((n_frames, len(names), 3))
    rotations[:, 0], translations[:, 0] = root_transforms(skeleton, motion)
    local = bone_local_rotations(skeleton, motion)  # (T, B, 3, 3)
    for b, bone in enumerate(skeleton.bones):
        rotations[:, end_joint[b] - 1] = local[:, b]
        translations[:, end_joint[b]] = np.asarray(bone.direction) * bone.length
    return TreeMotion(tuple(names), tuple(parents), rotations, translations, frame_time)


def keep_joints(tree: TreeMotion, needed: set[str]) -> TreeMotion:
    """The subtree of the `needed` joints and their ancestors (fewer joints to resample)."""
    keep = set()
    for name in needed:
        joint = tree.index(name)
        while joint >= 0 and joint not in keep:
            keep.add(joint)
            joint = tree.parents[joint]
    kept = sorted(keep)
    new_index = {old: new for new, old in enumerate(kept)}
    parents = tuple(new_index.get(tree.parents[old], -1) for old in kept)
    return TreeMotion(
        tuple(tree.names[old] for old in kept), parents, tree.rotations[:, kept], tree.translations[:, kept], tree.frame_time
    )


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


def resample(tree: TreeMotion, fps: float) -> TreeMotion:
    """The motion at `fps`, sampled from its first frame to its last."""
    times = resample_times(tree.n_frames, tree.frame_time, fps)  # (T',)
    rotations, translations = resample_locals(tree.rotations, tree.translations, tree.frame_time, times)
    return TreeMotion(tree.names, tree.parents, rotations, translations, 1.0 / fps)


def global_positions(tree: TreeMotion) -> np.ndarray:
    """(T, J, 3) global joint positions, file units."""
    return forward_kinematics(tree.parents, tree.rotations, tree.translations)[1]
