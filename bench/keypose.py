"""Key poses on the test split: how exactly motions pass through them, and what it costs.

    python bench/keypose.py [--clips 256] [--keys 2] [--token-method both] [--rows all|template|real] [--json out.json]

For each test clip (its caption as the text, its length), key poses are taken from the clip
itself at evenly spaced frames, as 3D poses (pelvis-relative, facing +Z). Rows:
- text only: the same prompts with no keys (the key error says how far chance lands);
- fixed tokens alone (per token method: "hold", "context"): keys held as tokens, no refinement;
- fixed tokens + refinement: the motion refined to pass through the keys;
- 2D keys: each 3D key projected to COCO-18 through a seeded random camera, lifted back to 3D
  by the shipped lifter, then used as a key; its error is measured against the TRUE 3D pose.
Columns: mean joint error at the key frames (mm, pelvis-relative, turned about the vertical to
fit best: the pose alone, as a body-only key constrains it), FID against
the train split and R-precision top-3 from the shipped evaluator (or `--evaluator DIR`; features recomputed from the
delivered joints for every row, so refinement counts), and mean jerk within 5 frames of the
key frames beside the real clips' jerk at the same frames. Targets (issue 5): < 10 mm with
refinement for 3D keys; FID and R-precision no more than 10% worse than text only; jerk near
keys no worse than 1.5x real.

Real-proportion rows (issue 12; `--rows real` runs only these): the truth is the clip's own
joints on the actor's skeleton (the dataset's joints/, before the template), never rebuilt on
the template. Keys are the actor's 3D poses, delivered as the CLI does by default (`--body keys`:
the first key's proportions) and, for comparison, on the model's body (the old behaviour); 2D keys
come from a projection written here and used nowhere else (its own camera model, OpenPose's neck
below the skull base rather than between the shoulders, its own nose, eye and ear offsets from a
head frame turned with the hips, 2 px noise), lifted by the shipped lifter. Columns: key error
against the truth (mm, pose_error), limb and spine bone-direction error (degrees), bone-length
drift (largest change of any bone over the motion, mm), jerk and peak joint speed within 1.5 s
of the keys against the real clip's (ratios), the difference between the delivered joints and
the exported BVH's joints (mm), FID and R-precision. Targets: <= 10 mm and <= 3 degrees for 3D
keys on the actor's proportions; lifted PA-MPJPE <= 35 mm (none over 80), delivered <= 50 mm for
2D keys; drift < 0.1 mm; studio/export < 1 mm; jerk <= 1.2x and peak speed <= 1.3x real.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np

from keymask.conditioning.keyed_generation import (
    KeyFrame,
    KeySettings,
    body_of_keys,
    generate_with_key_poses,
    refine_motion,
)
from keymask.conditioning.poses import KeyPose3D
from keymask.conditioning.refine import bone_direction_error, pose_error
from keymask.core.facing import canonical_pose
from keymask.conditioning.lifting.evaluate import procrustes_align
from keymask.core.generation.export import delivered_joints
from keymask.core.skeleton import HUMANML3D_SKELETON
from keymask.core.features import joints_to_features, recover_from_ric
from keymask.core.generation.cleanup import CleanupSettings
from keymask.core.generation.pipeline import MotionPipeline
from keymask.core.metrics.embedding import frechet_distance, r_precision
from keymask.core.metrics.evaluation import Benchmark, EvaluationSettings, embed_motions
from keymask.core.metrics.evaluator import MotionTextEvaluator
from keymask.core.metrics.physical import foot_skating_ratio
from keymask.core.paths import default_dataset_dir
from keymask.core.text.encoders import SentenceEncoder
from keymask.resources import RESOURCES_DIR

JERK_WINDOW = 5  # frames on either side of a key
NEAR_KEYS = 30  # frames (1.5 s) on either side of a key for the real-proportion rows' jerk and speed


def key_frames(length: int, count: int) -> list[int]:
    """`count` frames spread evenly inside a motion of `length` frames, in distinct tokens."""
    return [int(round(length * (i + 1) / (count + 1))) // 4 * 4 + 2 for i in range(count)]


def key_error(joints: np.ndarray, keys: list[KeyFrame], truth: list[np.ndarray]) -> float:
    """Mean joint distance (m) at the key frames, pelvis-relative, facing aligned (pose_error)."""
    return float(np.mean([pose_error(joints[k.frame], t) for k, t in zip(keys, truth)]))


def jerk_near(joints: np.ndarray, frames: list[int], fps: float = 20.0) -> float:
    """Mean jerk magnitude (m/s^3) over the frames within JERK_WINDOW of any key frame."""
    jerk = np.linalg.norm(np.diff(joints, n=3, axis=0), axis=-1).mean(-1) * fps**3  # (T-3,)
    near = np.zeros(len(jerk), dtype=bool)
    for f in frames:
        near[max(f - JERK_WINDOW - 1, 0): max(f + JERK_WINDOW - 1, 0)] = True
    return float(jerk[near].mean())


def lifted_keys(true_poses: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """Each pose projected to COCO-18 through a random camera and lifted back by the shipped lifter."""
    from keymask.conditioning.lifting.lift import lift_pose
    from keymask.conditioning.lifting.projection import CameraSampler, coco18_from_joints, project
    from keymask.conditioning.poses import Pose2D

    centred = np.stack([pose - pose[0] for pose in true_poses])  # (K, 22, 3): the cameras aim at the pelvis
    cameras = CameraSampler().sample(rng, len(centred))
    pixels = project(coco18_from_joints(centred), cameras)  # (K, 18, 2)
    return [lift_pose(Pose2D(p, np.ones(18), tuple(size))).joints for p, size in zip(pixels, cameras.image_size)]


def near_keys(n_frames: int, frames: list[int], radius: int = NEAR_KEYS) -> np.ndarray:
    near = np.zeros(n_frames, dtype=bool)
    for f in frames:
        near[max(f - radius, 0): f + radius + 1] = True
    return near


def jerk_and_peak_speed(joints: np.ndarray, frames: list[int], fps: float = 20.0) -> tuple[float, float]:
    """Mean jerk (m/s^3) and the fastest joint speed (m/s) over the frames within 1.5 s of the keys."""
    speed = np.linalg.norm(np.diff(joints, axis=0), axis=-1) * fps  # (T-1, J)
    jerk = np.linalg.norm(np.diff(joints, n=3, axis=0), axis=-1).mean(-1) * fps**3  # (T-3,)
    near = near_keys(len(joints), frames)
    return float(jerk[near[1:-2]].mean()), float(speed[near[1:]].max())


def bone_drift_mm(joints: np.ndarray) -> float:
    """The largest change of any bone's length over the motion, mm."""
    parents = list(HUMANML3D_SKELETON.parents[1:])
    lengths = np.linalg.norm(joints[:, 1:] - joints[:, parents], axis=-1)  # (T, J-1)
    return 1000 * float(np.ptp(lengths, axis=0).max())


