"""Training the pose lifter on the train split's poses, seen through fresh random cameras.

Every `frame_step`-th frame of every training clip (the mirrored clips included) is one canonical
pose, on the actor's own skeleton (`actors`; else the template's). Each batch gives its poses new
proportions (every bone scaled, the whole body and each limb by its own random factor), projects
them through new random cameras (CameraSampler) and spoils the views as a detector or a hand
drawing would: keypoints placed as different detectors place them (OpenPose's neck anywhere from
between the shoulders to the neck joint, the face points moved within a few centimetres, the hip
points lower and wider), pixel noise of a random size per pose, face points hidden when they turn
away from the camera, and a few random keypoints dropped. The loss is the mean per-joint distance
(MPJPE, metres) to the root-relative canonical pose with its new proportions.

With `hard_poses` > 1, poses that a reference lifter lifts badly (kicks towards the camera, lying
down, boxing crouches: the rare poses behind the error's tail) appear more often in every epoch:
each pose's error is measured once, on views drawn as the batches draw them, and a pose is
repeated error / median error times, up to `hard_poses` (difficulty_repeats).

Every `val_every` steps the run stops, measures the val split (evaluate.py, fixed cameras) and
logs it to `<output>/lifter_val.csv` (and .png); the training loss goes to `<output>/lifter.csv`.
The model is saved as `<output>/lifter/`. One process on the CPU: the lifter is small.
"""

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from keymask.conditioning.lifting.evaluate import (
    EVALUATION_FRAME_STEP,
    aligned_errors,
    evaluate_on_poses,
    split_poses,
)
from keymask.conditioning.lifting.lift import SHIPPED_LIFTER
from keymask.conditioning.lifting.model import LifterConfig, NumpyPoseLifter, PoseLifter, lifter_inputs
from keymask.conditioning.lifting.projection import (
    CameraSampler,
    add_pixel_noise,
    coco18_from_joints,
    drop_joints,
    head_frame,
    occluded_face,
    project,
)
from keymask.core.skeleton import HUMANML3D_SKELETON
from keymask.core.training.data import read_split
from keymask.core.training.distributed import Distributed
from keymask.core.training.log import TrainingLog
from keymask.core.training.loop import RunConfig, run_training, shuffled_batches
from keymask.core.training.state import STATE_FILE, load_weights

NAME = "lifter"


@dataclass(kw_only=True)
class LifterTrainingConfig(RunConfig):
    dataset_dir: str
    model: LifterConfig = field(default_factory=LifterConfig)
    cameras: CameraSampler = field(default_factory=CameraSampler)
    iterations: int = 15000
    batch_size: int = 256
    lr: float = 1e-3
    frame_step: int = 3  # training poses: every 3rd frame (0.15 s)
    max_noise_px: float = 8.0  # each pose's pixel noise has a sigma drawn from [0, max]
    face_occlusion: float = 0.5  # chance that a pose loses the face points turned away from the camera
    drop_probability: float = 0.5  # chance that a pose loses some random keypoints ...
    max_dropped: int = 4  # ... 1 to this many, of all 18
    actors: bool = True  # poses on each actor's own skeleton (the dataset's joints/), not the template
    body_scale: float = 0.12  # each pose's body is scaled by a factor within 1 +- this ...
    limb_scale: float = 0.08  # ... and each limb and the spine by its own factor within 1 +- this
    keypoint_jitter: bool = True  # place the neck, face and hip points as different detectors do
    hard_poses: int = 1  # up to this many repeats per epoch of poses the reference lifter gets wrong (1: none)
    hard_pose_reference: str | None = None  # the lifter folder that measures that (None: the shipped lifter)
    val_every: int = 1000
    val_frame_step: int = EVALUATION_FRAME_STEP

    def resumable_settings(self) -> dict:
        values = super().resumable_settings()
        for key in ("val_every", "val_frame_step"):  # where and how often to measure, not how to train
            values.pop(key)
        return values


# Joints whose bone (from the parent) each limb factor scales, by limb.
LIMBS = {
    "left leg": ("left_knee", "left_ankle", "left_foot"), "right leg": ("right_knee", "right_ankle", "right_foot"),
    "left arm": ("left_shoulder", "left_elbow", "left_wrist"), "right arm": ("right_shoulder", "right_elbow", "right_wrist"),
    "spine": ("spine1", "spine2", "spine3", "neck", "head"),
    "hips": ("left_hip", "right_hip"), "shoulders": ("left_collar", "right_collar"),
}


