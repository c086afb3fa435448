"""How well a lifter recovers 3D poses of a split from their 2D projections (fixed, seeded cameras).

Two errors, in millimetres, averaged over the 22 joints and the poses:
    P-MPJPE   after aligning each lifted pose to the truth by the best scale, rotation and
              translation (Procrustes): the error in the pose's shape
    MPJPE     root-relative, without alignment: both poses have the pelvis at the origin and face
              +Z, so a wrong facing or size counts too
and the tail: how many poses have a P-MPJPE over TAIL_MM.
Poses are every `frame_step`-th frame of every clip of the split, in the canonical frame
(core/kinematics.py canonical_pose). The same seed gives the same cameras, noise and dropped joints.
"""

from pathlib import Path

import numpy as np

from keymask.conditioning.lifting.lift import lift_keypoints
from keymask.conditioning.lifting.projection import (
    BODY_KEYPOINTS,
    CameraSampler,
    add_pixel_noise,
    coco18_from_joints,
    drop_joints,
    project,
)
from keymask.core.features import recover_from_ric
from keymask.core.facing import canonical_pose
from keymask.core.training.data import read_split

EVALUATION_FRAME_STEP = 10  # every half second of motion
TAIL_MM = 80.0  # a lifted key this far off is a different pose (issue 12 asks for none)


def split_poses(dataset_dir: str | Path, split: str, frame_step: int = 1, *, actors: bool = False) -> np.ndarray:
    """(N, 22, 3) float32 canonical poses: every `frame_step`-th frame of every clip of `split`,
    on the template skeleton (the features) or, with `actors`, on each actor's own (joints/; the
    joined two-action clips, which have no joints of their own, are left out)."""
    dataset_dir = Path(dataset_dir)
    poses = []
    for clip_id in read_split(dataset_dir, split):
        if actors:
            path = dataset_dir / "joints" / f"{clip_id}.npy"
            if not path.exists():
                continue
            joints = np.load(path)  # (T, 22, 3) the actor's skeleton
        else:
            joints = recover_from_ric(np.load(dataset_dir / "features" / f"{clip_id}.npy"))  # (T, 22, 3)
        poses.append(canonical_pose(joints[::frame_step]).astype(np.float32))
    if not poses:
        raise ValueError(f"The '{split}' split of {dataset_dir} has no clips.")
    return np.concatenate(poses)


def seeded_views(poses: np.ndarray, *, seed: int = 0, noise_px: float = 0.0, dropped: int = 0,
                 cameras: CameraSampler | None = None) -> tuple[np.ndarray, np.ndarray]:
    """2D views of poses (N, 22, 3): keypoints (N, 18, 2) pixels and presence (N, 18) bool.

    Cameras, noise and dropped joints draw from separate streams of `seed`, so that the views with
    noise or dropped joints are the noise-free views' cameras. Dropped joints are body joints.
    """
    cameras = cameras or CameraSampler()
    n = len(poses)
    camera = cameras.sample(np.random.default_rng([seed, 0]), n)
    keypoints = project(coco18_from_joints(poses), camera)
    if noise_px:
        keypoints = add_pixel_noise(keypoints, noise_px, np.random.default_rng([seed, 1]))
    confidence = drop_joints(np.ones((n, 18)), dropped, np.random.default_rng([seed, 2]), candidates=BODY_KEYPOINTS)
    return keypoints, confidence > 0


def procrustes_align(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(N, J, 3) predicted poses moved by the scale, rotation and translation per pose that bring
    them closest to target (N, J, 3) in the least-squares sense (no reflections)."""
    predicted, target = np.asarray(predicted, dtype=np.float64), np.asarray(target, dtype=np.float64)
    mu_p, mu_t = predicted.mean(axis=1, keepdims=True), target.mean(axis=1, keepdims=True)
    x, y = predicted - mu_p, target - mu_t
    h = np.einsum("nji,njk->nik", x, y)  # (N, 3, 3) sum over joints of x y^T
    u, s, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(np.einsum("nji,nkj->nik", vt, u)))  # det(V U^T): -1 would be a reflection
    signs = np.stack([np.ones_like(d), np.ones_like(d), d], axis=-1)  # (N, 3)
    rotation = np.einsum("nji,nj,nkj->nik", vt, signs, u)  # V diag(signs) U^T
    scale = (s * signs).sum(-1) / np.maximum((x ** 2).sum(axis=(1, 2)), 1e-12)  # (N,)
    return scale[:, None, None] * np.einsum("nij,nkj->nki", rotation, x) + mu_t


def aligned_errors(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(N,) P-MPJPE of each of (N, J, 3) poses, metres: the mean joint distance after Procrustes."""
    return np.linalg.norm(procrustes_align(predicted, target) - target, axis=-1).mean(-1)


def pose_errors(predicted: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """P-MPJPE and root-relative MPJPE in millimetres of (N, J, 3) poses, and how many poses have a
    P-MPJPE over TAIL_MM."""
    mpjpe = np.linalg.norm(predicted - target, axis=-1).mean()
    p_mpjpe = 1000 * aligned_errors(predicted, target)  # (N,)
    return {"p_mpjpe_mm": float(p_mpjpe.mean()), "mpjpe_mm": float(mpjpe * 1000),
            "p_mpjpe_over_tail": int((p_mpjpe > TAIL_MM).sum())}


def evaluate_on_poses(lifter, poses: np.ndarray, *, noise_px: float = 0.0, dropped: int = 0, seed: int = 0,
                      cameras: CameraSampler | None = None) -> dict[str, float]:
    """Errors of `lifter` (anything with .lift(keypoints, present)), read as lift_pose reads it
    (lift_keypoints), on canonical poses (N, 22, 3)."""
    keypoints, present = seeded_views(poses, seed=seed, noise_px=noise_px, dropped=dropped, cameras=cameras)
    lifted = np.concatenate([lift_keypoints(lifter, keypoints[i: i + 4096], present[i: i + 4096])
                             for i in range(0, len(poses), 4096)])
    return {"poses": len(poses), **pose_errors(lifted, poses)}