def independent_coco18(pose: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, tuple[int, int]]:
    """(18, 2) pixels of one pose (22, 3) through a camera and keypoint conventions of this file's
    own (see the module docstring), and the image size."""
    index = HUMANML3D_SKELETON.index
    pose = pose - pose[0]
    points = np.empty((18, 3))
    limbs = ("right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow", "left_wrist",
             "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle")
    points[2:14] = pose[[index(n) for n in limbs]]
    points[1] = pose[index("neck")] + 0.35 * (pose[index("spine3")] - pose[index("neck")])
    up = pose[index("head")] - pose[index("neck")]
    up /= np.linalg.norm(up)
    left = pose[index("left_hip")] - pose[index("right_hip")]
    forward = np.cross(left, up)
    forward /= np.linalg.norm(forward)
    left = np.cross(up, forward)
    head = pose[index("head")]
    for keypoint, (f, u, l) in {0: (0.095, 0.02, 0.0), 14: (0.075, 0.055, -0.034), 15: (0.075, 0.055, 0.034),
                                16: (-0.01, 0.04, -0.08), 17: (-0.01, 0.04, 0.08)}.items():
        points[keypoint] = head + f * forward + u * up + l * left
    width, height = 640, 480
    azimuth, elevation = rng.uniform(-np.pi / 2, np.pi / 2), rng.uniform(-0.15, 0.45)
    distance, focal = rng.uniform(2.5, 5.0), rng.uniform(500.0, 900.0)
    eye = distance * np.array([np.sin(azimuth) * np.cos(elevation), np.sin(elevation), np.cos(azimuth) * np.cos(elevation)])
    z_axis = -eye / np.linalg.norm(eye)
    x_axis = np.cross(z_axis, [0.0, 1.0, 0.0])
    x_axis /= np.linalg.norm(x_axis)
    y_axis = np.cross(z_axis, x_axis)
    camera = (points - eye) @ np.stack([x_axis, y_axis, z_axis]).T  # (18, 3) camera x right, y down, z ahead
    pixels = focal * camera[:, :2] / camera[:, 2:] + [width / 2, height / 2]
    return pixels + rng.normal(0.0, 2.0, pixels.shape), (width, height)