def new_proportions(poses: np.ndarray, config: LifterTrainingConfig, rng: np.random.Generator) -> np.ndarray:
    """(B, J, 3) the poses with every bone's direction kept and its length scaled (module docstring)."""
    skeleton = HUMANML3D_SKELETON
    n = len(poses)
    factors = np.repeat(rng.uniform(1 - config.body_scale, 1 + config.body_scale, (n, 1)), skeleton.n_joints, axis=1)
    for joints in LIMBS.values():
        factors[:, [skeleton.index(j) for j in joints]] *= rng.uniform(1 - config.limb_scale, 1 + config.limb_scale, (n, 1))
    out = np.zeros_like(poses, dtype=np.float64)
    for child, parent in enumerate(skeleton.parents):
        if parent >= 0:
            out[:, child] = out[:, parent] + factors[:, child, None] * (poses[:, child] - poses[:, parent])
    return out


def detector_keypoints(poses: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(B, 18, 3) COCO-18 points of poses (B, J, 3), placed as a random detector would place them."""
    points = coco18_from_joints(poses)  # (B, 18, 3)
    n = len(poses)
    index = HUMANML3D_SKELETON.index
    neck_joint = poses[:, index("neck")]
    points[:, 1] += rng.uniform(0.0, 0.7, (n, 1)) * (neck_joint - points[:, 1])  # shoulders' middle -> neck joint
    forward, up, left = head_frame(poses)  # (B, 3) each
    head_shift = rng.normal(0.0, 0.015, (n, 3))
    for keypoint in (0, 14, 15, 16, 17):
        shift = head_shift + rng.normal(0.0, 0.008, (n, 3))  # (forward, up, left) metres
        points[:, keypoint] += shift[:, :1] * forward + shift[:, 1:2] * up + shift[:, 2:] * left
    across = poses[:, index("left_hip")] - poses[:, index("right_hip")]
    across /= np.linalg.norm(across, axis=-1, keepdims=True)
    wider, lower = rng.uniform(-0.01, 0.03, (n, 1)), rng.uniform(-0.01, 0.05, (n, 1))
    points[:, 11] += wider * across - lower * up  # left hip
    points[:, 8] += -wider * across - lower * up  # right hip
    return points


def training_batch(poses: np.ndarray, config: LifterTrainingConfig, rng: np.random.Generator):
    """Inputs (B, 3K) float32 and targets (B, J, 3) float32 of canonical poses (B, J, 3)."""
    n = len(poses)
    if config.body_scale or config.limb_scale:
        poses = new_proportions(poses, config, rng)
    points = detector_keypoints(poses, rng) if config.keypoint_jitter else coco18_from_joints(poses)  # (B, 18, 3)
    camera = config.cameras.sample(rng, n)
    keypoints = add_pixel_noise(project(points, camera), rng.uniform(0.0, config.max_noise_px, n), rng)
    confidence = np.ones((n, 18))
    hidden = occluded_face(points, camera) & (rng.random(n) < config.face_occlusion)[:, None]
    confidence[hidden] = 0.0
    dropped = np.where(rng.random(n) < config.drop_probability, rng.integers(1, config.max_dropped + 1, n), 0)
    confidence = drop_joints(confidence, dropped, rng, candidates=tuple(range(18)))
    inputs = lifter_inputs(keypoints, confidence > 0)
    return torch.from_numpy(inputs), torch.from_numpy(np.asarray(poses, dtype=np.float32))


def difficulty_repeats(poses: np.ndarray, reference, config: LifterTrainingConfig, seed: int,
                       views: int = 2, chunk: int = 8192) -> np.ndarray:
    """(N,) int repeats per epoch of each canonical pose (N, J, 3): its P-MPJPE under `reference`
    (anything with .forward(inputs) -> joints), averaged over `views` training views, divided by the
    median over all poses, rounded and kept within 1..config.hard_poses."""
    rng = np.random.default_rng([seed, 17])
    errors = np.zeros(len(poses))
    for _ in range(views):
        for start in range(0, len(poses), chunk):
            inputs, target = training_batch(poses[start: start + chunk], config, rng)
            lifted = np.asarray(reference.forward(inputs.numpy()), dtype=np.float64)
            target = target.numpy().astype(np.float64)
            errors[start: start + chunk] += aligned_errors(lifted, target)
    ratio = errors / max(float(np.median(errors)), 1e-9)
    return np.clip(np.rint(ratio), 1, config.hard_poses).astype(np.int64)


def mpjpe_loss(network: torch.nn.Module, batch) -> dict[str, torch.Tensor]:
    inputs, target = batch
    predicted = network(inputs)  # (B, J, 3)
    # The pelvis is 0 in both: leaving it out keeps the norm's gradient away from 0.
    loss = (predicted[:, 1:] - target[:, 1:]).norm(dim=-1).mean()
    return {"loss": loss}


def saved_step(output: Path) -> int:
    """The step the run in `output` has reached (0 when it has not started)."""
    path = Path(output) / STATE_FILE
    return int(torch.load(path, map_location="cpu", weights_only=True)["step"]) if path.exists() else 0


def train_lifter(config: LifterTrainingConfig, progress: bool = True, stop_after_seconds: float | None = None,
                 stop_at_step: int | None = None) -> PoseLifter:
    """Train (or continue) the lifter in `config.output_dir` (saved as `<output>/lifter/`)."""
    if config.val_every % config.log_every:
        raise ValueError(f"val_every ({config.val_every}) must be a multiple of log_every ({config.log_every}): "
                         "the loop averages the logged loss from its last stop.")
    deadline = None if stop_after_seconds is None else time.monotonic() + stop_after_seconds
    output = Path(config.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    poses = split_poses(config.dataset_dir, "train", config.frame_step, actors=config.actors)
    has_val = bool(read_split(Path(config.dataset_dir), "val"))  # a small test build may have none
    val_poses = split_poses(config.dataset_dir, "val", config.val_frame_step, actors=config.actors) if has_val else None
    torch.manual_seed(config.seed)
    model = PoseLifter(config.model)

    def make_batch(indices: torch.Tensor):
        # The views draw from a generator seeded by torch's, which the loop saves and restores.
        rng = np.random.default_rng(int(torch.randint(0, 2 ** 62, ())))
        return training_batch(poses[indices.numpy()], config, rng)

    repeats = None
    if config.hard_poses > 1:
        reference = NumpyPoseLifter.from_folder(config.hard_pose_reference or SHIPPED_LIFTER)
        repeats = difficulty_repeats(poses, reference, config, config.seed)
        if progress:
            print(f"hard poses: {(repeats > 1).sum()} of {len(poses)} repeated, {repeats.sum()} poses per epoch",
                  flush=True)
    batches = shuffled_batches(len(poses), config.batch_size, make_batch, config.seed, repeats)
    val_log = TrainingLog(output, f"{NAME}_val")
    end = config.iterations if stop_at_step is None else min(stop_at_step, config.iterations)
    step = saved_step(output)
    if step >= end and step > 0:  # nothing left to train: hand back what was trained
        load_weights(output, model)
    while step < end:
        chunk_end = min((step // config.val_every + 1) * config.val_every, end)
        left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        model = run_training(NAME, model, batches, mpjpe_loss, config.loop_settings(), output, Distributed(),
                             config.resumable_settings(), progress=progress, stop_after_seconds=left,
                             stop_at_step=chunk_end)
        step = saved_step(output)
        if step < chunk_end:  # out of time
            break
        if val_poses is not None and (step % config.val_every == 0 or step == config.iterations):
            validate(model, val_poses, val_log, step, progress)
    return model.eval()


def validate(model: PoseLifter, val_poses: np.ndarray, log: TrainingLog, step: int, progress: bool) -> dict:
    clean = evaluate_on_poses(model, val_poses)
    noisy = evaluate_on_poses(model, val_poses, noise_px=10.0)
    dropped = evaluate_on_poses(model, val_poses, dropped=3)
    values = {"p_mpjpe_mm": clean["p_mpjpe_mm"], "mpjpe_mm": clean["mpjpe_mm"],
              "noise10_mpjpe_mm": noisy["mpjpe_mm"], "dropped3_mpjpe_mm": dropped["mpjpe_mm"]}
    log.add(step, **values)
    log.save()
    if progress:
        print(f"step {step}: val " + ", ".join(f"{k} {v:.1f}" for k, v in values.items()), flush=True)
    return values