def lifted_independently(true_poses: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    from keymask.conditioning.lifting.lift import lift_pose
    from keymask.conditioning.poses import Pose2D

    lifted = []
    for pose in true_poses:
        pixels, size = independent_coco18(pose, rng)
        lifted.append(lift_pose(Pose2D(pixels, np.ones(18), size)).joints)
    return lifted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=256, help="test clips used (default: %(default)s; 0 = all)")
    parser.add_argument("--keys", type=int, default=2, help="key poses per clip (default: %(default)s)")
    parser.add_argument("--token-method", choices=("hold", "context", "both"), default="both")
    parser.add_argument("--span", type=int, default=KeySettings().span,
                        help="context tokens held on either side of each key's token (default: %(default)s)")
    parser.add_argument("--radius", type=int, default=KeySettings().refine_radius,
                        help="frames over which refinement fades out (default: %(default)s)")
    parser.add_argument("--no-2d", action="store_true", help="skip the projected-and-lifted rows")
    parser.add_argument("--rows", choices=("all", "template", "real", "path"), default="all",
                        help="all: the template rows (issue 5) and then the real-proportion rows (issue 12); "
                             "or one kind: template, real, or the root-path rows (default: %(default)s)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split", choices=("test", "val"), default="test",
                        help="clips of this split (val: to choose a method without looking at the test split)")
    parser.add_argument("--json", default=None, help="also write the table as JSON here")
    parser.add_argument("--evaluator", default=str(RESOURCES_DIR / "models" / "evaluator"),
                        help="evaluator folder for FID and R-precision (default: the shipped one)")
    args = parser.parse_args()
    started = time.perf_counter()

    pipeline = MotionPipeline.from_folder(RESOURCES_DIR / "models" / "default")
    evaluator = MotionTextEvaluator.from_pretrained(args.evaluator)
    bench = Benchmark(evaluator, SentenceEncoder(), default_dataset_dir(),
                      EvaluationSettings(multimodality_texts=0, seed=args.seed, split=args.split))
    clips = bench.clips
    chosen = np.arange(len(clips.clip_ids))
    if args.clips and args.clips < len(chosen):
        chosen = np.sort(np.random.default_rng(args.seed).choice(len(chosen), args.clips, replace=False))
    prompts = [clips.captions[i] for i in chosen]
    real_joints = [recover_from_ric(clips.features[i]) for i in chosen]
    lengths = [len(j) for j in real_joints]
    frames = [key_frames(n, args.keys) for n in lengths]
    truth = [[j[f] for f in fs] for j, fs in zip(real_joints, frames)]
    keys_3d = [[KeyFrame(KeyPose3D(canonical_pose(p)), f) for p, f in zip(ps, fs)] for ps, fs in zip(truth, frames)]
    text = bench.test_text[chosen]

    def scores(name: str, motions: list[np.ndarray], keys: list[list[KeyFrame]] | None) -> dict:
        features = [joints_to_features(np.concatenate([m, m[-1:]])) for m in motions]
        embedded = embed_motions(evaluator, features)
        row = {"row": name,
               "key error mm": 1000 * float(np.mean([key_error(m, k, t) for m, k, t in
                                                     zip(motions, keys or keys_3d, truth)])),
               "FID": frechet_distance(embedded, bench.train_motion),
               "R-precision top-3": float(r_precision(text, embedded, group_size=32, seed=args.seed)[2]),
               "jerk near keys": float(np.mean([jerk_near(m, fs) for m, fs in zip(motions, frames)]))}
        print(f"  {name}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items() if k != "row"), flush=True)
        return row

    def batched(keys, key_settings: KeySettings) -> list[np.ndarray]:
        out = []
        for start in range(0, len(prompts), args.batch):
            part = slice(start, start + args.batch)
            result = generate_with_key_poses(pipeline, prompts[part], keys[part], frames=lengths[part],
                                             seed=args.seed + start, key_settings=key_settings)
            out += [m.joints for m in result.motions]
        return out

    if args.rows == "real":
        real_rows(args, pipeline, evaluator, bench, chosen, prompts, lengths, frames, text, started)
        return
    if args.rows == "path":
        path_rows(args, pipeline, evaluator, bench, real_joints, prompts, lengths, text, started)
        return

    rows = [scores("real clips", real_joints, None)]
    text_only = []
    for start in range(0, len(prompts), args.batch):
        part = slice(start, start + args.batch)
        result = pipeline(prompts[part], frames=lengths[part], seed=args.seed + start, cleanup=CleanupSettings())
        text_only += [m.joints for m in result.motions]
    rows.append(scores("text only", text_only, None))

    methods = ["hold", "context"] if args.token_method == "both" else [args.token_method]
    for method in methods:
        fixed = batched(keys_3d, KeySettings(token_method=method, refine=False, span=args.span))
        rows.append(scores(f"3D keys, fixed tokens alone ({method})", fixed, None))
        refined = [refine_motion(m, k, args.radius) for m, k in zip(fixed, keys_3d)]
        rows.append(scores(f"3D keys, fixed tokens + refinement ({method})", refined, None))

    if not args.no_2d:
        rng = np.random.default_rng(args.seed)
        keys_2d = [[KeyFrame(KeyPose3D(p), k.frame) for p, k in zip(lifted_keys(ps, rng), ks)]
                   for ps, ks in zip(truth, keys_3d)]
        lift_error = 1000 * float(np.mean([pose_error(k.pose.joints, t) for ks, ts in zip(keys_2d, truth)
                                           for k, t in zip(ks, ts)]))
        print(f"  lifted key poses against the true 3D poses: {lift_error:.1f} mm")
        method = methods[-1]
        fixed = batched(keys_2d, KeySettings(token_method=method, refine=False, span=args.span))
        rows.append(scores(f"2D keys (projected, lifted), fixed tokens alone ({method})", fixed, None))
        refined = [refine_motion(m, k, args.radius) for m, k in zip(fixed, keys_2d)]
        rows.append(scores(f"2D keys (projected, lifted), fixed tokens + refinement ({method})", refined, None))

    base = rows[1]
    print(f"\nkey poses, {args.split} split: {len(prompts)} clips x {args.keys} keys, seed {args.seed}, "
          f"{time.perf_counter() - started:.0f} s\n")
    print("| row | key error (mm) | FID (vs train) | R-precision top-3 | jerk near keys (m/s³) | jerk / real |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['row']} | {row['key error mm']:.1f} | {row['FID']:.3f} | {row['R-precision top-3']:.3f} | "
              f"{row['jerk near keys']:.1f} | {row['jerk near keys'] / rows[0]['jerk near keys']:.2f} |")
    print("\nFID / text-only and R-precision / text-only for each keyed row: " + "; ".join(
        f"{r['row']}: {r['FID'] / base['FID']:.2f}, {r['R-precision top-3'] / base['R-precision top-3']:.2f}"
        for r in rows[2:]))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"rows": rows, "clips": len(prompts), "keys": args.keys, "seed": args.seed}, handle, indent=1)
    if args.rows == "all":  # its JSON goes beside the template rows' (<name>_real.json)
        if args.json:
            args.json = str(Path(args.json).with_name(Path(args.json).stem + "_real.json"))
        real_rows(args, pipeline, evaluator, bench, chosen, prompts, lengths, frames, text, started)


def real_rows(args, pipeline, evaluator, bench, chosen, prompts, lengths, frames, text, started) -> None:
    """The rows measured against the actors' own skeletons (module docstring)."""
    dataset = default_dataset_dir()
    actor = [np.load(dataset / "joints" / f"{bench.clips.clip_ids[i]}.npy")[:n].astype(np.float64)
             for i, n in zip(chosen, lengths)]  # (T, 22, 3) metres, the actor's skeleton
    truth = [[a[f] for f in fs] for a, fs in zip(actor, frames)]
    keys_3d = [[KeyFrame(KeyPose3D(canonical_pose(p)), f) for p, f in zip(ps, fs)] for ps, fs in zip(truth, frames)]
    real_motion = [jerk_and_peak_speed(a, fs) for a, fs in zip(actor, frames)]

    def generate(keys, bodies) -> list[np.ndarray]:
        out = []
        for i in range(len(prompts)):  # one at a time: each motion has its own body
            result = generate_with_key_poses(pipeline, [prompts[i]], [keys[i]], frames=lengths[i],
                                             seed=args.seed + i, body=bodies[i],
                                             key_settings=KeySettings(refine_radius=args.radius, span=args.span))
            out.append(result.motions[0].joints.astype(np.float64))
        return out

    def row(name: str, motions: list[np.ndarray], keys) -> dict:
        features = [joints_to_features(np.concatenate([m, m[-1:]])) for m in motions]
        embedded = embed_motions(evaluator, features)
        errors = [(pose_error(m[k.frame], t), bone_direction_error(m[k.frame], t))
                  for m, ks, ts in zip(motions, keys, truth) for k, t in zip(ks, ts)]
        motion_stats = np.array([jerk_and_peak_speed(m, fs) for m, fs in zip(motions, frames)])  # (N, 2)
        real = np.array(real_motion)
        result = {"row": name, "key error mm": 1000 * float(np.mean([e[0] for e in errors])),
                  "key error max mm": 1000 * float(np.max([e[0] for e in errors])),
                  "bone direction deg": float(np.mean([e[1] for e in errors])),
                  "bone drift mm": max(bone_drift_mm(m) for m in motions),
                  "jerk / real": float(motion_stats[:, 0].mean() / real[:, 0].mean()),
                  "peak speed / real": float(np.median(motion_stats[:, 1] / real[:, 1])),
                  "studio vs export mm": 1000 * max(float(np.abs(delivered_joints(m) - m).max()) for m in motions),
                  "FID": frechet_distance(embedded, bench.train_motion),
                  "R-precision top-3": float(r_precision(text, embedded, group_size=32, seed=args.seed)[2])}
        print(f"  {name}: " + ", ".join(f"{k} {v:.3f}" for k, v in result.items() if k != "row"), flush=True)
        return result

    rows = []
    print(f"  real clips (actors' skeletons): jerk {np.mean([r[0] for r in real_motion]):.1f} m/s^3, "
          f"peak speed {np.median([r[1] for r in real_motion]):.2f} m/s")
    text_only = [pipeline([prompts[i]], frames=lengths[i], seed=args.seed + i, cleanup=CleanupSettings()).motions[0].joints
                 .astype(np.float64) for i in range(len(prompts))]
    rows.append(row("text only (no keys: chance)", text_only, keys_3d))
    own_bodies = [body_of_keys(ks) for ks in keys_3d]  # the CLI's --body keys
    rows.append(row("actor's 3D keys, on the first key's body (--body keys)", generate(keys_3d, own_bodies), keys_3d))
    rows.append(row("actor's 3D keys, on the model's body (--body model)", generate(keys_3d, [None] * len(prompts)),
                    keys_3d))
    rng = np.random.default_rng(args.seed)
    lifted = [lifted_independently(ps, rng) for ps in truth]
    flat_lifted = np.stack([p for ps in lifted for p in ps])
    flat_truth = np.stack([canonical_pose(p) for ps in truth for p in ps])
    pa = 1000 * np.linalg.norm(procrustes_align(flat_lifted, flat_truth) - flat_truth, axis=-1).mean(-1)  # (K,)
    rr = 1000 * np.array([pose_error(a, b) for a, b in zip(flat_lifted, flat_truth)])
    print(f"  lifted from the independent projection: PA-MPJPE {pa.mean():.1f} mm (max {pa.max():.1f}, "
          f"{int((pa > 80).sum())} over 80 mm), root-relative {rr.mean():.1f} mm")
    keys_2d = [[KeyFrame(KeyPose3D(p, source={"lifter": "shipped"}), k.frame) for p, k in zip(ps, ks)]
               for ps, ks in zip(lifted, keys_3d)]
    rows.append(row("2D keys (independent projection, lifted), on the lifted body (--body keys)",
                    generate(keys_2d, [body_of_keys(ks) for ks in keys_2d]), keys_2d))
    rows.append(row("2D keys (independent projection, lifted), model's body (--body model)",
                    generate(keys_2d, [None] * len(prompts)), keys_2d))
    print(f"\nkey poses on real proportions: {len(prompts)} clips x {args.keys} keys, seed {args.seed}, "
          f"{time.perf_counter() - started:.0f} s\n")
    columns = [k for k in rows[0] if k != "row"]
    print("| row | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for r in rows:
        print(f"| {r['row']} | " + " | ".join(f"{r[c]:.3g}" for c in columns) + " |")
    print(f"\nlifted 2D keys (independent projection): PA-MPJPE {pa.mean():.1f} mm, max {pa.max():.1f} mm, "
          f"root-relative {rr.mean():.1f} mm")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"rows": rows, "lift_pa_mpjpe_mm": float(pa.mean()), "lift_pa_max_mm": float(pa.max()),
                       "lift_root_relative_mm": float(rr.mean()), "clips": len(prompts), "keys": args.keys,
                       "seed": args.seed}, handle, indent=1)


def path_rows(args, pipeline, evaluator, bench, real_joints, prompts, lengths, text, started) -> None:
    """Each test clip's own pelvis path (a point every 0.25 s, with its times) given as a --path."""
    from keymask.conditioning.keyed_generation import refine_motion
    from keymask.conditioning.paths import RootPath

    paths = [RootPath(j[::5, 0][:, [0, 2]], np.arange(0, len(j), 5) / 20.0) for j in real_joints]

    def row(name: str, motions: list[np.ndarray]) -> dict:
        features = [joints_to_features(np.concatenate([m, m[-1:]])) for m in motions]
        embedded = embed_motions(evaluator, features)
        error = [np.linalg.norm(m[:, 0, [0, 2]] - p.positions(len(m), 20.0), axis=-1).mean() for m, p in zip(motions, paths)]
        result = {"row": name, "pelvis to path cm": 100 * float(np.mean(error)), "FID": frechet_distance(embedded, bench.train_motion),
                  "R-precision top-3": float(r_precision(text, embedded, group_size=32, seed=args.seed)[2]),
                  "foot skating": float(np.mean([foot_skating_ratio(m) for m in motions]))}
        print(f"  {name}: " + ", ".join(f"{k} {v:.3f}" for k, v in result.items() if k != "row"), flush=True)
        return result

    rows = [row("real clips", real_joints)]
    text_only = []
    for start in range(0, len(prompts), args.batch):
        part = slice(start, start + args.batch)
        result = pipeline(prompts[part], frames=lengths[part], seed=args.seed + start, cleanup=CleanupSettings())
        text_only += [m.joints.astype(np.float64) for m in result.motions]
    rows.append(row("text only (no path)", text_only))
    rows.append(row("text + the clip's root path (--path)", [refine_motion(m, [], path=p) for m, p in zip(text_only, paths)]))
    print(f"\nroot paths, {args.split} split: {len(prompts)} clips, seed {args.seed}, {time.perf_counter() - started:.0f} s\n")
    print("| row | pelvis to path (cm) | FID (vs train) | R-precision top-3 | foot skating ratio |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['row']} | {r['pelvis to path cm']:.2f} | {r['FID']:.3f} | {r['R-precision top-3']:.3f} | "
              f"{r['foot skating']:.3f} |")
    print(f"\nFID with the path / text only: {rows[2]['FID'] / rows[1]['FID']:.2f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"rows": rows, "clips": len(prompts), "seed": args.seed}, handle, indent=1)


if __name__ == "__main__":
    main()
